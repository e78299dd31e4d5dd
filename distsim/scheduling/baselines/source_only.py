"""``source_only``: the camera computes the whole inference (no distribution).

No participant ever sees a feature map, so privacy holds trivially; the
layers that SPEC section 5 gives to participants run on the (trusted) source
instead, so the validator checks it with ``roles=False``. The request is
rejected when the source's residual compute or memory cannot hold the CNN.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from distsim.scheduling.base import ClusterView, Constraint, Decision, Rejection, Request, SchedulerParams
from distsim.world import World


class SourceOnlyParams(SchedulerParams):
    """No parameters."""


class SourceOnly:
    """Everything on the request's source."""

    name: ClassVar[str] = "source_only"
    Params = SourceOnlyParams
    participants_only: ClassVar[bool] = False
    #: Stateless: the decision depends only on the request's source and the residuals.
    repeatable: ClassVar[bool] = True

    def __init__(self, params: SourceOnlyParams, world: World, rng: np.random.Generator) -> None:
        self.params = params
        self.world = world

    def min_participants(self, cnn: str) -> int:
        """None: the camera computes everything."""
        return 0

    def place(self, request: Request, view: ClusterView) -> Decision:
        cnn = self.world.cnns[request.cnn]
        s = request.source
        if cnn.total_mults > int(view.compute_mults[s]):
            return Rejection(
                request.id,
                0,
                "",
                Constraint.COMPUTE,
                f"the source needs {cnn.total_mults} mults, residual {int(view.compute_mults[s])}",
            )
        if cnn.total_weight_bytes > int(view.memory_bytes[s]):
            return Rejection(
                request.id,
                0,
                "",
                Constraint.MEMORY,
                f"the source needs {cnn.total_weight_bytes} bytes, residual {int(view.memory_bytes[s])}",
            )
        return view.make_placement(request, [np.full(layer.segments, s, dtype=np.int64) for layer in cnn.layers])
