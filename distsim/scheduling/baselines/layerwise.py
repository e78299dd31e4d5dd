"""``layerwise``: each layer whole on one device, no feature-map split.

As in the layer-wise partitioning line of work (Disabato et al.; RL-PDNN):
layers 1 and ``L`` run on the source; every other layer goes whole to the
participant that finishes it first (its incoming transfer plus its compute,
Eq. 5 term) among those whose residual compute, memory and senders'
bandwidth can hold it and that every sender reaches (over a topology a pair
with no route never carries data); ties to the lowest id. A whole layer on one device
gives that device every map, so ``Nf`` cannot hold: this baseline lifts
privacy by design (``honours_privacy = False``), like ``no_privacy``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import numpy.typing as npt

from distsim.model.cost import layer_transfers
from distsim.placement import LayerRule, binding, charge, run_failure
from distsim.scheduling.base import ClusterView, Constraint, Decision, Rejection, Request, SchedulerParams
from distsim.world import World

IntArray = npt.NDArray[np.int64]


class LayerwiseParams(SchedulerParams):
    """No parameters."""


class Layerwise:
    """Each layer whole on its fastest feasible participant."""

    name: ClassVar[str] = "layerwise"
    Params = LayerwiseParams
    honours_privacy: ClassVar[bool] = False
    #: Stateless: the decision depends only on the request's source and the residuals.
    repeatable: ClassVar[bool] = True

    def __init__(self, params: LayerwiseParams, world: World, rng: np.random.Generator) -> None:
        self.params = params
        self.world = world

    def place(self, request: Request, view: ClusterView) -> Decision:
        cnn = self.world.cnns[request.cnn]
        fleet, links = view.fleet, view.links
        n, d, src = fleet.size, fleet.participants, request.source
        comp, mem, bw = view.residuals()
        placed: list[IntArray] = []
        for layer in cnn.layers:
            prev = placed[-1] if placed else None
            need_c = layer.total_mults
            # The whole layer on one device: no cap (this baseline lifts privacy by design).
            rule = LayerRule(
                layer.index, layer.name, layer.segments, layer.segment_mults, layer.segment_weight_bytes, None, False
            )
            candidates = [src] if layer.index in (1, cnn.depth) else list(range(d))
            best, best_t, best_flows = -1, np.inf, None
            reasons: dict[Constraint, int] = {}
            for j in candidates:
                cur = np.full(layer.segments, j, dtype=np.int64)
                flows = layer_transfers(layer, prev, cur, n)
                tx = flows.bytes * links.pairs(flows.senders, flows.receivers)
                failed = run_failure(
                    rule,
                    layer.segments,
                    int(comp[j]),
                    int(mem[j]),
                    0,
                    not np.any(bw[flows.senders] < flows.bytes),
                    bool(np.isfinite(tx).all()),
                )
                if failed is not None:
                    reasons[failed] = reasons.get(failed, 0) + 1
                    continue
                t = (float(tx.max()) if len(tx) else 0.0) + need_c / float(fleet.mults_per_s[j])
                if t < best_t:
                    best, best_t, best_flows = j, t, flows
            if best < 0:
                if not candidates:
                    return Rejection(
                        request.id,
                        layer.index,
                        layer.name,
                        Constraint.NO_PARTICIPANTS,
                        f"layer {layer.name}: the fleet has no participants",
                    )
                constraint = binding(reasons)
                return Rejection(
                    request.id,
                    layer.index,
                    layer.name,
                    constraint,
                    f"layer {layer.name}: no device can hold the whole layer "
                    f"({', '.join(f'{c} {k}' for c, k in sorted(reasons.items()))} of "
                    f"{len(candidates)} ruled out)",
                )
            assert best_flows is not None
            charge(rule, best, layer.segments, comp, mem, bw)
            np.subtract.at(bw, best_flows.senders, best_flows.bytes)
            placed.append(np.full(layer.segments, best, dtype=np.int64))
        return view.make_placement(request, placed)
