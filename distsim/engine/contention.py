"""The ``contention`` timing model (SPEC section 7): CPUs, radios and shared channels as queues.

Placement is decided on arrival exactly as in ``analytic`` mode (the scheduler
does not know about queues). The placed request then runs on the devices'
CPUs and radios:

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
  within one request (a hop of the holding request that reaches the radio
  while the hold lasts joins it). So radios make requests wait for each
  other, never a request for itself.
* **Shared channels** (``network.shared_channel``): all radios of one
  technology share one channel. Every transfer in flight on it progresses at
  ``rho * mac_efficiency / n`` bits per second, ``n`` being the number of
  transfers in flight on that channel (processor sharing, recomputed in closed
  form whenever a transfer starts or ends:
  :class:`~distsim.engine.contention_calendar.Channel`). Then two equal
  transfers started together each take twice as long as one alone, and so do
  two transfers of the same request.
* **Compute.** A device's segment batch of one layer of one request
  (``count * c / e`` seconds) is one job on that device's CPU: FIFO across
  requests, ``cores`` batches at once (``devices.<type>.cores``, default 1; a
  batch occupies one core and does not split across cores). It starts when all
  the device's inputs of that layer have arrived. Layers without
  multiplications (ReLU, pool: 0 s in the cost model) take no CPU time and do
  not queue.
* The request finishes when its last layer does.
* **In flight** (mobility, docs/dynamics.md): a request runs to its end on the
  routes and per-hop rates of the instant it was placed (the engine pins them:
  :meth:`ContentionTiming.pin_links`); links changed meanwhile apply to
  requests placed later.

Per request, the service time splits along the critical chain of each layer
(the last job to finish, ties to the lowest device id, and the transfer hops
feeding it, ties to the first in (sender, receiver) order): ``wait_s`` (queued
behind other requests on radios and CPUs), ``transfer_s`` (hop transmission,
slowed by channel sharing) and ``compute_s``; their sum is the service time.

**How it runs: calendars, not processes.** No SimPy process is started per
layer, transfer or batch. Each CPU and radio is a FIFO calendar: a job's
duration is known when it is granted (a batch's ``mults / e``, a hop's
``bytes / rho``; on a shared channel the hop ends when the channel says so), so
the instant a resource frees is known in closed form, and a claim made while
it is held waits in the resource's queue. SimPy events happen only at state
changes that have to be taken in time order:

* the instant a device's last input of a layer arrives (its CPU claim; devices
  whose inputs end at one instant share the event),
* the instant a hop reaches a relay (its claim on the relay's radio),
* the instant a held resource frees *while claims wait for it*,
* the end of each layer (the barrier), and one event when the request ends,
* on a shared channel, each completion instant the channel computes.

A transfer's end on one hop, a radio's release nobody waits for and a batch's
end are not events: they are known in closed form. With a trace
(:meth:`ContentionTiming.attach`) every release is an event too, so spans and
queue samples are taken at their instants; with churn or batteries
(docs/dynamics.md) every job's end is an event, so the energy meter sees each
job begin and end at its instant (:meth:`Meter.begin`/:meth:`Meter.end`).
Otherwise each job's exact seconds are charged to the meter
(:meth:`Meter.charge`) when its request ends, after every job of it has ended.
The readable twin, one SimPy process per transfer and per batch, is
:class:`distsim.engine.contention_reference.ReferenceContentionTiming`; the
tests check that both give the same records, bit for bit, on contended runs
of every mode.

**Ties.** Claims that reach one resource at the same float instant are
served in the order the engine reaches them. The two engines reach them in
different orders, so where such exact ties happen (fleets of identical
devices: a request that frees several radios at once hands them to equal
transfers that end together) their contended runs differ request by request,
not in law (``scenarios/paper.yaml``: mean latency within 0.3%). The twin
tests use fleets without equal speeds, where the engines agree exactly; runs
of either engine are deterministic.

Bandwidth and compute *budgets* are unchanged: they bound what a request may
reserve, while this model decides how long the reserved work takes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from typing import Any

import numpy as np
import simpy

from distsim.engine.contention_calendar import (
    Alarms,
    Channel,
    CpuCalendar,
    Hop,
    LayerPairs,
    RadioCalendar,
    Receiver,
    Run,
)
from distsim.engine.contention_energy import JobMeter
from distsim.engine.dynamics import needs_dynamics
from distsim.engine.timing import ServiceTiming
from distsim.engine.trace import Span, Timeline
from distsim.model.cost import Transfers, layer_transfers
from distsim.scheduling.base import Placement, Request
from distsim.world import World

#: Layers with at least this many transfers take the vectorised closed form (:class:`LayerPairs`); below it
#: numpy's per-call cost exceeds a Python loop's (the same floats either way; 64 measured best on paper.yaml).
_VECTOR_PAIRS = 64

#: The shared channel under its former private name (the processor-sharing tests use it).
_Channel = Channel


class ContentionTiming:
    """CPUs, radios and (optionally) shared channels as FIFO calendars; see the module docstring."""

    name = "contention"

    def __init__(self, env: simpy.Environment, world: World, rng: Any = None) -> None:
        fleet = world.fleet
        self.env = env
        self.world = world
        self.cores = world.cores
        self._cpus = [CpuCalendar(i, c) for i, c in enumerate(self.cores)]
        self._radios = [RadioCalendar(i) for i in range(fleet.size)]
        self._speed: list[float] = fleet.mults_per_s.tolist()
        self._channels: list[Channel] = []
        self._channel_of: list[Channel] | None = None
        self._alarms = Alarms(env)
        if world.shared_channel:
            channels = {
                tech: Channel(env, world.mac_efficiency, deferred=True, after=self._settle)
                for tech in sorted(set(fleet.radios))
            }
            self._channels = [channels[tech] for tech in sorted(channels)]
            self._channel_of = [channels[tech] for tech in fleet.radios]
            self._alarms.after = self._settle
        self._read_links()
        self.timeline: Timeline | None = None
        #: Energy meter (docs/energy.md): told of every CPU batch and hop transmission.
        self.meter: Any = None
        # Churn or batteries: the meter must see each job begin and end at its instant.
        self._instants = needs_dynamics(world)
        # request id -> attempt number; a job of an older attempt (cancelled) starts nothing new.
        self._attempt: dict[int, int] = {}
        self._runs: dict[int, Run] = {}
        self._energy = JobMeter(self._alarms, None, self._instants)

    def _read_links(self) -> None:
        """The world's links and rates (a request placed on other links is pinned to them: :meth:`pin_links`)."""
        fleet = self.world.fleet
        self._spb_array = fleet.sec_per_byte
        self._spb: list[float] = fleet.sec_per_byte.tolist()
        self._rate: list[float] = fleet.rate_bps.tolist()
        self._hops: Callable[[int, int], tuple[tuple[int, int], ...]] | None = getattr(self.world.links, "hops", None)
        # One hop at full rate everywhere: a transfer's end is known the instant its radio is granted.
        self._direct = self._hops is None and self._channel_of is None
        self._pinned: dict[int, Any] = {}

    def pin_links(self, request_id: int, links: Any) -> None:
        """Run the request's next :meth:`execute` on ``links`` (those it was placed on), not the world's.

        The in-flight rule (docs/timing-models.md): a request runs to its end on the routes
        (``links.hops``) and per-hop rates (``links.hop_sec_per_byte``) of the instant it was placed.
        """
        self._pinned[request_id] = links

    def attach(self, timeline: Timeline) -> None:
        """Record spans and resource samples into ``timeline`` from now on."""
        self.timeline = timeline

    def attach_meter(self, meter: Any) -> None:
        """Report busy intervals to ``meter`` (``begin``/``end`` at their instants, or ``charge`` of seconds)."""
        self.meter = meter
        self._energy = JobMeter(self._alarms, meter, self._instants)

    def cancel(self, request_id: int) -> None:
        """The request's current attempt failed: its jobs not yet started are skipped.

        A job already holding a CPU core or a radio, or already waiting for one,
        runs to its end (it cannot be recalled mid-transmission); no later job of
        that attempt starts.
        """
        self._attempt[request_id] = self._attempt.get(request_id, 0) + 1
        self._pinned.pop(request_id, None)
        run = self._runs.pop(request_id, None)
        if run is not None:
            # Interrupts come from churn and batteries only, where jobs report their own instants; charge
            # what a run without them would have charged at its end (nothing, unless cancelled by hand).
            self._energy.charge_run(run)

    # -- one request ---------------------------------------------------------
    def execute(self, request: Request, placement: Placement) -> Generator[simpy.Event, Any, ServiceTiming]:
        rid = request.id
        layers = list(zip(self.world.cnns[placement.cnn].layers, placement.assignments, strict=True))
        run = Run(rid, self._attempt.get(rid, 0), layers, self.env.event(), self.world.fleet.size)
        run.links = self._pinned.pop(rid, None)
        self._runs[rid] = run
        self._next_layer(run)
        self._settle()
        timing: ServiceTiming = yield run.done
        return timing

    def _live(self, run: Run) -> bool:
        return self._attempt.get(run.rid, 0) == run.attempt

    def _next_layer(self, run: Run) -> None:
        """Start the run's next layer that has jobs, or end the run."""
        n = self.world.fleet.size
        while run.index < len(run.layers):
            layer, cur = run.layers[run.index]
            run.index += 1
            flows = layer_transfers(layer, run.prev, cur, n)
            run.prev = cur
            inflows = np.bincount(flows.receivers, minlength=n)
            if layer.segment_mults:
                counts = np.bincount(cur, minlength=n)
                devices = np.flatnonzero(counts)
                mults = (counts[devices] * layer.segment_mults).tolist()
            else:
                devices = np.flatnonzero(inflows)  # a layer without multiplications: only its receivers wait
                mults = [0] * len(devices)
            if not len(devices):
                continue
            recs = {
                j: Receiver(run, j, m, k)
                for j, m, k in zip(devices.tolist(), mults, inflows[devices].tolist(), strict=True)
            }
            run.left = len(recs)
            run.crit = (-math.inf, 0, 0.0, 0.0, 0.0)
            run.layer, run.name = layer.index, layer.name
            now = self.env.now
            for rec in recs.values():
                if not rec.left:
                    self._ready(rec)
            if len(flows.senders):
                if (
                    run.links is None
                    and self._direct
                    and self._energy.closed_form
                    and len(flows.senders) >= _VECTOR_PAIRS
                ):
                    self._send_closed_form(run, recs, flows, now)
                else:
                    self._send_layer(run, recs, flows, now)
            return
        self._runs.pop(run.rid, None)
        self._energy.charge_run(run)
        run.done.succeed(ServiceTiming(compute_s=run.compute_s, transfer_s=run.transfer_s, wait_s=run.wait_s))

    def _send_closed_form(self, run: Run, recs: dict[int, Receiver], flows: Transfers, now: float) -> None:
        """A full mesh at full rate: every radio free now is granted now and its transfers' arrivals are computed
        at once, vectorised (:class:`LayerPairs`); radios held by other requests queue the rest."""
        pairs = LayerPairs(flows.senders, flows.receivers, flows.bytes, self._spb_array)
        rid = run.rid
        granted = np.zeros(len(pairs.senders), dtype=bool)
        queued = []
        for s, i in enumerate(pairs.senders):
            radio = self._radios[i]
            if radio.holder == rid and self._held(radio, now):
                granted[s] = True  # joins its own hold
            elif radio.queue or rid in radio.waiting or self._held(radio, now):
                queued.append(s)
            else:
                self._open_hold(radio, rid, run, now)
                granted[s] = True
        if queued:
            ranks = pairs.rank.tolist()
            receivers = flows.receivers.tolist()
            sizes = flows.bytes.tolist()
            bounds = [*pairs.sender_starts.tolist(), len(sizes)]
            for s in queued:
                items = [(recs[receivers[p]], ranks[p], sizes[p], now) for p in range(bounds[s], bounds[s + 1])]
                self._claim(self._radios[pairs.senders[s]], rid, items, run)
        if not granted.any():
            return
        last, best_k, transfer, pending, rx, hold, sent, tx = pairs.granted(granted, now)
        metered = self.meter is not None
        for r, j in enumerate(pairs.receivers):
            rec = recs[j]
            if metered:
                run.rx_s[j] += rx[r]
            if last[r] == -math.inf:
                continue
            rec.best_at, rec.best_k, rec.wait, rec.transfer, rec.left = last[r], best_k[r], 0.0, transfer[r], pending[r]
            if not rec.left:
                self._alarms.at(rec.best_at, self._ready, rec)
        for s, i in enumerate(pairs.senders):
            if not granted[s]:
                continue
            radio = self._radios[i]
            radio.hold_end = max(radio.hold_end, hold[s])
            radio.sent += sent[s]
            if metered:
                run.tx_s[i] += tx[s]
            if self.timeline is not None:
                self._alarms.at(radio.hold_end, self._close_hold, radio)

    def _send_layer(self, run: Run, recs: dict[int, Receiver], flows: Transfers, now: float) -> None:
        """Claim the first hop's radio of every transfer of the layer, one by one (pairs in (sender, receiver)
        order): over topologies and shared channels, or where the meter needs each hop's instants."""
        index: dict[int, int] = {}  # receiver -> inflows seen so far (the inflow's index k)
        senders, receivers, sizes = flows.senders.tolist(), flows.receivers.tolist(), flows.bytes.tolist()
        if run.links is None and self._direct:
            items: list[tuple[Receiver, int, int, float]] = []
            for pos, (i, j, nbytes) in enumerate(zip(senders, receivers, sizes, strict=True)):
                k = index.get(j, 0)
                index[j] = k + 1
                items.append((recs[j], k, nbytes, now))
                if pos + 1 == len(senders) or senders[pos + 1] != i:
                    self._claim(self._radios[i], run.rid, items, run)
                    items = []
            return
        links = run.links
        hops = self._hops if links is None else getattr(links, "hops", None)
        pinned_spb = None if links is None else getattr(links, "hop_sec_per_byte", None)
        for i, j, nbytes in zip(senders, receivers, sizes, strict=True):
            k = index.get(j, 0)
            index[j] = k + 1
            route = ((i, j),) if hops is None else hops(i, j)
            if pinned_spb is None:
                spb, rate = [self._spb[u] for u, _ in route], [self._rate[u] for u, _ in route]
            else:  # a request pinned to the links it was placed on: their per-hop rates
                spb = [pinned_spb(u, v) for u, v in route]
                rate = [8.0 / x for x in spb]
            hop = Hop(recs[j], k, route, nbytes, spb, rate)
            hop.asked = now
            self._claim(self._radios[i], run.rid, [hop], run)

    # -- radios ----------------------------------------------------------------
    def _held(self, radio: RadioCalendar, now: float) -> bool:
        return radio.active > 0 or radio.hold_end > now

    def _claim(self, radio: RadioCalendar, rid: int, items: list[Any], run: Run) -> None:
        """Ask ``radio`` for ``items`` (direct transfers or hops) of request ``rid``: join, wait or start a hold."""
        now = self.env.now
        if radio.holder == rid and self._held(radio, now):
            self._start_items(radio, items, now)
            return
        entry = radio.waiting.get(rid)
        if entry is not None:
            entry[1].extend(items)
            return
        if not radio.queue and not self._held(radio, now):
            self._open_hold(radio, rid, run, now)
            self._start_items(radio, items, now)
            return
        entry = [rid, list(items), run]
        radio.queue.append(entry)
        radio.waiting[rid] = entry
        self._sample_radio(radio, now)
        self._radio_alarm(radio)

    def _radio_alarm(self, radio: RadioCalendar) -> None:
        """Wake the radio when its hold ends, if claims wait (on a shared channel the last completion does)."""
        if radio.queue and not radio.alarm and radio.active == 0:
            radio.alarm = True
            self._alarms.at(radio.hold_end, self._radio_release, radio)

    def _radio_release(self, radio: RadioCalendar) -> None:
        radio.alarm = False
        self._grant_next(radio)
        self._radio_alarm(radio)

    def _grant_next(self, radio: RadioCalendar) -> None:
        """Give a free radio to the first waiting request: all its waiting items start now."""
        now = self.env.now
        if not radio.queue or self._held(radio, now):
            return
        rid, items, run = radio.queue.popleft()
        del radio.waiting[rid]
        self._open_hold(radio, rid, run, now)
        self._start_items(radio, items, now)

    def _open_hold(self, radio: RadioCalendar, rid: int, run: Run, now: float) -> None:
        if self.timeline is not None:
            self._close_hold(radio)
        radio.holder = rid
        radio.since, radio.sent, radio.layer, radio.layer_name = now, 0, run.layer, run.name
        radio.open = True
        self._sample_radio(radio, now)

    def _close_hold(self, radio: RadioCalendar, _arg: Any = None) -> None:
        """Record the radio's hold span once it has ended (trace)."""
        if not radio.open or self._held(radio, self.env.now):
            return
        radio.open = False
        assert self.timeline is not None
        end = self.env.now if math.isinf(radio.hold_end) else radio.hold_end
        self.timeline.span(
            Span(radio.device, "radio", 0, radio.since, end, radio.holder, radio.layer, radio.layer_name, radio.sent, 0)
        )
        self._sample_radio(radio, self.env.now)

    def _start_items(self, radio: RadioCalendar, items: list[Any], now: float) -> None:
        if type(items[0]) is tuple:
            self._start_direct(radio, items, now)
        else:
            for hop in items:
                self._start_hop(radio, hop, now)
        if self.timeline is not None and radio.active == 0:
            self._alarms.at(radio.hold_end, self._close_hold, radio)

    def _start_direct(self, radio: RadioCalendar, items: list[tuple[Receiver, int, int, float]], now: float) -> None:
        """One-hop transfers at full rate from ``radio``'s device, granted now: each ends in closed form."""
        u = radio.device
        spb = self._spb[u]
        hold_end = radio.hold_end if radio.hold_end > now else now
        for rec, k, nbytes, asked in items:
            end = now + nbytes * spb  # the instant a timeout started now would reach
            seconds = end - now
            radio.sent += nbytes
            if end > hold_end:
                hold_end = end
            self._energy.hop(rec.run, u, rec.device, now, end)
            self._deliver(rec, k, end, now - asked, seconds, False)
        radio.hold_end = hold_end

    def _start_hop(self, radio: RadioCalendar, hop: Hop, now: float) -> None:
        u, v = hop.route[hop.at]
        hop.wait += now - hop.asked
        radio.sent += hop.nbytes
        run = hop.rec.run
        if self._channel_of is not None:
            radio.active += 1
            radio.hold_end = math.inf
            token = self._energy.begin_hop(run, u, v)
            self._channel_of[u].start(
                hop.nbytes * 8.0, hop.rate[hop.at], lambda: self._hop_done(radio, hop, now, token)
            )
            return
        end = now + hop.nbytes * hop.spb[hop.at]
        if end > radio.hold_end:
            radio.hold_end = end
        self._energy.hop(run, u, v, now, end)
        hop.transmit += end - now
        if hop.at + 1 == len(hop.route):
            self._deliver(hop.rec, hop.k, end, hop.wait, hop.transmit, False)
        else:
            self._alarms.at(end, self._relay, hop)

    def _hop_done(self, radio: RadioCalendar, hop: Hop, started: float, token: Any) -> None:
        """A hop on a shared channel has crossed it (now)."""
        now = self.env.now
        u, v = hop.route[hop.at]
        hop.transmit += now - started
        run = hop.rec.run
        self._energy.end_hop(run, u, v, started, now, token)
        radio.active -= 1
        if radio.active == 0:
            radio.hold_end = now
            if self.timeline is not None:
                self._close_hold(radio)
            self._grant_next(radio)
        if hop.at + 1 == len(hop.route):
            self._deliver(hop.rec, hop.k, now, hop.wait, hop.transmit, True)
        else:
            self._relay(hop)

    def _relay(self, hop: Hop) -> None:
        """A hop reached a relay (now): claim the next hop's radio, unless the attempt was cancelled."""
        if not self._live(hop.rec.run):
            return
        hop.at += 1
        hop.asked = self.env.now
        self._claim(self._radios[hop.route[hop.at][0]], hop.rec.run.rid, [hop], hop.rec.run)

    def _deliver(self, rec: Receiver, k: int, at: float, wait: float, transfer: float, arrived: bool) -> None:
        """Input ``k`` of ``rec`` arrives at instant ``at`` with its chain's wait and transmission (s).

        ``arrived``: ``at`` is now and the caller is an event's callback, so a device whose inputs are all in
        may claim its CPU at once; closed-form arrivals (announced when their hop starts) always go through
        an alarm, so no layer ends while its own transfers are still being started.
        """
        if at > rec.best_at or (at == rec.best_at and k < rec.best_k):
            rec.best_at, rec.best_k, rec.wait, rec.transfer = at, k, wait, transfer
        rec.left -= 1
        if rec.left:
            return
        if rec.best_at > self.env.now or not arrived:
            self._alarms.at(rec.best_at, self._ready, rec)
        else:
            self._ready(rec)

    # -- CPUs -------------------------------------------------------------------
    def _ready(self, rec: Receiver) -> None:
        """All inputs of ``rec`` are in (now): claim its CPU, or end its job if it computes nothing."""
        run = rec.run
        if not self._live(run):
            return
        now = self.env.now
        if not rec.mults:
            self._job_done(rec, now, 0.0)
            return
        cpu = self._cpus[rec.device]
        core = -1 if cpu.queue else cpu.free_core(now)
        if core >= 0:
            self._compute(cpu, core, rec, now, now)
            return
        cpu.queue.append((rec, now))
        self._sample_cpu(cpu, now)
        self._cpu_alarm(cpu)

    def _cpu_alarm(self, cpu: CpuCalendar) -> None:
        if cpu.queue and not cpu.alarm:
            cpu.alarm = True
            self._alarms.at(min(cpu.free_at), self._cpu_release, cpu)

    def _cpu_release(self, cpu: CpuCalendar) -> None:
        cpu.alarm = False
        now = self.env.now
        while cpu.queue:
            core = cpu.free_core(now)
            if core < 0:
                break
            rec, asked = cpu.queue.popleft()
            self._compute(cpu, core, rec, now, asked)
        self._cpu_alarm(cpu)

    def _compute(self, cpu: CpuCalendar, core: int, rec: Receiver, now: float, asked: float) -> None:
        """Run ``rec``'s batch on ``core`` from now (it asked at ``asked``)."""
        compute = rec.mults / self._speed[rec.device]
        end = now + compute
        cpu.free_at[core] = end
        rec.wait += now - asked
        run = rec.run
        self._energy.cpu(run, rec.device, now, end)
        if self.timeline is not None:
            span = Span(rec.device, "cpu", core, now, end, run.rid, run.layer, run.name, 0, rec.mults)
            self._sample_cpu(cpu, now)
            self._alarms.at(end, self._cpu_span, (cpu, span))
        self._job_done(rec, end, compute)

    def _cpu_span(self, arg: tuple[CpuCalendar, Span]) -> None:
        cpu, span = arg
        assert self.timeline is not None
        self.timeline.span(span)
        self._sample_cpu(cpu, self.env.now)

    # -- layers ----------------------------------------------------------------
    def _job_done(self, rec: Receiver, end: float, compute: float) -> None:
        """``rec``'s job of the layer ends at ``end`` (known now); the layer ends with its last job."""
        run = rec.run
        crit = run.crit
        if end > crit[0] or (end == crit[0] and -rec.device > crit[1]):
            run.crit = (end, -rec.device, rec.wait, rec.transfer, compute)
        run.left -= 1
        if run.left:
            return
        if run.crit[0] > self.env.now:
            self._alarms.at(run.crit[0], self._layer_done, run)
        else:
            self._layer_done(run)

    def _layer_done(self, run: Run) -> None:
        if not self._live(run):
            return
        _, _, wait, transfer, compute = run.crit
        run.wait_s += wait
        run.transfer_s += transfer
        run.compute_s += compute
        self._next_layer(run)

    # -- the event loop's hooks ----------------------------------------------------
    def _settle(self) -> None:
        """After a batch of changes at one instant: set each shared channel's next completion once."""
        for channel in self._channels:
            channel.settle()

    # -- observability ---------------------------------------------------------
    def _sample_cpu(self, cpu: CpuCalendar, now: float) -> None:
        if self.timeline is not None:
            self.timeline.sample(now, cpu.device, "cpu", cpu.busy(now), len(cpu.queue))

    def _sample_radio(self, radio: RadioCalendar, now: float) -> None:
        if self.timeline is not None:
            self.timeline.sample(now, radio.device, "radio", int(radio.open), len(radio.queue))
