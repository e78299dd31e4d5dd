"""The run's settings as plain typed records (the engine reads these, never the scenario).

:func:`distsim.world.build_world` resolves a scenario into them (``World.run``,
``World.churn``, ``World.energy``, ``World.layout``, ``World.mobility``); the
engine reads only these fields. :func:`layout_links` rebuilds a topology's
links when devices move or go down during a run (docs/dynamics.md), with the
same code that built them at t = 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from distsim.model.devices import Fleet, Links


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """What happens to a rejected request (``simulation.retry``).

    Attributes:
        mode: ``interval`` (try again every ``interval_s``) or ``on_release`` (when resources come back).
        interval_s: seconds between attempts in ``interval`` mode.
        max_attempts: attempts in all before the request is dropped.
    """

    mode: str
    interval_s: float
    max_attempts: int


@dataclass(frozen=True, slots=True)
class RunSettings:
    """The run's settings the engine reads (from ``workload``, ``simulation`` and ``privacy``).

    Attributes:
        name: the scenario's name (labels the summary).
        seed: run seed (``simulation.seed``).
        timing: timing model name.
        requests: requests that arrive in the run.
        rate_per_s: Poisson arrival rate, requests per second.
        retry: the retry policy.
        max_wall_s: wall-clock budget, s (None: none).
        placement_period_s: periodic placement window, s (None: place on arrival).
        max_ssim: the privacy threshold tau.
        colluders: devices assumed to collude when exposure is measured.
        mechanism: privacy mechanism name.
        scheduler: scheduler name (or import path).
        scheduler_params: the scheduler's parameters, as the scenario gives them.
    """

    name: str
    seed: int
    timing: str
    requests: int
    rate_per_s: float
    retry: RetryPolicy
    max_wall_s: float | None
    placement_period_s: float | None
    max_ssim: float
    colluders: int
    mechanism: str
    scheduler: str
    scheduler_params: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ChurnPlan:
    """Participants leaving and joining (``churn``; docs/dynamics.md).

    Attributes:
        times: per participant id, ``(up_mean_s, down_mean_s)`` of its exponential
            up- and down-times, or None when it does not churn at random.
        schedule: scheduled outages as ``(participant id, down_at s, up_at s or None)``.
        policy: ``restart`` or ``fail``: what a failure during an inference does to it.
    """

    times: tuple[tuple[float, float] | None, ...]
    schedule: tuple[tuple[int, float, float | None], ...]
    policy: str

    @property
    def active(self) -> bool:
        """True when some participant churns."""
        return bool(self.schedule) or any(t is not None for t in self.times)


@dataclass(frozen=True, slots=True)
class EnergySettings:
    """Batteries and the lifetime definition (``energy``; docs/energy.md).

    Attributes:
        batteries: participants whose type has a capacity run on it.
        lifetime_fraction: the fleet's lifetime ends when this fraction of its
            battery-powered participants has died.
        charge_sample_s: seconds between samples of the charge left in every battery.
    """

    batteries: bool
    lifetime_fraction: float
    charge_sample_s: float


@dataclass(frozen=True, slots=True)
class NetworkLayout:
    """What the links are rebuilt from when devices move or go down (topologies only).

    Attributes:
        edges: the undirected edges of an ``edges`` topology (device ids), else None.
        positions: ``(x, y)`` per device id, m, of a ``geometric`` topology at t = 0, else None.
        range_m: communication range of a ``geometric`` topology, m.
        area_m: side of the square the layout and waypoints are drawn in, m.
        rate_tables: per radio name, ``(up_to_m, rate_bps)`` steps (distance-dependent rates).
    """

    edges: tuple[tuple[int, int], ...] | None
    positions: npt.NDArray[np.float64] | None
    range_m: float
    area_m: float
    rate_tables: dict[str, tuple[tuple[float, float], ...]]


@dataclass(frozen=True, slots=True)
class MobilityPlan:
    """Random-waypoint movement (``network.mobility``; docs/dynamics.md).

    Attributes:
        movers: ids of the participants that move, ascending.
        speed_mps: (min, max) walking speed, m/s.
        pause_s: pause at each waypoint, s.
        interval_s: positions and links are updated every this many seconds.
    """

    movers: tuple[int, ...]
    speed_mps: tuple[float, float]
    pause_s: float
    interval_s: float


def layout_links(
    layout: NetworkLayout,
    fleet: Fleet,
    *,
    positions: npt.NDArray[np.float64] | None = None,
    down: npt.NDArray[np.bool_] | None = None,
) -> Links:
    """The links of ``layout`` with devices at ``positions`` (default: the layout's) and ``down`` ones left out.

    Imports :mod:`distsim.model.topology` (networkx) only here, so a full-mesh run never loads it.
    """
    from distsim.model.topology import Topology, geometric_topology

    if layout.edges is not None:
        edges = layout.edges if down is None else tuple((u, v) for u, v in layout.edges if not (down[u] or down[v]))
        return Topology(fleet, edges)
    at = layout.positions if positions is None else positions
    assert at is not None
    return geometric_topology(fleet, at, layout.range_m, layout.rate_tables, down)
