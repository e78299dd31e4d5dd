"""``fastest_first``: every segment on the fastest participant that can take it (a plug-in scheduler).

An example of a scheduler that lives outside distsim (docs/extending.md).
Use it by import path, from the CLI, sweeps and Dask workers alike::

    scheduler: {name: "examples.fastest_first:FastestFirst", params: {rank_by: memory}}

``rank_by`` orders the participants by compute speed (``speed``, the
default) or by memory (``memory``), fastest or largest first, ties to the
lowest device id. Each segment goes to the first participant in that order
that qualifies for it under the same rules as DistPrivacy (the privacy cap,
compute, memory, sender bandwidth, reachability), so it honours privacy.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np

from distsim.scheduling.base import ClusterView, Decision, Request, SchedulerParams
from distsim.scheduling.greedy import BoolArray, greedy_place
from distsim.world import World


class FastestFirstParams(SchedulerParams):
    """``rank_by``: order participants by ``speed`` (multiplications per second) or ``memory`` (bytes)."""

    rank_by: Literal["speed", "memory"] = "speed"


class FastestFirst:
    """Each segment on the best-ranked qualifying participant."""

    name: ClassVar[str] = "fastest_first"
    Params = FastestFirstParams
    # No state between calls; the decision depends on the source's CNN and the residuals only.
    repeatable: ClassVar[bool] = True

    def __init__(self, params: FastestFirstParams, world: World, rng: np.random.Generator) -> None:
        fleet = world.fleet
        d = fleet.participants
        key = fleet.mults_per_s[:d] if params.rank_by == "speed" else fleet.memory_bytes[:d]
        # lexsort: last key first; so by descending key, then ascending id (explicit tie break).
        self.order = np.lexsort((np.arange(d), -np.asarray(key, dtype=np.float64)))
        self.world = world

    def _pick(self, request: Request, layer: int, segment: int, qualifies: BoolArray) -> int:
        return int(self.order[np.argmax(qualifies[self.order])])

    def place(self, request: Request, view: ClusterView) -> Decision:
        return greedy_place(self.world, request, view, self._pick)
