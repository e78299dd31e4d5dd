"""Energy: a power model per device and a meter that integrates it over the run (docs/energy.md).

Every device draws ``idle_w`` while it is up, plus ``compute_w`` while it
computes, ``tx_w`` while its radio transmits and ``rx_w`` while it receives
(the three are *above* idle). Watts come from ``World.power`` (one
:class:`distsim.catalog.PowerSpec` per device: the catalogue's
``data/devices.yaml`` ``power:`` values, scenario overrides on top).

How activity is timed depends on the timing model:

* ``analytic`` has no schedule inside a request, only its Eq. 5 latency. A
  request charges each device it uses the energy of its analytic phase times
  (compute ``c_j / e_j`` s at ``compute_w``; every transfer of Eq. 6, hop by hop,
  ``8 O / rho_u`` s at ``tx_w`` on the sender of the hop and ``rx_w`` on its
  receiver), drawn at constant power over the request's service time. A request
  that completes is charged exactly that energy.
* ``contention`` reports its actual busy intervals: each CPU batch and each hop
  transmission begins and ends on the meter (:meth:`Meter.begin`,
  :meth:`Meter.end`), at ``compute_w`` or ``tx_w``/``rx_w`` for as long as it
  really takes (a hop slowed by a shared channel draws power longer).

Power is piecewise constant, so the meter integrates it exactly; a battery
empties at the instant the integral reaches its capacity (:class:`Meter`
schedules that instant and calls back).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import simpy

from distsim.io import csv_text
from distsim.model.cost import layer_transfers
from distsim.model.devices import FullMesh, Links
from distsim.scheduling.base import Placement
from distsim.world import World

FloatArray = npt.NDArray[np.float64]

#: Joules per watt-hour.
J_PER_WH = 3600.0


class _Watts:
    """The power model of ``world.power`` as arrays by device id, W, and battery capacities, J.

    Batteries apply to participants only, and only when ``energy.batteries`` is
    true; a mains-powered device has capacity ``inf``.
    """

    def __init__(self, world: World) -> None:
        power = world.power
        self.idle_w = np.array([p.idle_w for p in power], dtype=np.float64)
        self.compute_w = np.array([p.compute_w for p in power], dtype=np.float64)
        self.tx_w = np.array([p.tx_w for p in power], dtype=np.float64)
        self.rx_w = np.array([p.rx_w for p in power], dtype=np.float64)
        battery = np.full(len(power), math.inf)
        if world.energy.batteries:
            for i in range(world.fleet.participants):
                wh = power[i].battery_wh
                if wh is not None:
                    battery[i] = wh * J_PER_WH
        self.battery_j = battery


def hop_list(links: Links, sender: int, receiver: int) -> tuple[tuple[int, int], ...]:
    """The hops a transfer takes: one on a full mesh, the route's over a topology."""
    hops: Callable[[int, int], tuple[tuple[int, int], ...]] | None = getattr(links, "hops", None)
    return ((sender, receiver),) if hops is None else hops(sender, receiver)


@dataclass(frozen=True, slots=True)
class PhaseTimes:
    """A placement's analytic phase times per device, s: computing, transmitting, receiving."""

    compute_s: FloatArray
    tx_s: FloatArray
    rx_s: FloatArray


def phase_times(world: World, placement: Placement, links: Links | None = None) -> PhaseTimes:
    """Analytic busy time of every device for ``placement`` (Eq. 7 compute, Eq. 6 transfers hop by hop).

    ``links``: the links the placement was made on (default ``world.links``);
    over a topology each hop takes its own rate (``hop_sec_per_byte``). On a
    full mesh every transfer is one hop at its sender's rate, so the radio
    times are the cost model's own per-device transfer times
    (:attr:`~distsim.model.cost.PlacementCost.tx_s`, ``rx_s``: the same sums
    of ``bytes * 8 / rho_sender`` in the same order).
    """
    fleet = world.fleet
    links = world.links if links is None else links
    cost = placement.cost
    compute = cost.compute_mults / fleet.mults_per_s
    if isinstance(links, FullMesh):
        return PhaseTimes(compute, cost.tx_s, cost.rx_s)
    n = fleet.size
    tx = np.zeros(n)
    rx = np.zeros(n)
    spb = fleet.sec_per_byte
    hop_spb: Callable[[int, int], float] | None = getattr(links, "hop_sec_per_byte", None)
    direct = hop_spb is None
    prev = None
    for layer, cur in zip(world.cnns[placement.cnn].layers, placement.assignments, strict=True):
        flows = layer_transfers(layer, prev, cur, n)
        prev = cur
        if not len(flows.senders):
            continue
        if direct:
            seconds = flows.bytes * spb[flows.senders]
            np.add.at(tx, flows.senders, seconds)
            np.add.at(rx, flows.receivers, seconds)
            continue
        assert hop_spb is not None
        for i, j, nbytes in zip(flows.senders.tolist(), flows.receivers.tolist(), flows.bytes.tolist(), strict=True):
            for u, v in hop_list(links, i, j):
                seconds = nbytes * hop_spb(u, v)
                tx[u] += seconds
                rx[v] += seconds
    return PhaseTimes(compute, tx, rx)


@dataclass(frozen=True, slots=True)
class ChargeSeries:
    """Charge left in every battery-powered participant over a run (``charge.csv``, docs/energy.md).

    Attributes:
        devices: names of the battery-powered participants, in id order.
        at: sample instants, s: 0, every ``energy.charge_sample_s``, every battery death, the run's end.
        charge_wh: one row per instant, one value per device, Wh (the first row is every capacity).
    """

    devices: tuple[str, ...]
    at: tuple[float, ...]
    charge_wh: tuple[tuple[float, ...], ...]

    def csv(self) -> str:
        """The series as CSV: ``at`` (s), then one column per device (Wh left)."""
        return csv_text(("at", *self.devices), [(t, *row) for t, row in zip(self.at, self.charge_wh, strict=True)])


@dataclass(frozen=True, slots=True)
class RequestEnergy:
    """Energy a request's service drew above idle, J."""

    compute_j: float
    radio_j: float


class Meter:
    """Integrates every device's power over time; charges activity to requests; empties batteries.

    Power changes only at instants the simulation knows (a request starting or
    ending, a job starting or ending, a device going down or up), so the
    integral is exact. ``on_empty(device)`` is called at the instant a battery's
    integral reaches its capacity.
    """

    def __init__(self, env: simpy.Environment, world: World, on_empty: Callable[[int], None] | None = None) -> None:
        self.env = env
        self.world = world
        self.model = _Watts(world)
        #: Battery capacity per device id, J (``inf``: mains powered).
        self.battery_j = self.model.battery_j
        n = world.fleet.size
        self.up = np.ones(n, dtype=bool)
        self._power = self.model.idle_w.copy()
        self._energy = np.zeros(n)
        self._updated = np.zeros(n)
        self.compute_j = np.zeros(n)
        self.radio_j = np.zeros(n)
        self.up_s = np.zeros(n)
        self._on_empty = on_empty
        self._battery = np.isfinite(self.model.battery_j)
        self._version = np.zeros(n, dtype=np.int64)
        # request id -> [compute J, radio J] so far; analytic draws: request id -> (devices, compute W, radio W, since).
        self._charged: dict[int, list[float]] = {}
        self._draws: dict[int, tuple[npt.NDArray[np.int64], FloatArray, FloatArray, float]] = {}
        self._jobs: dict[int, tuple[int, int, float, float, bool]] = {}
        self._next_token = 0
        self.empty_at = np.full(n, math.nan)
        for device in np.flatnonzero(self._battery).tolist():
            self._schedule(device)

    # -- power bookkeeping ---------------------------------------------------
    def _advance(self, device: int) -> None:
        now = self.env.now
        elapsed = now - self._updated[device]
        if elapsed > 0:
            self._energy[device] += self._power[device] * elapsed
            if self.up[device]:
                self.up_s[device] += elapsed
        self._updated[device] = now

    def _add(self, device: int, watts: float) -> None:
        self._advance(device)
        self._power[device] += watts
        if self._battery[device]:
            self._schedule(device)

    def _add_many(self, devices: npt.NDArray[np.int64], watts: FloatArray) -> None:
        """:meth:`_add` for each of ``devices`` (distinct ids, ascending), ``watts[k]`` to ``devices[k]``.

        Without batteries among them, one elementwise pass: every device's
        integral, up time and power take the same floating-point operations
        :meth:`_add` performs one device at a time (devices are independent).
        """
        if self._battery[devices].any():
            for device, w in zip(devices.tolist(), watts.tolist(), strict=True):
                self._add(device, w)
            return
        now = self.env.now
        elapsed = now - self._updated[devices]
        moved = elapsed > 0
        if moved.any():
            ahead, span = devices[moved], elapsed[moved]
            self._energy[ahead] += self._power[ahead] * span
            up = self.up[ahead]
            self.up_s[ahead[up]] += span[up]
        self._updated[devices] = now
        self._power[devices] += watts

    def _schedule(self, device: int) -> None:
        self._version[device] += 1
        power = self._power[device]
        if power <= 0 or not self.up[device]:
            return
        left = self.model.battery_j[device] - self._energy[device]
        # A plain float: a numpy delay would make the clock (and every instant after it) numpy floats,
        # which fleet.csv once printed as "np.float64(...)".
        timer = self.env.timeout(float(max(0.0, left / power)))
        version = int(self._version[device])
        timer.callbacks.append(lambda _event: self._empty(device, version))

    def _empty(self, device: int, version: int) -> None:
        if version != self._version[device] or not self.up[device]:
            return
        self._advance(device)
        # The timer fired at the crossing instant; clamp float rounding to the capacity.
        self._energy[device] = self.model.battery_j[device]
        self.empty_at[device] = self.env.now
        if self._on_empty is not None:
            self._on_empty(device)

    def energy_j(self, device: int) -> float:
        """Energy ``device`` has drawn so far, J."""
        self._advance(device)
        return float(self._energy[device])

    def charge_left_wh(self, devices: npt.NDArray[np.int64]) -> FloatArray:
        """Charge left now in the batteries of ``devices``, Wh (read only: the integral is not advanced)."""
        now = self.env.now
        used = self._energy[devices] + self._power[devices] * (now - self._updated[devices])
        return np.maximum(self.battery_j[devices] - used, 0.0) / J_PER_WH

    def set_up(self, device: int, up: bool) -> None:
        """A device leaves (draws nothing) or joins (draws idle) the fleet."""
        if bool(self.up[device]) == up:
            return
        self._advance(device)
        self.up[device] = up
        self._power[device] += self.model.idle_w[device] if up else -self.model.idle_w[device]
        if self._battery[device]:
            self._schedule(device)

    # -- analytic draws ------------------------------------------------------
    def start_request(
        self, request_id: int, placement: Placement, service_s: float, links: Links | None = None
    ) -> None:
        """Draw ``placement``'s analytic phase energy at constant power over ``service_s`` from now.

        ``links``: the links it was placed on (default the world's).
        """
        times = phase_times(self.world, placement, links)
        model = self.model
        compute_j = model.compute_w * times.compute_s
        radio_j = model.tx_w * times.tx_s + model.rx_w * times.rx_s
        devices = np.flatnonzero((compute_j > 0) | (radio_j > 0))
        self._charged[request_id] = [0.0, 0.0]
        if service_s <= 0 or not len(devices):
            # Nothing to draw over time (or zero time): charge at once.
            self._charge_now(request_id, devices, compute_j[devices], radio_j[devices])
            return
        compute_w = compute_j[devices] / service_s
        radio_w = radio_j[devices] / service_s
        self._add_many(devices, compute_w + radio_w)
        self._draws[request_id] = (devices, compute_w, radio_w, self.env.now)

    def _charge_now(
        self, request_id: int, devices: npt.NDArray[np.int64], compute: FloatArray, radio: FloatArray
    ) -> None:
        for device, c, r in zip(devices.tolist(), compute.tolist(), radio.tolist(), strict=True):
            self._advance(device)
            self._energy[device] += c + r
            self.compute_j[device] += c
            self.radio_j[device] += r
            if self._battery[device]:
                self._schedule(device)
        charged = self._charged[request_id]
        charged[0] += float(compute.sum())
        charged[1] += float(radio.sum())

    def _stop_draw(self, request_id: int) -> None:
        draw = self._draws.pop(request_id, None)
        if draw is None:
            return
        devices, compute_w, radio_w, since = draw
        elapsed = self.env.now - since
        charged = self._charged[request_id]
        self._add_many(devices, -(compute_w + radio_w))
        self.compute_j[devices] += compute_w * elapsed
        self.radio_j[devices] += radio_w * elapsed
        charged[0] += float(compute_w.sum()) * elapsed
        charged[1] += float(radio_w.sum()) * elapsed

    # -- contention jobs -----------------------------------------------------
    def begin(self, request_id: int, device: int, kind: str) -> int:
        """A job of ``request_id`` starts on ``device``: ``cpu``, ``tx`` or ``rx``. Returns a token for :meth:`end`."""
        model = self.model
        table = model.compute_w if kind == "cpu" else model.tx_w if kind == "tx" else model.rx_w
        watts = float(table[device])
        self._charged.setdefault(request_id, [0.0, 0.0])
        token = self._next_token
        self._next_token += 1
        self._jobs[token] = (request_id, device, watts, self.env.now, kind == "cpu")
        if watts:
            self._add(device, watts)
        return token

    def end(self, token: int) -> None:
        """The job of ``token`` ended now."""
        job = self._jobs.pop(token, None)
        if job is None:
            return
        request_id, device, watts, since, is_cpu = job
        if watts:
            self._add(device, -watts)
        joules = watts * (self.env.now - since)
        # A job still running when its request ended (failed) charges its device only.
        charged = self._charged.get(request_id)
        if is_cpu:
            self.compute_j[device] += joules
        else:
            self.radio_j[device] += joules
        if charged is not None:
            charged[0 if is_cpu else 1] += joules

    def open_request(self, request_id: int) -> None:
        """The request's service starts: jobs reported from now on are charged to it."""
        self._charged.setdefault(request_id, [0.0, 0.0])

    def charge(self, request_id: int, device: int, kind: str, seconds: float) -> None:
        """Charge ``seconds`` of a ``cpu``/``tx``/``rx`` job of ``request_id`` on ``device`` at once, now.

        For timing models that know a job's duration only after the fact; the
        battery integral takes it as one step, so an empty instant can be late by
        at most that job's duration.
        """
        table = self.model.compute_w if kind == "cpu" else self.model.tx_w if kind == "tx" else self.model.rx_w
        joules = float(table[device]) * seconds
        if not joules:
            return
        self._advance(device)
        self._energy[device] += joules
        if kind == "cpu":
            self.compute_j[device] += joules
        else:
            self.radio_j[device] += joules
        charged = self._charged.get(request_id)
        if charged is not None:
            charged[0 if kind == "cpu" else 1] += joules
        if self._battery[device]:
            self._schedule(device)

    # -- per request ---------------------------------------------------------
    def stop_request(self, request_id: int) -> None:
        """An attempt of the request ended (done or failed): stop its analytic draws, keep its total."""
        self._stop_draw(request_id)

    def finish_request(self, request_id: int) -> RequestEnergy:
        """The request ended for good: the energy all its attempts drew above idle, J."""
        self._stop_draw(request_id)
        charged = self._charged.pop(request_id, [0.0, 0.0])
        return RequestEnergy(charged[0], charged[1])

    def close(self) -> None:
        """Bring every device's integral up to now (call at the end of the run)."""
        for device in range(self.world.fleet.size):
            self._advance(device)

    @property
    def total_j(self) -> FloatArray:
        """Energy drawn per device so far, J (after :meth:`close`)."""
        return self._energy.copy()
