"""``random``: each segment on a uniformly random qualifying participant.

Honours ``Nf`` and every budget (same conditions as DistPrivacy), placing runs
of interchangeable segments at once (:mod:`._runs`, rejection sampling with
the per-segment process's distribution); draws from
the numpy generator the engine gives it, so it is reproducible per run seed
but not repeatable across calls (``repeatable`` stays False).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from distsim.scheduling.base import ClusterView, Decision, Request, SchedulerParams
from distsim.scheduling.baselines._greedy import BoolArray, greedy_place
from distsim.scheduling.baselines._runs import UniformRuns, run_place
from distsim.world import World


class RandomFitParams(SchedulerParams):
    """No parameters."""


class RandomFit:
    """A uniformly random feasible participant per segment."""

    name: ClassVar[str] = "random"
    Params = RandomFitParams

    def __init__(self, params: RandomFitParams, world: World, rng: np.random.Generator) -> None:
        self.params = params
        self.world = world
        self.rng = rng

    def _pick(self, request: Request, layer: int, segment: int, qualifies: BoolArray) -> int:
        candidates = np.flatnonzero(qualifies)
        return int(candidates[self.rng.integers(len(candidates))])

    def place(self, request: Request, view: ClusterView) -> Decision:
        return run_place(self.world, request, view, UniformRuns(self.rng))

    def place_per_segment(self, request: Request, view: ClusterView) -> Decision:
        """The segment-by-segment twin (one draw per segment): same distribution, other draws."""
        return greedy_place(self.world, request, view, self._pick)
