"""``offload``: the fixed placement of an offloading mechanism (``edge_cloud``), as a scheduler.

Under ``edge_cloud`` no participant takes part and nothing is left to choose:
the camera computes layers ``1 .. cut`` and the scenario's server the rest
(:mod:`distsim.model.offload`). The engine uses this scheduler in place of the
scenario's whenever the world's mechanism offloads (``World.offload``), so the
same scenario runs with any mechanism. Like every scheduler it decides
against the residual budgets: a request waits (is rejected and retried) while
the camera or the server lacks compute or memory for its part, or the camera
the bandwidth budget for the upload.
"""

from __future__ import annotations

from typing import ClassVar

from distsim.model.offload import offload_assignments, offload_cost
from distsim.placement import Constraint
from distsim.scheduling.base import ClusterView, Decision, Placement, Rejection, Request
from distsim.world import World


class Offload:
    """Camera up to the cut, the server after it (the mechanism's plan, costed in closed form)."""

    name: ClassVar[str] = "offload"
    #: The decision depends only on the request's source (hence CNN) and the residuals.
    repeatable: ClassVar[bool] = True
    #: The server computes layers: the validator's participants-only rule does not apply.
    participants_only: ClassVar[bool] = False

    def __init__(self, world: World) -> None:
        if world.server is None:
            raise ValueError("the world has no server: its mechanism does not offload")
        self.world = world
        self.server = world.server

    def place(self, request: Request, view: ClusterView) -> Decision:
        world = self.world
        cnn = world.cnns[request.cnn]
        plan = world.offload[request.cnn]
        fleet = view.fleet
        cost = offload_cost(cnn, plan, request.source, self.server, fleet.mults_per_s, fleet.size)
        for device, who, layer in ((request.source, "camera", plan.cut), (self.server, "server", plan.cut + 1)):
            name = cnn.layer(min(layer, cnn.depth)).name
            for constraint, need, free in (
                (Constraint.COMPUTE, cost.compute_mults, view.compute_mults),
                (Constraint.MEMORY, cost.memory_bytes, view.memory_bytes),
                (Constraint.BANDWIDTH, cost.bandwidth_bytes, view.bandwidth_bytes),
            ):
                if need[device] > free[device]:
                    return Rejection(
                        request.id,
                        min(layer, cnn.depth),
                        name,
                        constraint,
                        f"the {who} {fleet.names[device]} lacks {constraint} for its part "
                        f"({int(need[device])} needed, {int(free[device])} left)",
                    )
        assignments = offload_assignments(cnn, plan, request.source, self.server)
        return Placement(request.id, cnn.name, tuple(assignments), cost, "heuristic")
