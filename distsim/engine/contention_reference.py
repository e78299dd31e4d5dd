"""The readable twin of the ``contention`` timing model: one SimPy process per transfer and per batch.

:class:`ReferenceContentionTiming` implements the model of
:mod:`distsim.engine.contention` (read its docstring for the rules) the direct
way: every (sender, receiver) transfer of a layer is a SimPy process that asks
for each hop's radio (a ``simpy.Resource``), transmits (a timeout, or a flow on
the shared :class:`~distsim.engine.contention_calendar.Channel`) and hands
over to the next hop; every device's segment batch is a process that asks for
its CPU. It makes several SimPy events per transfer (7,769 per request on
``scenarios/paper.yaml``), so the engine runs the calendar-based
:class:`~distsim.engine.contention.ContentionTiming` instead, and the tests
check the two give the same records (``tests/test_contention.py``). It is not
registered as a timing mode.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Generator
from typing import Any, cast

import simpy
from simpy.resources.resource import Request as Grant  # a queued claim on a CPU or radio

from distsim.engine.contention_calendar import Channel
from distsim.engine.timing import ServiceTiming
from distsim.engine.trace import Span, Timeline
from distsim.model.cost import layer_transfers
from distsim.scheduling.base import Placement, Request
from distsim.world import World


class _Cpu:
    """A device's CPU: ``cores`` batches at once, FIFO."""

    __slots__ = ("device", "free", "resource")

    def __init__(self, env: simpy.Environment, device: int, cores: int) -> None:
        self.device = device
        self.resource = simpy.Resource(env, capacity=cores)
        self.free = list(range(cores))  # min-heap: a batch takes the lowest free core (trace tracks)


class _Radio:
    """A device's radio: one request at a time, FIFO across requests; that request's transfers share it."""

    __slots__ = ("active", "device", "hold", "holder", "layer", "layer_name", "pending", "resource", "sent", "since")

    def __init__(self, env: simpy.Environment, device: int) -> None:
        self.device = device
        self.resource = simpy.Resource(env, capacity=1)
        self.holder = -1  # request id holding the radio, -1 when free
        self.active = 0  # transfers of the holder in flight
        self.hold: Grant | None = None
        self.pending: dict[int, Grant] = {}  # one queued grant per waiting request
        self.since = 0.0
        self.sent = 0
        self.layer = 0
        self.layer_name = ""

    def acquire(self, request_id: int) -> Grant | None:
        """The grant to wait for, or None when ``request_id`` already holds the radio."""
        if self.holder == request_id:
            return None
        grant = self.pending.get(request_id)
        if grant is None:
            grant = self.resource.request()
            self.pending[request_id] = grant
        return grant

    def enter(self, request_id: int, grant: Grant | None, now: float, layer: int, name: str) -> bool:
        """Start one transfer; True when this starts a new hold."""
        started = False
        if grant is not None and self.holder != request_id:
            # First of the request's transfers to resume on this grant.
            self.holder, self.hold, self.active = request_id, grant, 0
            del self.pending[request_id]
            self.since, self.sent, self.layer, self.layer_name = now, 0, layer, name
            started = True
        self.active += 1
        return started

    def leave(self, nbytes: int) -> bool:
        """End one transfer; True when the hold ends (the radio is released)."""
        self.sent += nbytes
        self.active -= 1
        if self.active:
            return False
        assert self.hold is not None
        self.resource.release(self.hold)
        self.holder, self.hold = -1, None
        return True


class ReferenceContentionTiming:
    """The per-transfer twin of :class:`~distsim.engine.contention.ContentionTiming`; see the module docstring."""

    name = "contention"

    def __init__(self, env: simpy.Environment, world: World, rng: Any = None) -> None:
        fleet = world.fleet
        self.env = env
        self.world = world
        self.cores = world.cores
        self._cpus = [_Cpu(env, i, c) for i, c in enumerate(self.cores)]
        self._radios = [_Radio(env, i) for i in range(fleet.size)]
        self._speed: list[float] = fleet.mults_per_s.tolist()
        self._spb: list[float] = fleet.sec_per_byte.tolist()
        self._rate: list[float] = fleet.rate_bps.tolist()
        self._channel_of: list[Channel] | None = None
        if world.shared_channel:
            channels = {tech: Channel(env, world.mac_efficiency) for tech in sorted(set(fleet.radios))}
            self._channel_of = [channels[tech] for tech in fleet.radios]
        hops: Callable[[int, int], tuple[tuple[int, int], ...]] | None = getattr(world.links, "hops", None)
        self._hops = hops
        self._pinned: dict[int, Any] = {}  # request id -> links of its next execute
        self._links_of: dict[int, Any] = {}  # request id -> links its current attempt runs on (pinned only)
        self.timeline: Timeline | None = None
        #: Energy meter (docs/energy.md): told when each CPU batch and hop transmission begins and ends.
        self.meter: Any = None
        # request id -> attempt number; a job of an older attempt (cancelled) starts nothing new.
        self._attempt: dict[int, int] = {}

    def attach(self, timeline: Timeline) -> None:
        """Record spans and resource samples into ``timeline`` from now on."""
        self.timeline = timeline

    def attach_meter(self, meter: Any) -> None:
        """Report busy intervals to ``meter`` (``begin(rid, device, kind) -> token``, ``end(token)``)."""
        self.meter = meter

    def pin_links(self, request_id: int, links: Any) -> None:
        """Run the request's next :meth:`execute` on ``links`` (those it was placed on), not the world's."""
        self._pinned[request_id] = links

    def cancel(self, request_id: int) -> None:
        """The request's current attempt failed: its jobs not yet started are skipped.

        A job already holding a CPU core or a radio runs to its end (it cannot be
        recalled mid-transmission); no later job of that attempt starts.
        """
        self._attempt[request_id] = self._attempt.get(request_id, 0) + 1

    # -- one request ---------------------------------------------------------
    def execute(self, request: Request, placement: Placement) -> Generator[simpy.Event, Any, ServiceTiming]:
        env = self.env
        n = self.world.fleet.size
        cnn = self.world.cnns[placement.cnn]
        rid = request.id
        attempt = self._attempt.get(rid, 0)
        pinned = self._pinned.pop(rid, None)
        if pinned is None:
            self._links_of.pop(rid, None)
        else:
            self._links_of[rid] = pinned
        compute_s = transfer_s = wait_s = 0.0
        prev = None
        for layer, cur in zip(cnn.layers, placement.assignments, strict=True):
            flows = layer_transfers(layer, prev, cur, n)
            inflows: dict[int, list[tuple[int, int]]] = {}
            for i, j, nbytes in zip(
                flows.senders.tolist(), flows.receivers.tolist(), flows.bytes.tolist(), strict=True
            ):
                inflows.setdefault(j, []).append((i, nbytes))
            counts: dict[int, int] = {}
            for device in cur.tolist():
                counts[device] = counts.get(device, 0) + 1
            jobs = []
            for j in sorted(counts):
                mults = counts[j] * layer.segment_mults
                if mults == 0 and j not in inflows:
                    continue
                feed = inflows.get(j, [])
                jobs.append(env.process(self._receiver(rid, layer.index, layer.name, j, feed, mults, attempt)))
            prev = cur
            if not jobs:
                continue
            yield env.all_of(jobs)
            # Critical chain: the job that ended last (ties: lowest device id, jobs are in id order).
            # A process's value is its generator's return value: _receiver's (end, wait, transfer, compute).
            ends = [cast(tuple[float, float, float, float], job.value) for job in jobs]
            best = ends[0]
            for end in ends[1:]:
                if end[0] > best[0]:
                    best = end
            wait_s += best[1]
            transfer_s += best[2]
            compute_s += best[3]
        return ServiceTiming(compute_s=compute_s, transfer_s=transfer_s, wait_s=wait_s)

    def _receiver(
        self, rid: int, layer: int, name: str, device: int, inflows: list[tuple[int, int]], mults: int, attempt: int = 0
    ) -> Generator[simpy.Event, Any, tuple[float, float, float, float]]:
        """Receive a layer's inputs on ``device``, then compute its batch; (end, wait, transfer, compute) s."""
        env = self.env
        wait = transfer = 0.0
        if inflows:
            transfers = [
                env.process(self._transfer(rid, layer, name, i, device, nbytes, attempt)) for i, nbytes in inflows
            ]
            yield env.all_of(transfers)
            # A process's value is its generator's return value: _transfer's (end, wait, transfer).
            done = [cast(tuple[float, float, float], t.value) for t in transfers]
            last = done[0]
            for t_value in done[1:]:
                if t_value[0] > last[0]:
                    last = t_value
            wait, transfer = last[1], last[2]
        return (yield from self._compute(rid, layer, name, device, mults, wait, transfer, attempt))

    def _compute(
        self, rid: int, layer: int, name: str, device: int, mults: int, wait: float, transfer: float, attempt: int = 0
    ) -> Generator[simpy.Event, Any, tuple[float, float, float, float]]:
        """Compute ``device``'s batch of the layer once its inputs are in; (end, wait, transfer, compute) s."""
        env = self.env
        compute = 0.0
        if mults and self._attempt.get(rid, 0) == attempt:
            cpu = self._cpus[device]
            asked = env.now
            grant = cpu.resource.request()
            queued = not grant.triggered
            self._sample_cpu(cpu)
            yield grant
            started = env.now
            wait += started - asked
            if queued:
                # SimPy grants a queued request after the release event is processed: sample it now.
                self._sample_cpu(cpu)
            core = heapq.heappop(cpu.free)
            compute = mults / self._speed[device]
            token = None if self.meter is None else self.meter.begin(rid, device, "cpu")
            yield env.timeout(compute)
            if token is not None:
                self.meter.end(token)
            heapq.heappush(cpu.free, core)
            cpu.resource.release(grant)
            if self.timeline is not None:
                self.timeline.span(Span(device, "cpu", core, started, env.now, rid, layer, name, 0, mults))
                self._sample_cpu(cpu)
        return env.now, wait, transfer, compute

    def _hop_spb(self, links: Any, u: int, v: int) -> float:
        """Seconds per byte of hop ``u -> v``: the pinned links' (per-hop rate tables) or the sender's radio."""
        hop_spb = None if links is None else getattr(links, "hop_sec_per_byte", None)
        return self._spb[u] if hop_spb is None else float(hop_spb(u, v))

    def _transfer(
        self, rid: int, layer: int, name: str, sender: int, receiver: int, nbytes: int, attempt: int = 0
    ) -> Generator[simpy.Event, Any, tuple[float, float, float]]:
        """Move ``nbytes`` hop by hop; (arrival instant, wait, transmission) s."""
        env = self.env
        links = self._links_of.get(rid)
        if links is None:
            route = ((sender, receiver),) if self._hops is None else self._hops(sender, receiver)
        else:
            route = links.hops(sender, receiver)
        wait = transmit = 0.0
        for u, v in route:
            if self._attempt.get(rid, 0) != attempt:
                break
            radio = self._radios[u]
            asked = env.now
            grant = radio.acquire(rid)
            if grant is not None:
                self._sample_radio(radio)
                yield grant
            started = env.now
            if radio.enter(rid, grant, started, layer, name):
                self._sample_radio(radio)
            wait += started - asked
            tokens = None if self.meter is None else (self.meter.begin(rid, u, "tx"), self.meter.begin(rid, v, "rx"))
            if self._channel_of is None:
                yield env.timeout(nbytes * self._hop_spb(links, u, v))
            else:
                hop_spb = None if links is None else getattr(links, "hop_sec_per_byte", None)
                rate = self._rate[u] if hop_spb is None else 8.0 / hop_spb(u, v)
                yield self._channel_of[u].transmit(nbytes * 8.0, rate)
            if tokens is not None:
                self.meter.end(tokens[0])
                self.meter.end(tokens[1])
            transmit += env.now - started
            if radio.leave(nbytes) and self.timeline is not None:
                self.timeline.span(
                    Span(u, "radio", 0, radio.since, env.now, rid, radio.layer, radio.layer_name, radio.sent, 0)
                )
                self._sample_radio(radio)
        return env.now, wait, transmit

    # -- observability ---------------------------------------------------------
    def _sample_cpu(self, cpu: _Cpu) -> None:
        if self.timeline is not None:
            self.timeline.sample(self.env.now, cpu.device, "cpu", cpu.resource.count, len(cpu.resource.queue))

    def _sample_radio(self, radio: _Radio) -> None:
        if self.timeline is not None:
            # Busy: held, or granted to a request whose transfers have not resumed yet.
            busy = radio.resource.count
            self.timeline.sample(self.env.now, radio.device, "radio", busy, len(radio.resource.queue))
