"""Time-keeping pieces of the ``contention`` timing model: exact alarms and the shared channel.

* :func:`delay_to` finds the SimPy delay that lands on an instant exactly.
* :class:`Alarms` runs callbacks at exact instants with one SimPy timeout per
  distinct pending instant (callbacks due at the same instant share it).
* :class:`CpuCalendar` and :class:`RadioCalendar` are a CPU and a radio as
  FIFO calendars (when each frees, who waits); :class:`Run`, :class:`Receiver`
  and :class:`Hop` are a request's attempt, a device's job in one layer and a
  transfer on its way.
* :class:`Channel` is one shared radio channel under processor sharing, kept
  in closed form between events: when a flow starts or ends, every active
  flow's remaining bits are brought up to date and the next completion instant
  is computed; one timeout is scheduled per change, never one per byte.

Units: seconds, bits, bits per second.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import simpy

Route = tuple[tuple[int, int], ...]
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: A flow finishes when less than this fraction of its bits is left (float rounding of processor sharing).
PS_TOLERANCE = 1e-9


def delay_to(now: float, at: float) -> float:
    """The delay ``d`` (s) with ``now + d == at`` exactly (``at - now`` may round)."""
    delay = at - now
    while now + delay < at:
        delay = math.nextafter(delay, math.inf)
    while now + delay > at:
        delay = math.nextafter(delay, -math.inf)
    return delay


class Alarms:
    """Callbacks ``fn(arg)`` at exact instants (s), one SimPy timeout per distinct pending instant.

    Callbacks due at one instant run in the order they were set. ``after`` (if
    given) runs once after each instant's callbacks (the engine settles its
    shared channels there).
    """

    __slots__ = ("_pending", "after", "env")

    def __init__(self, env: simpy.Environment, after: Callable[[], None] | None = None) -> None:
        self.env = env
        self.after = after
        self._pending: dict[float, list[tuple[Callable[[Any], None], Any]]] = {}

    def at(self, when: float, fn: Callable[[Any], None], arg: Any) -> None:
        """Call ``fn(arg)`` at instant ``when`` (not before now)."""
        group = self._pending.get(when)
        if group is not None:
            group.append((fn, arg))
            return
        self._pending[when] = [(fn, arg)]
        timer = self.env.timeout(delay_to(self.env.now, when))
        timer.callbacks.append(lambda _event: self._fire(when))

    def _fire(self, when: float) -> None:
        for fn, arg in self._pending.pop(when):
            fn(arg)
        if self.after is not None:
            self.after()


class Channel:
    """One shared channel: flows in flight split its airtime equally (processor sharing).

    A flow of ``bits`` from a radio of rate ``r`` (bit/s) progresses at
    ``r * efficiency / n`` bit/s while ``n`` flows are in flight. The state is
    exact between changes: :meth:`start` and each completion bring every flow's
    bits left up to now, then one timeout is set for the next completion.

    ``deferred`` channels do not set that timeout on each start: the owner
    calls :meth:`settle` once after a batch of starts at one instant (the
    timeout depends only on the state at the end of the instant, so the result
    is the same, with fewer stale timers). ``after`` (if given) replaces the
    re-scheduling after a completion's callbacks: the owner settles then.
    """

    def __init__(
        self,
        env: simpy.Environment,
        efficiency: float,
        *,
        deferred: bool = False,
        after: Callable[[], None] | None = None,
    ) -> None:
        self.env = env
        self.efficiency = efficiency
        self.deferred = deferred
        self.after = after
        # flow id -> [bits left, sender rate (bit/s), callback on completion, bits at start]
        self.flows: dict[int, list[Any]] = {}
        self._next_id = 0
        self._updated_at = 0.0
        self._version = 0
        self._due = -1
        self._dirty = False

    def start(self, bits: float, rate_bps: float, done: Callable[[], None]) -> None:
        """Send ``bits`` at nominal ``rate_bps``; ``done()`` is called at the instant they have crossed."""
        self._advance()
        self.flows[self._next_id] = [bits, rate_bps, done, bits]
        self._next_id += 1
        if self.deferred:
            self._dirty = True
        else:
            self._schedule()

    def transmit(self, bits: float, rate_bps: float) -> simpy.Event:
        """Event that fires when ``bits`` have crossed the channel."""
        done = self.env.event()

        def crossed() -> None:
            done.succeed()

        self.start(bits, rate_bps, crossed)
        return done

    def settle(self) -> None:
        """Set the timeout of the next completion if flows started since the last one was set."""
        if self._dirty:
            self._dirty = False
            self._schedule()

    def _advance(self) -> None:
        now = self.env.now
        elapsed = now - self._updated_at
        if elapsed > 0 and self.flows:
            share = self.efficiency / len(self.flows)
            for flow in self.flows.values():
                flow[0] -= flow[1] * share * elapsed
        self._updated_at = now

    def _schedule(self) -> None:
        # Any earlier timer is stale now: the version check makes it a no-op.
        self._version += 1
        if not self.flows:
            return
        share = self.efficiency / len(self.flows)
        due, flow = min(self.flows.items(), key=lambda item: (item[1][0] / item[1][1], item[0]))
        self._due = due
        timer = self.env.timeout(max(0.0, flow[0] / (flow[1] * share)))
        version = self._version
        timer.callbacks.append(lambda _event: self._expire(version))

    def _expire(self, version: int) -> None:
        if version != self._version:
            return
        self._advance()
        finished = sorted(
            fid for fid, flow in self.flows.items() if fid == self._due or flow[0] <= flow[3] * PS_TOLERANCE
        )
        callbacks = [self.flows.pop(fid)[2] for fid in finished]
        for done in callbacks:
            done()
        if self.after is None:
            self._schedule()
        else:
            self._dirty = True
            self.after()


class Run:
    """One attempt of one request: where it stands in its layers, and its critical chain so far."""

    __slots__ = (
        "attempt",
        "compute_s",
        "cpu_s",
        "crit",
        "done",
        "index",
        "layer",
        "layers",
        "left",
        "links",
        "name",
        "prev",
        "rid",
        "rx_s",
        "transfer_s",
        "tx_s",
        "wait_s",
    )

    def __init__(self, rid: int, attempt: int, layers: list[Any], done: simpy.Event, devices: int) -> None:
        self.rid = rid
        self.attempt = attempt
        self.layers = layers  # [(Layer, assignment array)]
        self.index = 0
        self.prev: Any = None
        self.done = done
        self.wait_s = self.transfer_s = self.compute_s = 0.0
        self.left = 0  # receivers of the current layer not yet done
        self.crit = (-math.inf, 0, 0.0, 0.0, 0.0)  # (end, -device, wait, transfer, compute) of the layer's last job
        self.layer = 0
        self.name = ""
        self.links: Any = None  # the links the request was placed on when pinned (else the world's)
        # Busy seconds per device of the request's jobs, charged when it ends (closed-form metering).
        self.cpu_s = [0.0] * devices
        self.rx_s = [0.0] * devices
        self.tx_s = [0.0] * devices


class Receiver:
    """A device of a layer that receives inputs and/or computes a batch of it."""

    __slots__ = ("best_at", "best_k", "device", "left", "mults", "run", "transfer", "wait")

    def __init__(self, run: Run, device: int, mults: int, inflows: int) -> None:
        self.run = run
        self.device = device
        self.mults = mults
        self.left = inflows  # inputs not yet delivered
        self.best_at = -math.inf  # the last arrival so far (its instant, its inflow index, its wait and transmission)
        self.best_k = 0
        self.wait = 0.0
        self.transfer = 0.0


class Hop:
    """A transfer on its way (topologies, shared channels): its route, where it is and its chain so far."""

    __slots__ = ("asked", "at", "k", "nbytes", "rate", "rec", "route", "spb", "transmit", "wait")

    def __init__(self, rec: Receiver, k: int, route: Route, nbytes: int, spb: list[float], rate: list[float]) -> None:
        self.rec = rec
        self.k = k
        self.route = route
        self.nbytes = nbytes
        self.spb = spb  # seconds per byte of each hop's sender, fixed at the layer start (in-flight rule)
        self.rate = rate  # nominal rate (bit/s) of each hop's sender, idem
        self.at = 0
        self.asked = 0.0
        self.wait = 0.0
        self.transmit = 0.0


class CpuCalendar:
    """A device's CPU as a calendar: the instant each core frees, and the claims waiting (FIFO)."""

    __slots__ = ("alarm", "device", "free_at", "queue")

    def __init__(self, device: int, cores: int) -> None:
        self.device = device
        self.free_at = [-math.inf] * cores
        self.queue: deque[tuple[Receiver, float]] = deque()
        self.alarm = False  # a release alarm is set

    def free_core(self, now: float) -> int:
        """The lowest core free at ``now``, or -1."""
        for core, at in enumerate(self.free_at):
            if at <= now:
                return core
        return -1

    def busy(self, now: float) -> int:
        """Cores busy at ``now``."""
        return sum(1 for at in self.free_at if at > now)


class RadioCalendar:
    """A device's radio as a calendar: who holds it until when, and the claims waiting (FIFO, one per request)."""

    __slots__ = (
        "active",
        "alarm",
        "device",
        "hold_end",
        "holder",
        "layer",
        "layer_name",
        "open",
        "queue",
        "sent",
        "since",
        "waiting",
    )

    def __init__(self, device: int) -> None:
        self.device = device
        self.holder = -1
        self.hold_end = -math.inf  # closed form: the hold ends when its last hop does (inf on a shared channel)
        self.active = 0  # hops in flight on a shared channel
        self.queue: deque[list[Any]] = deque()  # [request id, items waiting]
        self.waiting: dict[int, list[Any]] = {}  # request id -> its queue entry
        self.alarm = False
        self.open = False  # a span is open (trace)
        self.since = 0.0
        self.sent = 0
        self.layer = 0
        self.layer_name = ""


class LayerPairs:
    """A layer's transfers (pairs sorted by (sender, receiver), :class:`~distsim.model.cost.Transfers`) grouped
    by sender and by receiver, and the arrivals of the pairs whose sender's radio is granted at one instant.

    The arithmetic is the per-transfer engine's, element by element: a transfer of ``b`` bytes from a radio
    of ``s`` seconds per byte granted at ``g`` arrives at ``g + b * s`` (the float a timeout started at ``g``
    reaches) and its transmission is ``(g + b * s) - g``; a device's critical input is its last arrival,
    ties to the first of its inflows in sender order.
    """

    __slots__ = ("bytes", "order", "rank", "receiver_starts", "receivers", "sender_starts", "senders", "spb")

    def __init__(self, senders: IntArray, receivers: IntArray, nbytes: IntArray, spb: FloatArray) -> None:
        count = len(senders)
        change = np.ones(count, dtype=bool)
        change[1:] = senders[1:] != senders[:-1]
        self.sender_starts = np.flatnonzero(change)
        #: Each sender once, in order.
        self.senders: list[int] = senders[self.sender_starts].tolist()
        self.order = np.argsort(receivers, kind="stable")  # pairs by receiver, then sender
        by_receiver = receivers[self.order]
        change = np.ones(count, dtype=bool)
        change[1:] = by_receiver[1:] != by_receiver[:-1]
        self.receiver_starts = np.flatnonzero(change)
        #: Each receiver once, sorted.
        self.receivers: list[int] = by_receiver[self.receiver_starts].tolist()
        sizes = np.diff(np.append(self.receiver_starts, count))
        self.rank = np.empty(count, dtype=np.int64)  # a pair's index among its receiver's inflows
        self.rank[self.order] = np.arange(count) - np.repeat(self.receiver_starts, sizes)
        self.bytes = nbytes
        self.spb = spb[senders]

    def granted(self, granted: BoolArray, now: float) -> tuple[list[Any], ...]:
        """Arrivals of the pairs whose sender (``granted``, one flag per sender) got its radio at ``now``.

        Returns per receiver: its last arrival (``-inf`` if none yet), that inflow's index, its transmission
        (s), its inflows still to come and its receive seconds; per sender: the end of the transfers it sent
        (``-inf`` if not granted), the bytes and the transmit seconds.
        """
        count = len(self.bytes)
        end = now + self.bytes * self.spb
        mask = np.repeat(granted, np.diff(np.append(self.sender_starts, count)))
        if not granted.all():
            end = np.where(mask, end, -np.inf)
        seconds = np.where(mask, end - now, 0.0)
        by_receiver = end[self.order]
        last = np.maximum.reduceat(by_receiver, self.receiver_starts)
        sizes = np.diff(np.append(self.receiver_starts, count))
        first = np.minimum.reduceat(
            np.where(by_receiver == np.repeat(last, sizes), np.arange(count), count), self.receiver_starts
        )
        winner = self.order[first]
        pending = sizes - np.add.reduceat(mask[self.order].astype(np.int64), self.receiver_starts)
        return (
            last.tolist(),
            self.rank[winner].tolist(),
            (end[winner] - now).tolist(),
            pending.tolist(),
            np.add.reduceat(seconds[self.order], self.receiver_starts).tolist(),
            np.maximum.reduceat(end, self.sender_starts).tolist(),
            np.add.reduceat(self.bytes, self.sender_starts).tolist(),
            np.add.reduceat(seconds, self.sender_starts).tolist(),
        )
