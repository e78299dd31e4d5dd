"""Links that change during a run: devices moving (random waypoint) or going down over a topology.

See docs/dynamics.md ("Mobility", "Churn over a topology"). The rules, in one place:

* Links are rebuilt from the world's :class:`~distsim.world.NetworkLayout` by
  the one topology code (:func:`distsim.world.layout_links`): every device's
  current position (geometric topologies), the communication range, the
  per-radio distance-to-rate tables, and without the devices that are down
  (no edge touches a down device, so it neither receives nor relays).
* Each rebuild that changes the edges or a hop's rate makes a **new** immutable
  links object; the engine then hands schedulers views over
  ``dataclasses.replace(world, links=new)``, bumps the ledger's version (cached
  rejections are stale) and wakes waiting requests. An update that changes
  neither (devices moved, but no pair came into or out of range and no rate
  step changed) keeps the links object, so the routes cached on it stay.
* Positions are updated every ``network.mobility.interval_s`` seconds, from
  t = interval, while requests remain; between updates they are taken as fixed.
* **In flight:** a request runs to its end on the links (routes and per-hop
  rates) of the instant it was placed. Moves change only the links of requests
  placed later; a device going down still fails the requests that use it,
  relays included (docs/dynamics.md).
* Movement draws from the run's ``mobility`` stream, one child stream per
  participant in id order whether it moves or not, so adding a mover never
  shifts another device's path.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import numpy as np
import numpy.typing as npt
import simpy

from distsim.model.devices import Links
from distsim.model.mobility import RandomWaypoint
from distsim.settings import layout_links
from distsim.world import World

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def needs_live_links(world: World) -> bool:
    """True when the links may change during the run: mobility, or churn or batteries over a topology."""
    if world.layout is None:
        return False
    moving = world.mobility is not None and bool(world.mobility.movers)
    return moving or world.churn.active or world.energy.batteries


class LiveLinks:
    """The current links of a run whose devices move or go down over a topology.

    Args:
        env: the run's environment.
        world: the world at t = 0 (its ``layout`` must not be None).
        rng: the run's ``mobility`` stream.
        on_change: called with the new links after every rebuild.
    """

    def __init__(
        self,
        env: simpy.Environment,
        world: World,
        rng: np.random.Generator,
        on_change: Callable[[Links], None],
    ) -> None:
        assert world.layout is not None
        self.env = env
        self.world = world
        self.layout = world.layout
        self._on_change = on_change
        self.down: BoolArray = np.zeros(world.fleet.size, dtype=bool)
        #: The current links.
        self.links: Links = world.links
        #: Position updates and availability changes so far.
        self.updates = 0
        #: Those of them that changed the links (edges or hop rates): the schedulers saw new links.
        self.rebuilds = 0
        #: Positions now, m (None for an ``edges`` topology).
        self.positions: FloatArray | None = None
        self.walk: RandomWaypoint | None = None
        plan = world.mobility
        streams = rng.spawn(world.fleet.participants)
        if self.layout.positions is not None:
            self.positions = self.layout.positions.copy()
        if plan is not None and plan.movers and self.positions is not None:
            self.walk = RandomWaypoint(
                self.positions[list(plan.movers)],
                self.layout.area_m,
                plan.speed_mps,
                plan.pause_s,
                [streams[i] for i in plan.movers],
            )

    def start(self, until: simpy.Event) -> None:
        """Start moving (if anything moves) until ``until`` has triggered."""
        if self.walk is not None:
            self.env.process(self._move(until))

    def _move(self, until: simpy.Event) -> Generator[simpy.Event, Any, None]:
        plan = self.world.mobility
        assert plan is not None and self.walk is not None and self.positions is not None
        movers = list(plan.movers)
        while not until.triggered:
            yield self.env.timeout(plan.interval_s)
            if until.triggered:
                return
            self.positions[movers] = self.walk.positions_at(self.env.now)
            self._rebuild()

    def set_down(self, down: BoolArray) -> None:
        """Devices marked in ``down`` are out: rebuild the links without them (if that changed)."""
        if np.array_equal(down, self.down):
            return
        self.down = down.copy()
        self._rebuild()

    def _rebuild(self) -> None:
        self.updates += 1
        positions = None if self.positions is None else self.positions.copy()
        links = layout_links(self.layout, self.world.fleet, positions=positions, down=self.down)
        if getattr(links, "signature", None) == getattr(self.links, "signature", ()):
            # Same edges and hop rates: the same routes. Keep the links object (and every cache on it);
            # nothing changed for the schedulers or for waiting requests.
            return
        self.links = links
        self.rebuilds += 1
        self._on_change(self.links)
