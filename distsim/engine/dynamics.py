"""A living fleet: participants that leave and join (churn) or die (empty batteries) during a run.

See docs/dynamics.md. The rules, in one place:

* Only participants churn or run on batteries; sources (the cameras) are always up.
* A participant is *up* or *down*. A down participant offers nothing: in the
  scheduler's view its residual compute, memory and bandwidth read ``0`` and
  ``view.available`` marks it False. A scheduler may still put segments that
  need nothing (ReLU, pooling) on it; the engine then treats the placement as
  rejected (``no_participants``, "uses departed device") and retries it. Its budgets stay in
  the ledger untouched (nothing it held is lost or released twice).
* A placement holds every device it uses (computes on, sends from or receives
  on) for its whole service, as it holds their budgets. When such a device
  goes down, each in-flight request using it (in request-id order) fails at
  that instant: what it holds is released once, and the churn policy decides:
  ``restart`` places it again from now (a new attempt; latency still counts
  from its first arrival), ``fail`` ends it as failed.
* Random churn: each participant of a type listed in ``churn.random`` alternates
  exponential up-times and down-times (means ``up_mean_s``, ``down_mean_s``),
  drawn from its own child stream of the run's ``churn`` stream, and starts in
  the stationary state (up with probability ``up / (up + down)``), so the
  fraction of time it is up is ``up / (up + down)`` in expectation over any window.
* Scheduled outages (``churn.schedule``) take a device down at ``down_at`` and
  back at ``up_at`` (or never).
* Over a topology a down device is removed from the links while it is down (it
  neither receives nor relays; :mod:`distsim.engine.mobility` rebuilds them), and
  the relays on a placement's routes count as devices it uses.
* A battery that empties takes its participant down for good.
* A device coming back wakes requests waiting for a release (``on_release``).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import simpy

from distsim.engine.energy import ChargeSeries, Meter, phase_times
from distsim.model.devices import Links
from distsim.scheduling.base import ClusterView, Placement
from distsim.world import World

if TYPE_CHECKING:
    from distsim.engine.ledger import Ledger
    from distsim.engine.simulation import Simulation

BoolArray = npt.NDArray[np.bool_]


class DeviceFailure(Exception):
    """Why an in-flight request was interrupted: ``reason`` is ``down:<device>`` or ``battery:<device>``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def needs_dynamics(world: World) -> bool:
    """True when the run has churn or batteries, i.e. the fleet changes during the run."""
    return world.churn.active or world.energy.batteries


class Dynamics:
    """Availability of every device, in-flight requests that depend on them, and the fleet's time series."""

    def __init__(self, sim: Simulation, meter: Meter, rng: np.random.Generator) -> None:
        self.sim = sim
        self.env = sim.env
        world = sim.world
        self.world = world
        self.meter = meter
        self.participants = world.fleet.participants
        self.up: BoolArray = np.ones(world.fleet.size, dtype=bool)
        self.dead: BoolArray = np.zeros(world.fleet.size, dtype=bool)
        self.died_at = np.full(world.fleet.size, math.nan)
        self.policy = world.churn.policy
        # request id -> (its service process, devices it uses)
        self._in_flight: dict[int, tuple[simpy.Process, BoolArray]] = {}
        #: (instant, participants up) at t = 0 and after every change.
        self.series: list[tuple[float, int]] = [(0.0, self.participants)]
        self._up_integral = 0.0
        self._last_change = 0.0
        self._battery_powered = int(np.isfinite(meter.battery_j[: self.participants]).sum())
        self.first_death_at = math.nan
        self.lifetime_at = math.nan
        self._lifetime_deaths = (
            math.ceil(world.energy.lifetime_fraction * self._battery_powered - 1e-9) if self._battery_powered else 0
        )
        meter._on_empty = self._battery_empty
        #: Battery-powered participants, ascending ids.
        self.battery_ids = np.flatnonzero(np.isfinite(meter.battery_j[: self.participants]))
        self._charge_at: list[float] = []
        self._charge_wh: list[tuple[float, ...]] = []
        if len(self.battery_ids):
            self.sample_charge()
            self.env.process(self._sample_every(world.energy.charge_sample_s))
        self._start_churn(rng)

    # -- churn processes -----------------------------------------------------
    def _start_churn(self, rng: np.random.Generator) -> None:
        churn = self.world.churn
        # One child stream per participant, in id order, whether or not it churns:
        # adding a type to churn.random never shifts another device's draws.
        streams = rng.spawn(self.participants)
        for device in range(self.participants):
            times = churn.times[device]
            if times is not None:
                self.env.process(self._random(device, times[0], times[1], streams[device]))
        for device, down_at, up_at in churn.schedule:
            self.env.process(self._outage(device, down_at, up_at))

    def _random(
        self, device: int, up_mean: float, down_mean: float, rng: np.random.Generator
    ) -> Generator[simpy.Event, Any, None]:
        # Stationary start: exponential times are memoryless, so the residual time in
        # the initial state has the same law as a full period.
        is_up = bool(rng.random() < up_mean / (up_mean + down_mean))
        if not is_up:
            self.set_up(device, False, f"down:{self.world.fleet.names[device]}")
        while not self.dead[device]:
            yield self.env.timeout(float(rng.exponential(up_mean if is_up else down_mean)))
            is_up = not is_up
            self.set_up(device, is_up, f"down:{self.world.fleet.names[device]}")

    def _outage(self, device: int, down_at: float, up_at: float | None) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(down_at)
        self.set_up(device, False, f"down:{self.world.fleet.names[device]}")
        if up_at is not None:
            yield self.env.timeout(up_at - down_at)
            self.set_up(device, True, "")

    def _battery_empty(self, device: int) -> None:
        now = self.env.now
        self.dead[device] = True
        self.died_at[device] = now
        if math.isnan(self.first_death_at):
            self.first_death_at = now
        deaths = int(self.dead[: self.participants].sum())
        if self._lifetime_deaths and deaths >= self._lifetime_deaths and math.isnan(self.lifetime_at):
            self.lifetime_at = now
        self.set_up(device, False, f"battery:{self.world.fleet.names[device]}", force=True)
        self.sample_charge()

    # -- remaining charge ------------------------------------------------------
    def _sample_every(self, interval_s: float) -> Generator[simpy.Event, Any, None]:
        # Reading the charge does not advance the meter's integral, so sampling changes no result.
        ended = self.sim.ended
        while not ended.triggered:
            yield self.env.timeout(interval_s)
            if not ended.triggered:
                self.sample_charge()

    def sample_charge(self) -> None:
        """Record the charge left in every battery now (a second sample at one instant replaces the first)."""
        row = tuple(self.meter.charge_left_wh(self.battery_ids).tolist())
        now = float(self.env.now)  # a battery timer may leave a numpy float
        if self._charge_at and self._charge_at[-1] == now:
            self._charge_wh[-1] = row
            return
        self._charge_at.append(now)
        self._charge_wh.append(row)

    def charge_series(self) -> ChargeSeries | None:
        """The remaining-charge series (None when no participant runs on a battery)."""
        if not len(self.battery_ids):
            return None
        names = tuple(self.world.fleet.names[i] for i in self.battery_ids.tolist())
        return ChargeSeries(names, tuple(self._charge_at), tuple(self._charge_wh))

    # -- state changes ---------------------------------------------------------
    def set_up(self, device: int, up: bool, reason: str, force: bool = False) -> None:
        """Take a participant down (failing the requests that use it) or bring it back."""
        if up and self.dead[device]:
            return  # an empty battery is final
        if bool(self.up[device]) == up and not force:
            return
        now = self.env.now
        self._up_integral += int(self.up[: self.participants].sum()) * (now - self._last_change)
        self._last_change = now
        was_up = bool(self.up[device])
        self.up[device] = up
        self.meter.set_up(device, up)
        self.sim.ledger.version += 1  # the view changed: cached rejections are stale
        if self.sim.live is not None:
            # Over a topology a down device neither receives nor relays (docs/dynamics.md).
            self.sim.live.set_down(~self.up)
        count = int(self.up[: self.participants].sum())
        if self.series[-1][0] == now:
            self.series[-1] = (now, count)
        else:
            self.series.append((now, count))
        if up:
            self.sim.wake()
            return
        if not was_up:
            return
        for request_id in sorted(self._in_flight):
            process, uses = self._in_flight[request_id]
            if uses[device] and process.is_alive:
                del self._in_flight[request_id]
                process.interrupt(DeviceFailure(reason))

    def availability_mean(self, until: float) -> float:
        """Time-average fraction of participants up over ``[0, until]``."""
        if until <= 0 or not self.participants:
            return 1.0
        integral = self._up_integral + int(self.up[: self.participants].sum()) * max(0.0, until - self._last_change)
        return integral / (until * self.participants)

    # -- in-flight requests ----------------------------------------------------
    def register(self, request_id: int, process: simpy.Process, placement: Placement, links: Links) -> None:
        """``request_id`` is now served by ``process`` on the devices of ``placement`` over ``links``.

        Over a topology the relays on its routes count as used: a relay going
        down fails the request as its senders and receivers do.
        """
        cost = placement.cost
        uses = (cost.segments > 0) | (cost.bandwidth_bytes > 0) | (cost.received_bytes > 0)
        if hasattr(links, "hops"):
            times = phase_times(self.world, placement, links)
            uses = uses | (times.tx_s > 0) | (times.rx_s > 0)
        self._in_flight[request_id] = (process, uses)

    def unregister(self, request_id: int) -> None:
        """The request's service ended (or failed)."""
        self._in_flight.pop(request_id, None)

    def view(self, ledger: Ledger) -> ClusterView:
        """The scheduler's view: down participants show residuals of 0 and ``available`` False."""
        view = ledger.view()
        down = ~self.up
        if not down.any():
            return view
        arrays = []
        # Compute and memory -1: no segment fits, not even one without multiplications or
        # weights. Bandwidth 0: it holds nothing to send (and a check over every device's
        # residual bandwidth against what it sends, 0, still passes).
        for array, mark in ((ledger.compute_mults, 0), (ledger.memory_bytes, 0), (ledger.bandwidth_bytes, 0)):
            masked = array.copy()
            masked[down] = mark
            masked.flags.writeable = False
            arrays.append(masked)
        masked_view = ClusterView(ledger.world, arrays[0], arrays[1], arrays[2])
        available = self.up.copy()
        available.flags.writeable = False
        masked_view.available = available
        return masked_view

    def departed_in(self, placement: Placement) -> int | None:
        """The lowest id of a departed device ``placement`` uses, or None if it uses none."""
        cost = placement.cost
        uses = ((cost.segments > 0) | (cost.bandwidth_bytes > 0) | (cost.received_bytes > 0)) & ~self.up
        hit = np.flatnonzero(uses)
        return int(hit[0]) if len(hit) else None
