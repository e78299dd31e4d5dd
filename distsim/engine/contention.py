"""The ``contention`` timing model (SPEC section 7): CPUs, radios and shared channels as queues.

Placement is decided on arrival exactly as in ``analytic`` mode (the scheduler
does not know about queues). The placed request then runs as SimPy processes:

* **Layers in order, with a barrier.** Layer ``l`` starts when every job of
  layer ``l - 1`` (every transfer into it and every segment batch of it) has
  ended, as Eq. 5 assumes. This is what makes a request alone take exactly its
  Eq. 5 latency; a pipelined variant (a device starting ``l`` as soon as its
  own inputs are there) would be faster than the paper's model even without
  contention, so it is not what this mode measures.
* **Transfers.** Each (sender, receiver) transfer of Eq. 6
  (:func:`distsim.model.cost.layer_transfers`) travels its route hop by hop
  (one hop on a full mesh; store and forward over a topology). A hop is a job
  on its sender's radio at that radio's rate ``rho``. A radio serves one
  *request* at a time, FIFO across requests; the transfers of the request that
  holds it go out in parallel, each at the full rate, exactly as Eq. 5 assumes
  within one request. So radios make requests wait for each other, never a
  request for itself.
* **Shared channels** (``network.shared_channel``): all radios of one
  technology share one channel. Every transfer in flight on it progresses at
  ``rho * mac_efficiency / n`` bits per second, ``n`` being the number of
  transfers in flight on that channel (processor sharing, recomputed whenever a
  transfer starts or ends). Then two equal transfers started together each take
  twice as long as one alone, and so do two transfers of the same request.
* **Compute.** A device's segment batch of one layer of one request
  (``count * c / e`` seconds) is one job on that device's CPU: FIFO across
  requests, ``cores`` batches at once (``devices.<type>.cores``, default 1; a
  batch occupies one core and does not split across cores). It starts when all
  the device's inputs of that layer have arrived. Layers without
  multiplications (ReLU, pool: 0 s in the cost model) take no CPU time and do
  not queue.
* The request finishes when its last layer does.

Per request, the service time splits along the critical chain of each layer
(the last job to finish and the transfer hops feeding it): ``wait_s`` (queued
behind other requests on radios and CPUs), ``transfer_s`` (hop transmission,
slowed by channel sharing) and ``compute_s``; their sum is the service time.

**Processes.** On one-hop links at full rate (a full mesh without a shared
channel) a layer of a request runs as one SimPy process per sending radio and
one per receiver, not one per (sender, receiver) transfer: the transfers of a
radio's hold start together and each ends ``bytes * 8 / rho`` later, in closed
form, so a receiver sleeps until its last arrival. The processes ask for
radios and CPUs at the same steps of the event loop as one process per
transfer would, so runs are record for record what the per-transfer
processes give (kept for topologies and shared channels, where hops and
processor sharing need them).

Bandwidth and compute *budgets* are unchanged: they bound what a request may
reserve, while this model decides how long the reserved work takes.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Generator
from typing import Any, cast

import simpy
from simpy.resources.resource import Request as Grant  # a queued claim on a CPU or radio

from distsim.engine.timing import ServiceTiming
from distsim.engine.trace import Span, Timeline
from distsim.model.cost import Transfers, layer_transfers
from distsim.scheduling.base import Placement, Request
from distsim.world import World

#: A flow finishes when less than this fraction of its bits is left (float rounding of processor sharing).
_PS_TOLERANCE = 1e-9


def _delay_to(now: float, at: float) -> float:
    """The delay ``d`` with ``now + d == at`` exactly (``at - now`` may round)."""
    delay = at - now
    while now + delay < at:
        delay = math.nextafter(delay, math.inf)
    while now + delay > at:
        delay = math.nextafter(delay, -math.inf)
    return delay


class _Senders:
    """A layer's sending radios: the bytes of each sender's transfers, and the event of its grant once started."""

    __slots__ = ("granted", "sizes")

    def __init__(self, flows: Transfers) -> None:
        self.sizes: dict[int, list[int]] = {}
        for i, nbytes in zip(flows.senders.tolist(), flows.bytes.tolist(), strict=True):
            self.sizes.setdefault(i, []).append(nbytes)
        self.granted: dict[int, simpy.Event] = {}


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


class _Channel:
    """One shared channel: transfers in flight split its airtime equally (processor sharing)."""

    def __init__(self, env: simpy.Environment, efficiency: float) -> None:
        self.env = env
        self.efficiency = efficiency
        # flow id -> [bits left, sender rate (bit/s), done event, bits at start]
        self.flows: dict[int, list[Any]] = {}
        self._next_id = 0
        self._updated_at = 0.0
        self._version = 0
        self._due = -1

    def transmit(self, bits: float, rate_bps: float) -> simpy.Event:
        """Event that fires when ``bits`` have crossed the channel."""
        self._advance()
        done = self.env.event()
        self.flows[self._next_id] = [bits, rate_bps, done, bits]
        self._next_id += 1
        self._schedule()
        return done

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
            fid for fid, flow in self.flows.items() if fid == self._due or flow[0] <= flow[3] * _PS_TOLERANCE
        )
        for fid in finished:
            self.flows.pop(fid)[2].succeed()
        self._schedule()


class ContentionTiming:
    """CPUs, radios and (optionally) shared channels as FIFO resources; see the module docstring."""

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
        self._channel_of: list[_Channel] | None = None
        if world.shared_channel:
            channels = {tech: _Channel(env, world.mac_efficiency) for tech in sorted(set(fleet.radios))}
            self._channel_of = [channels[tech] for tech in fleet.radios]
        hops: Callable[[int, int], tuple[tuple[int, int], ...]] | None = getattr(world.links, "hops", None)
        self._hops = hops
        #: One process per transfer (topologies, shared channels; the tests force it to check the other way).
        self.per_transfer = hops is not None or self._channel_of is not None
        self.timeline: Timeline | None = None
        #: Energy meter (docs/energy.md): told when each CPU batch and hop transmission begins and ends.
        self.meter: Any = None
        # request id -> attempt number; a job of an older attempt (cancelled) starts nothing new.
        self._attempt: dict[int, int] = {}
        # request id -> the links it was placed on, when links change during the run (docs/dynamics.md).
        self._pinned: dict[int, Any] = {}

    def attach(self, timeline: Timeline) -> None:
        """Record spans and resource samples into ``timeline`` from now on."""
        self.timeline = timeline

    def attach_meter(self, meter: Any) -> None:
        """Report busy intervals to ``meter`` (``begin(rid, device, kind) -> token``, ``end(token)``)."""
        self.meter = meter

    def pin_links(self, request_id: int, links: Any) -> None:
        """The request's transfers run on ``links`` (those it was placed on) to its end (docs/dynamics.md)."""
        self._pinned[request_id] = links

    def cancel(self, request_id: int) -> None:
        """The request's current attempt failed: its jobs not yet started are skipped.

        A job already holding a CPU core or a radio runs to its end (it cannot be
        recalled mid-transmission); no later job of that attempt starts.
        """
        self._attempt[request_id] = self._attempt.get(request_id, 0) + 1
        self._pinned.pop(request_id, None)

    # -- one request ---------------------------------------------------------
    def execute(self, request: Request, placement: Placement) -> Generator[simpy.Event, Any, ServiceTiming]:
        env = self.env
        n = self.world.fleet.size
        cnn = self.world.cnns[placement.cnn]
        rid = request.id
        attempt = self._attempt.get(rid, 0)
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
            # On one-hop links at full rate (no topology, no shared channel) a layer needs one process per
            # sending radio and per receiver, not per transfer: each transfer then ends in closed form.
            senders = None if self.per_transfer else _Senders(flows)
            jobs = []
            for j in sorted(counts):
                mults = counts[j] * layer.segment_mults
                if mults == 0 and j not in inflows:
                    continue
                feed = inflows.get(j, [])
                if senders is not None:
                    job = self._receive_direct(rid, layer.index, layer.name, j, feed, mults, senders, attempt)
                else:
                    job = self._receiver(rid, layer.index, layer.name, j, feed, mults, attempt)
                jobs.append(env.process(job))
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
        self._pinned.pop(rid, None)
        return ServiceTiming(compute_s=compute_s, transfer_s=transfer_s, wait_s=wait_s)

    def _receive_direct(
        self,
        rid: int,
        layer: int,
        name: str,
        device: int,
        inflows: list[tuple[int, int]],
        mults: int,
        senders: _Senders,
        attempt: int = 0,
    ) -> Generator[simpy.Event, Any, tuple[float, float, float, float]]:
        """:meth:`_receiver` for one-hop transfers at full rate, with one process per sending radio.

        A transfer from ``i`` arrives ``bytes * 8 / rho_i`` after ``i``'s grant
        (the instant a per-transfer timeout started at the grant would reach),
        so the receiver waits for its senders' grants, then sleeps until the
        last arrival. Senders are started here, in the order the per-transfer
        processes would ask for their radios, and the sleep is a process, so
        every radio and CPU request is made at the same step of the event loop
        as with one process per transfer: ties between requests at one instant
        resolve as before.
        """
        env = self.env
        wait = transfer = 0.0
        if inflows:
            asked = env.now
            for i, _ in inflows:
                if i not in senders.granted:
                    senders.granted[i] = env.event()
                    env.process(self._send(rid, layer, name, i, senders.sizes[i], senders.granted[i]))
            yield env.all_of([senders.granted[i] for i, _ in inflows])
            last = -math.inf
            for i, nbytes in inflows:
                start = cast(float, senders.granted[i].value)
                end = start + nbytes * self._spb[i]  # the float a timeout started at the grant would reach
                if end > last:
                    last, wait, transfer = end, start - asked, end - start
            yield env.all_of([env.process(self._sleep(_delay_to(env.now, last)))])
            if self.meter is not None:
                # Closed-form transfers: their radio energy is charged once the layer's inputs are in.
                for i, nbytes in inflows:
                    self.meter.charge(rid, i, "tx", nbytes * self._spb[i])
                    self.meter.charge(rid, device, "rx", nbytes * self._spb[i])
        return (yield from self._compute(rid, layer, name, device, mults, wait, transfer, attempt))

    def _sleep(self, delay: float) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(delay)

    def _send(
        self, rid: int, layer: int, name: str, sender: int, sizes: list[int], granted: simpy.Event
    ) -> Generator[simpy.Event, Any, None]:
        """All of a layer's one-hop transfers from ``sender``: they share its radio's hold and start together;
        the hold ends when the largest has gone. ``granted`` gets the grant instant."""
        env = self.env
        radio = self._radios[sender]
        grant = radio.acquire(rid)
        if grant is not None:
            self._sample_radio(radio)
            yield grant
        started = env.now
        for _ in sizes:
            if radio.enter(rid, grant, started, layer, name):
                self._sample_radio(radio)
        # The hold's end is scheduled before the receivers hear of the grant (and schedule their sleeps),
        # so at an instant where both fall the radio is released first, as a per-transfer process releases it.
        gone = env.timeout(max(sizes) * self._spb[sender])
        granted.succeed(started)
        yield gone
        for nbytes in sizes:
            if radio.leave(nbytes) and self.timeline is not None:
                self.timeline.span(
                    Span(sender, "radio", 0, radio.since, env.now, rid, radio.layer, radio.layer_name, radio.sent, 0)
                )
                self._sample_radio(radio)

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

    def _transfer(
        self, rid: int, layer: int, name: str, sender: int, receiver: int, nbytes: int, attempt: int = 0
    ) -> Generator[simpy.Event, Any, tuple[float, float, float]]:
        """Move ``nbytes`` hop by hop; (arrival instant, wait, transmission) s."""
        env = self.env
        links = self._pinned.get(rid)
        if links is None:
            route = ((sender, receiver),) if self._hops is None else self._hops(sender, receiver)
            hop_spb = None
        else:
            route, hop_spb = links.hops(sender, receiver), links.hop_sec_per_byte
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
            spb = self._spb[u] if hop_spb is None else hop_spb(u, v)
            if self._channel_of is None:
                yield env.timeout(nbytes * spb)
            else:
                yield self._channel_of[u].transmit(nbytes * 8.0, self._rate[u] if hop_spb is None else 8.0 / spb)
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
