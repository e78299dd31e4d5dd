"""``round_robin``: participants in turn, skipping those that do not qualify.

Each request starts its cycle at participant ``request.id mod D`` (so that
successive requests spread over the fleet without any state kept between
calls) and moves one participant forward after every placed segment, across
layers. Honours ``Nf`` and every budget (same conditions as DistPrivacy).
Runs of interchangeable segments are placed at once (:mod:`._runs`), with the
decisions of the per-segment twin (:meth:`RoundRobin.place_per_segment`).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from distsim.scheduling.base import ClusterView, Decision, Request, SchedulerParams
from distsim.scheduling.baselines._greedy import BoolArray, greedy_place
from distsim.scheduling.baselines._runs import CyclicRuns, run_place
from distsim.world import World


class RoundRobinParams(SchedulerParams):
    """No parameters."""


class RoundRobin:
    """Cycle over participants, skipping infeasible ones."""

    name: ClassVar[str] = "round_robin"
    Params = RoundRobinParams

    def __init__(self, params: RoundRobinParams, world: World, rng: np.random.Generator) -> None:
        self.params = params
        self.world = world

    def place(self, request: Request, view: ClusterView) -> Decision:
        d = view.fleet.participants
        return run_place(self.world, request, view, CyclicRuns(d, request.id % d if d else 0))

    def place_per_segment(self, request: Request, view: ClusterView) -> Decision:
        """The segment-by-segment twin: the same decisions, one segment at a time."""
        d = view.fleet.participants
        state = {"next": request.id % d if d else 0}

        def pick(request: Request, layer: int, segment: int, qualifies: BoolArray) -> int:
            order = (np.arange(d) + state["next"]) % d
            j = int(order[np.argmax(qualifies[order])])
            state["next"] = (j + 1) % d
            return j

        return greedy_place(self.world, request, view, pick)
