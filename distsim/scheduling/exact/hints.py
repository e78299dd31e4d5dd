"""Feasible placements that warm-start CP-SAT: the DistPrivacy heuristic and the ``minmax`` baseline."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from distsim.scheduling.base import ClusterView, Placement, Request
from distsim.scheduling.baselines.minmax import minmax_hint
from distsim.world import World

IntArray = npt.NDArray[np.int64]


def heuristic_hint(world: World, request: Request, view: ClusterView) -> list[IntArray] | None:
    """The DistPrivacy heuristic's placement (paper weights), or None if it rejects the request."""
    from distsim.scheduling.distprivacy import DistPrivacy, DistPrivacyParams

    decision = DistPrivacy(DistPrivacyParams(), world, np.random.default_rng(0)).place(request, view)
    return list(decision.assignments) if isinstance(decision, Placement) else None


__all__ = ["heuristic_hint", "minmax_hint"]
