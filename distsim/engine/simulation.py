"""The SimPy simulation of one run (SPEC sections 4 and 7).

Requests arrive as a Poisson process; each picks its source by weight. On
arrival the scheduler places it against the residual budgets; a placement is
reserved until the timing model says the inference completed, then released.
A rejected request is retried by the retry policy and dropped after its last
attempt; a request that cannot fit even an idle fleet is dropped at once
(``fleet_too_small``).

Random streams: one ``numpy.random.Generator`` seeded from the run seed,
spawned into independent children for arrivals, source choice, the scheduler,
the timing model and churn, so changing one component's draws never shifts another's.

Energy (:mod:`distsim.engine.energy`) is metered for every run; churn and
battery deaths (:mod:`distsim.engine.dynamics`) interrupt the requests they
hit, which then restart or fail (docs/dynamics.md).

This module is over 600 lines because a request's whole life (placement
attempts, periodic windows, execution, failure and restart, drop, its record
and the run summary) shares one set of counters and the SimPy environment;
split up, every piece would pass that state around.
"""

from __future__ import annotations

import math
import time
from collections.abc import Generator
from dataclasses import dataclass, replace
from typing import IO, Any

import numpy as np
import simpy

from distsim.engine.dynamics import DeviceFailure, Dynamics, needs_dynamics
from distsim.engine.energy import J_PER_WH, Meter
from distsim.engine.ledger import Ledger
from distsim.engine.mobility import LiveLinks, needs_live_links
from distsim.engine.records import DeviceRecord, RecordSink, RequestRecord, Summary
from distsim.engine.timing import ServiceTiming, make_timing
from distsim.engine.trace import Timeline
from distsim.engine.windows import Windows, batch_placer
from distsim.errors import InputError
from distsim.io import compact_json
from distsim.model.devices import Links
from distsim.privacy.exposure import Exposure, received_maps, relayed_maps
from distsim.scheduling.base import (
    ClusterView,
    Constraint,
    Decision,
    Placement,
    Rejection,
    Request,
    Scheduler,
    min_participants,
)
from distsim.scheduling.registry import make_scheduler
from distsim.world import World

#: Child stream order; appending a name never changes the streams before it.
STREAMS = ("arrivals", "sources", "scheduler", "timing", "churn", "mobility")


def spawn_streams(seed: int) -> dict[str, np.random.Generator]:
    """Independent child generators for every component of a run."""
    children = np.random.SeedSequence(seed).spawn(len(STREAMS))
    return {name: np.random.default_rng(child) for name, child in zip(STREAMS, children, strict=True)}


def placement_line(request: Request, placement: Placement, world: World, relays: list[dict[int, int]]) -> str:
    """One served request's placement as a JSON line (``distsim run --placements``, docs/privacy.md).

    Per layer: its 1-based index and name, the segments each device computes
    (``segments``: device name -> count) and, over a topology without
    ``network.encrypted_links``, the maps each participant relays (``relays``).
    """
    names = world.fleet.names
    cnn = world.cnns[request.cnn]
    layers = []
    for k, (layer, array) in enumerate(zip(cnn.layers, placement.assignments, strict=True)):
        devices, counts = np.unique(array, return_counts=True)
        forwarded = relays[k] if relays else {}
        layers.append(
            {
                "layer": layer.index,
                "name": layer.name,
                "segments": {names[d]: c for d, c in zip(devices.tolist(), counts.tolist(), strict=True)},
                "relays": {names[d]: forwarded[d] for d in sorted(forwarded)},
            }
        )
    record = {"request_id": request.id, "source": names[request.source], "cnn": request.cnn, "layers": layers}
    return compact_json(record)


@dataclass(slots=True)
class _Progress:
    """A request's attempts so far (mutable while it is served)."""

    attempts: int = 0
    since_restart: int = 0
    restarts: int = 0
    rejected_first: bool = False
    last: Rejection | None = None
    failed: bool = False


class Simulation:
    """One run of a world: build it, call :meth:`run`, read the summary and device rows."""

    def __init__(
        self,
        world: World,
        sink: RecordSink,
        *,
        seed: int | None = None,
        trace: bool = False,
        scheduler: Scheduler | None = None,
        placements: IO[str] | None = None,
    ) -> None:
        settings = world.run
        self.world = world
        self.sink = sink
        self.seed = settings.seed if seed is None else seed
        self.streams = spawn_streams(self.seed)
        self.env = simpy.Environment()
        self.ledger = Ledger(world)
        # ``scheduler`` replaces the scenario's (the Gymnasium environment drives a run this way); a
        # mechanism that offloads to a server fixes the placement itself (scheduling/offload.py).
        if scheduler is None and world.server is not None:
            from distsim.scheduling.offload import Offload

            scheduler = Offload(world)
        self.scheduler: Scheduler = scheduler or make_scheduler(
            settings.scheduler, dict(settings.scheduler_params), world, self.streams["scheduler"]
        )
        self._scheduler_name = settings.scheduler if scheduler is None else str(scheduler.name)
        self.timing = make_timing(settings.timing, self.env, world, self.streams["timing"])
        #: Spans and queue lengths of the run when ``trace`` (needs a timing model with ``attach``), else None.
        self.timeline: Timeline | None = None
        if trace:
            attach = getattr(self.timing, "attach", None)
            if attach is None:
                raise InputError(
                    f"a trace needs simulation.timing: contention (timing "
                    f"{settings.timing!r} has no per-device timeline)",
                    field="simulation.timing",
                )
            cores = getattr(self.timing, "cores", (1,) * world.fleet.size)
            self.timeline = Timeline(world.fleet.names, world.fleet.types, cores)
            attach(self.timeline)
        self.retry = settings.retry
        self._released = self.env.event()
        #: Energy of every device (docs/energy.md); a timing model with ``attach_meter`` reports its busy intervals.
        self.meter = Meter(self.env, world)
        attach_meter = getattr(self.timing, "attach_meter", None)
        self._job_metered = attach_meter is not None
        if attach_meter is not None:
            attach_meter(self.meter)
        #: The world whose links are current (mobility or churn over a topology replace its links).
        self.world_now = world
        #: Links that change during the run (docs/dynamics.md), or None when they never do.
        self.live: LiveLinks | None = None
        if needs_live_links(world):
            self.live = LiveLinks(self.env, world, self.streams["mobility"], self._relink)
        # request id -> the links it was placed on (only while links change during the run).
        self._placed_on: dict[int, Links] = {}
        self._decided_on: Links = world.links
        self._pin = getattr(self.timing, "pin_links", None)
        #: Churn and battery deaths (docs/dynamics.md), or None for a static fleet.
        self.dynamics: Dynamics | None = None
        if needs_dynamics(world):
            self.dynamics = Dynamics(self, self.meter, self.streams["churn"])
        self._ended = 0
        self._all_ended = self.env.event()
        #: Periodic placement (``simulation.placement_period_s``): window index -> its end event.
        self._period = settings.placement_period_s
        self._windows: dict[int, simpy.Event] = {}
        #: With a period and a batch-capable scheduler, each window is placed in one call (engine/windows.py).
        place_batch = batch_placer(self.scheduler) if self._period is not None else None
        self.batch_windows: Windows | None = None if place_batch is None else Windows(place_batch)
        self._served_energy_j = 0.0
        self._requests_energy_j = 0.0
        n = world.fleet.size
        self._segments = np.zeros(n, dtype=np.int64)
        self._requests_on = np.zeros(n, dtype=np.int64)
        self._busy_s = np.zeros(n)
        self._sent = np.zeros(n, dtype=np.int64)
        self._received = np.zeros(n, dtype=np.int64)
        self._too_small: dict[int, Rejection | None] = {}
        self._repeatable = bool(getattr(self.scheduler, "repeatable", False))
        self._certified = world.mechanism.certifies and bool(getattr(self.scheduler, "honours_privacy", True))
        self._exposures: list[float] = []
        #: Where one JSON line per served request goes (``distsim run --placements``), or None.
        self._placements = placements
        self._accuracies: list[float] = []
        self._last_rejection: dict[int, tuple[int, Rejection]] = {}
        self._counts = {
            "served": 0,
            "dropped_fleet_too_small": 0,
            "dropped_unreachable": 0,
            "dropped_max_attempts": 0,
            "rejected": 0,
            "load_rejected": 0,
            "attempts": 0,
            "failed": 0,
            "restarts": 0,
        }
        self._latency_sum = 0.0
        self._queue_sum = 0.0
        self._shared = 0
        self._last_end = 0.0
        self._first_arrival = math.nan
        self._arrived = 0

    # -- fleet_too_small -------------------------------------------------
    def _idle_rejection(self, request: Request) -> Rejection | None:
        """Rejection of ``request`` on an idle fleet (cached per source), or None if it fits.

        The minimum fleet is the one *this scheduler* needs under the
        constraints it honours (:func:`~distsim.scheduling.base.min_participants`):
        a baseline that lifts privacy is not held to the mechanism's minimum.
        """
        if request.source not in self._too_small:
            world = self.world
            need = min_participants(self.scheduler, world, request.cnn)
            verdict: Rejection | None = None
            if need > world.fleet.participants:
                verdict = Rejection(
                    request.id,
                    0,
                    "",
                    Constraint.FLEET_TOO_SMALL,
                    f"{request.cnn} at max_ssim {world.limits[request.cnn].tau} needs at least "
                    f"{need} participants, the fleet has {world.fleet.participants}",
                )
            elif self._repeatable and self.live is None:
                # (With links that change, a request unplaceable now may be placeable later.)
                # Only a scheduler whose decision depends on nothing but the
                # request's source and the residuals can be judged by one probe.
                probe = self.scheduler.place(request, ClusterView.idle(world))
                if isinstance(probe, Rejection):
                    # Maps that cannot reach anyone are a topology problem, not a small fleet.
                    why = (
                        Constraint.UNREACHABLE
                        if probe.constraint is Constraint.UNREACHABLE
                        else Constraint.FLEET_TOO_SMALL
                    )
                    verdict = Rejection(
                        request.id,
                        probe.layer,
                        probe.layer_name,
                        why,
                        f"rejected even on an idle fleet: {probe.detail}",
                    )
            self._too_small[request.source] = verdict
        return self._too_small[request.source]

    def _relink(self, links: Links) -> None:
        """The links changed (a move, a device down or up over a topology): views use them from now on."""
        self.world_now = replace(self.world, links=links)
        self.ledger.world = self.world_now
        self.ledger.version += 1  # cached rejections were decided on the old links
        self.wake()

    def _exposure(self, request: Request, placement: Placement, links: Links) -> Exposure:
        """What ``placement`` exposes to ``privacy.colluders`` colluding untrusted devices.

        Checks the invariant on every served request: a placement that a
        privacy-honouring scheduler made under a certifying mechanism, with
        no extrapolated value, keeps every single device at or below ``tau``.
        """
        world = self.world
        cnn = world.cnns[request.cnn]
        fleet = world.fleet
        counts = received_maps(cnn, placement.assignments, fleet.participants)
        mechanism = world.mechanism
        colluders = world.run.colluders
        relays: list[dict[int, int]] = []
        seen = counts
        if not world.encrypted_links and hasattr(links, "route"):
            # Relays on a multi-hop route see what they forward (docs/privacy.md).
            relays = relayed_maps(cnn, placement.assignments, links, fleet.participants, fleet.size)
            if any(relays):
                seen = counts.copy()
                for held, forwarded in zip(seen, relays, strict=True):
                    for device, maps in forwarded.items():
                        held[device] += maps
        if self._placements is not None:
            self._placements.write(placement_line(request, placement, world, relays) + "\n")
        exposure = mechanism.exposure(cnn, seen, colluders)
        if self._certified and not exposure.extrapolated:
            # What each device computed plus what it relayed: relays count in the caps (distsim.placement).
            # The same call as above when one device attacks alone.
            single = exposure if colluders == 1 else mechanism.exposure(cnn, seen, 1)
            if single.ssim > world.run.max_ssim:
                raise AssertionError(
                    f"request {request.id}: a certified placement exposes SSIM {single.ssim} at "
                    f"{single.layer} > max_ssim {world.run.max_ssim}"
                )
        return exposure

    def _view(self) -> ClusterView:
        """The residual budgets now (without departed devices under churn)."""
        view = self.ledger.view() if self.dynamics is None else self.dynamics.view(self.ledger)
        # The links the next placement is decided on (a window's joint placement is decided on the
        # first view of its window end, even if the links change at that same instant).
        self._decided_on = view.links
        return view

    def _admitted(self, request: Request) -> bool:
        """True unless the request is dropped before any decision (``fleet_too_small``)."""
        return self._idle_rejection(request) is None

    def _decide(self, request: Request, window: int | None = None) -> Placement | Rejection:
        """The scheduler's decision on the current ledger.

        In a periodic ``window`` with a batch-capable scheduler the decision is
        this request's part of the window's joint placement (:mod:`distsim.engine.windows`).
        Else, a scheduler declaring ``repeatable = True`` decides from the request's
        source (hence CNN) and the residual budgets alone. So when the last
        decision for this source was a rejection and the ledger has not changed
        since (same :attr:`Ledger.version`), that rejection is what the
        scheduler would return again: it is reused, with this request's id,
        instead of re-running the scheduler (most retries of a busy run).
        """
        decision: Decision
        batched = self.batch_windows is not None and window is not None
        if batched:
            assert self.batch_windows is not None and window is not None
            decision = self.batch_windows.decision(window, request, self._admitted, self._view)
        else:
            if self._repeatable:
                cached = self._last_rejection.get(request.source)
                if cached is not None and cached[0] == self.ledger.version:
                    return replace(cached[1], request_id=request.id)
            decision = self.scheduler.place(request, self._view())
        if self.dynamics is not None and isinstance(decision, Placement):
            departed = self.dynamics.departed_in(decision)
            if departed is not None:
                decision = Rejection(
                    request.id,
                    0,
                    "",
                    Constraint.NO_PARTICIPANTS,
                    f"the placement uses departed device {self.world.fleet.names[departed]}",
                )
        if self._repeatable and isinstance(decision, Rejection) and not batched:
            self._last_rejection[request.source] = (self.ledger.version, decision)
        return decision

    # -- processes ---------------------------------------------------------
    def _arrivals(self) -> Generator[simpy.Event, Any, None]:
        settings = self.world.run
        arrivals, sources = self.streams["arrivals"], self.streams["sources"]
        first_source = self.world.fleet.participants
        weights = self.world.source_weights
        for k in range(settings.requests):
            yield self.env.timeout(float(arrivals.exponential(1.0 / settings.rate_per_s)))
            source = first_source + int(sources.choice(len(weights), p=weights))
            request = Request(k, source, self.world.fleet.source_cnn[source - first_source], self.env.now)
            if k == 0:
                self._first_arrival = self.env.now
            self._arrived += 1
            self.env.process(self._serve(request))

    def _place(self, request: Request, progress: _Progress) -> Generator[simpy.Event, Any, Placement | None]:
        """Attempt placements by the retry policy; the placement, or None once the request is dropped.

        With ``simulation.placement_period_s`` every attempt waits for the end of
        the current window (docs/dynamics.md), instead of the retry policy's wait,
        and, with a batch-capable scheduler, is decided with the whole window.
        """
        while True:
            window: int | None = None
            if self._period is not None:
                window, end = self._window_end()
                if self.batch_windows is not None:
                    self.batch_windows.wait(window, request)
                yield end
            progress.attempts += 1
            progress.since_restart += 1
            if progress.attempts == 1:
                too_small = self._idle_rejection(request)
                if too_small is not None:
                    self._counts["rejected"] += 1
                    self._drop(request, progress.attempts, str(too_small.constraint), too_small, progress.restarts)
                    return None
            decision = self._decide(request, window)
            if isinstance(decision, Placement):
                return decision
            progress.last = decision
            if progress.attempts == 1:
                progress.rejected_first = True
                self._counts["rejected"] += 1
                self._counts["load_rejected"] += 1
            if progress.since_restart >= self.retry.max_attempts:
                self._drop(request, progress.attempts, "max_attempts", decision, progress.restarts)
                return None
            if self._period is not None:
                continue
            if self.retry.mode == "on_release" and self.ledger.in_flight > 0:
                yield self._released
            else:
                # With nothing in flight no release will come: fall back to the interval.
                yield self.env.timeout(self.retry.interval_s)

    def _window_end(self) -> tuple[int, simpy.Event]:
        """The current placement window's index and the event at its end (one per window, shared).

        Requests waiting on it resume at the same instant in the order they began
        waiting, i.e. in arrival order (retries behind the requests already waiting).
        """
        assert self._period is not None
        now = self.env.now
        k = math.floor(now / self._period) + 1
        event = self._windows.get(k)
        if event is None:
            event = self.env.timeout(k * self._period - now)
            self._windows = {key: ev for key, ev in self._windows.items() if key >= k}
            self._windows[k] = event
        return k, event

    def _execute(
        self, request: Request, placement: Placement, progress: _Progress
    ) -> Generator[simpy.Event, Any, ServiceTiming | None]:
        """Reserve and run ``placement``; its timing, or None if a device it used went down (docs/dynamics.md).

        On a failure what it holds is released once; under ``churn.policy: fail``
        the request is recorded as failed (``progress.failed``), else it restarts.
        """
        self.ledger.reserve(placement.cost)
        start = self.env.now
        # In flight, a request keeps the links it was placed on (docs/dynamics.md).
        links = self._decided_on
        if self.live is not None:
            self._placed_on[request.id] = links
            if self._pin is not None:
                self._pin(request.id, links)
        if not self._job_metered:
            self.meter.start_request(request.id, placement, placement.cost.latency_s, links)
        else:
            self.meter.open_request(request.id)
        if self.dynamics is not None:
            process = self.env.active_process
            assert process is not None
            self.dynamics.register(request.id, process, placement, links)
        try:
            timing: ServiceTiming = yield from self.timing.execute(request, placement)
        except simpy.Interrupt as stop:
            self._release(placement)
            cancel = getattr(self.timing, "cancel", None)
            if cancel is not None:
                cancel(request.id)
            self.meter.stop_request(request.id)
            reason = stop.cause.reason if isinstance(stop.cause, DeviceFailure) else str(stop.cause)
            if self.world.churn.policy == "fail":
                self._fail(request, progress.attempts, progress.restarts, reason, start)
                progress.failed = True
            else:
                progress.restarts += 1
                self._counts["restarts"] += 1
                progress.since_restart = 0
            return None
        return timing

    def _serve(self, request: Request) -> Generator[simpy.Event, Any, None]:
        progress = _Progress()
        while True:
            placed = yield from self._place(request, progress)
            if placed is None:
                return
            placement = placed
            start = self.env.now
            timing = yield from self._execute(request, placement, progress)
            if timing is not None:
                break
            if progress.failed:
                return
        attempts, restarts, rejected_first, last = (
            progress.attempts,
            progress.restarts,
            progress.rejected_first,
            progress.last,
        )
        if self.dynamics is not None:
            self.dynamics.unregister(request.id)
        self._release(placement)
        finish = self.env.now
        energy = self.meter.finish_request(request.id)
        self._served_energy_j += energy.compute_j + energy.radio_j
        self._requests_energy_j += energy.compute_j + energy.radio_j
        self._account(placement)
        links = self._placed_on.pop(request.id, self.world.links)
        exposure = self._exposure(request, placement, links)
        self._exposures.append(exposure.ssim)
        accuracy = self.world.mechanism.accuracy_pct(self.world.cnns[request.cnn])
        if accuracy is not None:
            self._accuracies.append(accuracy)
        nan = math.nan
        latency = finish - request.arrival_at
        self._counts["served"] += 1
        self._counts["attempts"] += attempts
        self._latency_sum += latency
        self._queue_sum += start - request.arrival_at
        self._shared += placement.cost.shared_bytes
        self._last_end = max(self._last_end, finish)
        self.sink.add(
            RequestRecord(
                request_id=request.id,
                source=self.world.fleet.names[request.source],
                cnn=request.cnn,
                arrival_at=request.arrival_at,
                start_at=start,
                finish_at=finish,
                latency_s=latency,
                queue_s=start - request.arrival_at,
                compute_s=timing.compute_s,
                transfer_s=timing.transfer_s,
                wait_s=timing.wait_s,
                attempts=attempts,
                rejected=rejected_first,
                dropped=False,
                drop_reason="",
                last_rejection=last.reason if last is not None else "",
                shared_bytes=placement.cost.shared_bytes,
                devices_used=placement.cost.devices_used,
                exposure_ssim=exposure.ssim,
                exposure_layer=exposure.layer,
                exposure_extrapolated=exposure.extrapolated,
                accuracy_pct=nan if accuracy is None else accuracy,
                energy_compute_j=energy.compute_j,
                energy_radio_j=energy.radio_j,
                restarts=restarts,
            )
        )
        self._end_one()

    def _release(self, placement: Placement) -> None:
        """Give back what ``placement`` holds and wake requests waiting for a release."""
        self.ledger.release(placement.cost)
        self.wake()

    def wake(self) -> None:
        """Wake every request waiting for a release (``on_release``): resources came back."""
        released, self._released = self._released, self.env.event()
        released.succeed()

    @property
    def ended(self) -> simpy.Event:
        """Triggers when the last request has ended."""
        return self._all_ended

    def _end_one(self) -> None:
        self._ended += 1
        if self._ended == self.world.run.requests:
            self._all_ended.succeed()

    def _fail(self, request: Request, attempts: int, restarts: int, reason: str, start: float) -> None:
        """End ``request`` as failed: a device it used went down during its service."""
        self._counts["failed"] += 1
        self._unserved(
            request,
            attempts,
            restarts,
            start_at=start,
            queue_s=start - request.arrival_at,
            rejected=False,
            failed=True,
            failure=reason,
        )

    def _drop(self, request: Request, attempts: int, why: str, last: Rejection, restarts: int = 0) -> None:
        key = {"fleet_too_small": "dropped_fleet_too_small", "unreachable": "dropped_unreachable"}.get(
            why, "dropped_max_attempts"
        )
        self._counts[key] += 1
        self._unserved(request, attempts, restarts, dropped=True, drop_reason=why, last_rejection=last.reason)

    def _unserved(self, request: Request, attempts: int, restarts: int, **outcome: Any) -> None:
        """Record a request that ended without being served (dropped or failed) and count it ended.

        ``outcome`` sets the record fields that differ between the two; a request
        restarted after a failure, then dropped, drew energy in its failed attempts.
        """
        self._counts["attempts"] += attempts
        self._last_end = max(self._last_end, self.env.now)
        energy = self.meter.finish_request(request.id)
        self._requests_energy_j += energy.compute_j + energy.radio_j
        nan = math.nan
        fields: dict[str, Any] = {
            "start_at": nan,
            "queue_s": nan,
            "rejected": True,
            "dropped": False,
            "drop_reason": "",
            "last_rejection": "",
            **outcome,
        }
        self.sink.add(
            RequestRecord(
                request_id=request.id,
                source=self.world.fleet.names[request.source],
                cnn=request.cnn,
                arrival_at=request.arrival_at,
                finish_at=self.env.now,
                latency_s=nan,
                compute_s=nan,
                transfer_s=nan,
                wait_s=nan,
                attempts=attempts,
                shared_bytes=0,
                devices_used=0,
                energy_compute_j=energy.compute_j,
                energy_radio_j=energy.radio_j,
                restarts=restarts,
                **fields,
            )
        )
        self._end_one()

    def _account(self, placement: Placement) -> None:
        cost = placement.cost
        self._segments += cost.segments
        self._requests_on += cost.segments > 0
        self._received += cost.received_bytes
        self._busy_s += cost.compute_mults / self.world.fleet.mults_per_s
        self._sent += cost.bandwidth_bytes

    # -- driver ------------------------------------------------------------
    def run(self) -> Summary:
        """Simulate every request to its end (or until ``simulation.max_wall_s``); return the summary."""
        self.env.process(self._arrivals())
        if self.live is not None:
            self.live.start(self._all_ended)
        limit = self.world.run.max_wall_s
        complete = True
        endless = self.dynamics is not None or self.live is not None
        if limit is None and not endless:
            self.env.run()
        elif limit is None:
            # Churn and movement never end by themselves: stop when the last request has ended.
            self.env.run(until=self._all_ended)
        else:
            complete = self._run_until_wall(time.perf_counter() + limit)
        if complete and not self.ledger.is_idle():
            raise AssertionError("budgets not restored after the run")
        if complete and self.ledger.in_flight != 0:
            raise AssertionError(f"{self.ledger.in_flight} placements still held after the run")
        self._close_energy()
        return replace(self._summary(), complete=complete)

    def _run_until_wall(self, deadline: float) -> bool:
        """Step the simulation until it ends (True) or the wall clock passes ``deadline`` (False)."""
        env = self.env
        while True:
            if (self.dynamics is not None or self.live is not None) and self._all_ended.triggered:
                return True  # churn and movement would go on forever: the run ends with its last request
            if time.perf_counter() >= deadline:
                return env.peek() == math.inf
            try:
                env.step()
            except simpy.core.EmptySchedule:
                return True

    def _close_energy(self) -> None:
        """Idle power runs from 0 to the end of the run (the last request's end): integrate up to it."""
        self.meter.close()
        if self.dynamics is not None and len(self.dynamics.battery_ids):
            self.dynamics.sample_charge()

    def _summary(self) -> Summary:
        settings = self.world.run
        c = self._counts
        arrived = self._arrived
        served = c["served"]
        latencies = self.sink.latencies()
        exposures = np.array(self._exposures, dtype=np.float64)
        nan = math.nan

        def pct(q: float) -> float:
            return float(np.percentile(latencies, q)) if len(latencies) else nan

        span = self._last_end - self._first_arrival if arrived else 0.0
        return Summary(
            scenario=settings.name,
            seed=self.seed,
            scheduler=self._scheduler_name,
            timing=settings.timing,
            max_ssim=settings.max_ssim,
            participants=self.world.fleet.participants,
            requests=arrived,
            served=served,
            dropped=c["dropped_fleet_too_small"] + c["dropped_max_attempts"] + c["dropped_unreachable"],
            dropped_fleet_too_small=c["dropped_fleet_too_small"],
            dropped_max_attempts=c["dropped_max_attempts"],
            rejected_first_attempt=c["rejected"],
            rejection_rate=c["rejected"] / arrived if arrived else 0.0,
            load_rejection_rate=c["load_rejected"] / arrived if arrived else 0.0,
            attempts_mean=c["attempts"] / arrived if arrived else 0.0,
            latency_mean_s=self._latency_sum / served if served else nan,
            latency_p50_s=pct(50),
            latency_p95_s=pct(95),
            latency_p99_s=pct(99),
            latency_max_s=float(latencies.max()) if len(latencies) else nan,
            total_latency_s=self._latency_sum,
            queue_mean_s=self._queue_sum / served if served else nan,
            shared_bytes=self._shared,
            shared_bytes_per_request=self._shared / served if served else 0.0,
            throughput_per_s=served / span if span > 0 else 0.0,
            makespan_s=self._last_end,
            extrapolated_limits=any(limit.extrapolated for limit in self.world.limits.values()),
            mechanism=settings.mechanism,
            colluders=settings.colluders,
            exposure_mean=float(exposures.mean()) if len(exposures) else nan,
            exposure_max=float(exposures.max()) if len(exposures) else nan,
            exposure_above_tau_share=float((exposures > settings.max_ssim).mean()) if len(exposures) else 0.0,
            dropped_unreachable=c["dropped_unreachable"],
            exposure_attack=self.world.mechanism.exposure_attack,
            accuracy_mean_pct=float(np.mean(self._accuracies)) if self._accuracies else nan,
            failed=c["failed"],
            restarts=c["restarts"],
            energy_j=float(self.meter.total_j.sum()),
            energy_requests_j=self._requests_energy_j,
            energy_per_served_j=self._served_energy_j / served if served else nan,
            battery_deaths=0 if self.dynamics is None else int(self.dynamics.dead.sum()),
            first_death_at=nan if self.dynamics is None else self.dynamics.first_death_at,
            lifetime_at=nan if self.dynamics is None else self.dynamics.lifetime_at,
            availability_mean=1.0 if self.dynamics is None else self.dynamics.availability_mean(self._last_end),
        )

    def device_records(self) -> list[DeviceRecord]:
        """Per-device totals (call after :meth:`run`)."""
        fleet = self.world.fleet
        span = self._last_end if self._last_end > 0 else 1.0
        meter = self.meter
        total = meter.total_j
        died = np.full(fleet.size, math.nan) if self.dynamics is None else self.dynamics.died_at
        capacity = meter.battery_j
        left_wh = np.where(np.isfinite(capacity), (capacity - total) / J_PER_WH, math.nan)
        return [
            DeviceRecord(
                device=fleet.names[i],
                role="participant" if i < fleet.participants else "source" if i in fleet.sources else "server",
                type=fleet.types[i],
                radio=fleet.radios[i],
                segments=int(self._segments[i]),
                requests=int(self._requests_on[i]),
                busy_s=float(self._busy_s[i]),
                utilisation=float(self._busy_s[i] / span),
                sent_bytes=int(self._sent[i]),
                received_bytes=int(self._received[i]),
                energy_j=float(total[i]),
                idle_energy_j=float(total[i] - meter.compute_j[i] - meter.radio_j[i]),
                compute_energy_j=float(meter.compute_j[i]),
                radio_energy_j=float(meter.radio_j[i]),
                up_s=float(meter.up_s[i]),
                battery_left_wh=float(left_wh[i]),
                died_at=float(died[i]),
            )
            for i in range(fleet.size)
        ]
