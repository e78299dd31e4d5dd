"""Per-segment reference of the DistPrivacy heuristic (SPEC section 6, Algorithm 1).

This is the literal algorithm: for every segment of every layer it computes
``nrm(j)`` for every participant in plain Python and tries them in increasing
order. It is slow on purpose and kept as the oracle that the fast scheduler
(:mod:`distsim.scheduling.distprivacy`) must match decision for decision.

Conditions (checked per segment ``p`` of layer ``l`` on candidate ``j``):

* cond1: residual compute ``>= c^{l,p}`` and residual memory ``>= m^{l,p}``;
* cond2: every sender ``i != j`` has residual bandwidth ``>= O^{l-1,p}_{i,j}``;
* cond4: ``j`` holds fewer than ``Nf^l`` maps of this layer, or ``l >= SP``;
* reachability (topologies only): every sender ``i != j`` has a route to ``j``
  (finite transfer time); on a full mesh it always holds.

When no participant qualifies, the reason is the condition that rules out the
most candidates, each candidate counted once by its first failing condition in
the order privacy, compute, memory, bandwidth, unreachable (ties in that order
too). A source that a sender cannot reach rejects the request as ``unreachable``.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from distsim.model.cnn import Feed, Layer, LayerKind
from distsim.scheduling.base import (
    ClusterView,
    Constraint,
    Decision,
    Rejection,
    Request,
    SchedulerParams,
)
from distsim.world import World

#: Order in which a candidate's failing conditions are attributed.
FAILURE_ORDER = (Constraint.PRIVACY, Constraint.COMPUTE, Constraint.MEMORY, Constraint.BANDWIDTH)


class DistPrivacyParams(SchedulerParams):
    """Weights of ``nrm(j) = alpha * t(j) + beta / b_j`` (paper: 0.7 and 0.3)."""

    alpha: float = 0.7
    beta: float = 0.3


def no_participant_detail(layer: Layer, failures: dict[Constraint, int], candidates: int) -> tuple[Constraint, str]:
    """The binding constraint and a message, from per-condition failure counts."""
    if candidates == 0:
        return Constraint.NO_PARTICIPANTS, f"layer {layer.name}: the fleet has no participants"
    # Unreachable candidates exist only over topologies; full-mesh messages stay as they were.
    order = FAILURE_ORDER + ((Constraint.UNREACHABLE,) if failures.get(Constraint.UNREACHABLE, 0) else ())
    worst = max(order, key=lambda c: (failures[c], -order.index(c)))
    counts = ", ".join(f"{c} {failures[c]}" for c in order)
    return worst, f"layer {layer.name}: no participant qualifies ({counts} of {candidates} ruled out)"


def segment_senders(layer: Layer, prev: list[int] | None, p: int, gather: dict[int, int]) -> dict[int, int]:
    """Bytes each device sends for segment ``p`` of ``layer`` (``O^{l-1,p}_{i,*}``), before excluding the receiver."""
    unit = layer.feed_unit_bytes
    if layer.feed is Feed.NONE or prev is None:
        return {}
    if layer.feed is Feed.PARTIAL_SUMS:
        return {i: unit for i in sorted(set(prev))}
    if layer.feed is Feed.MAPS:
        return {prev[p]: unit}
    if layer.feed is Feed.VECTOR:
        return {prev[0]: unit}
    return gather


def gather_senders(layer: Layer, prev: list[int]) -> dict[int, int]:
    """Bytes each device sends to the single segment of a ``GATHER`` layer."""
    out: dict[int, int] = {}
    for device in prev:
        if layer.prev_kind is LayerKind.CONV:
            out[device] = layer.prev_out_maps * layer.feed_unit_bytes
        else:
            out[device] = out.get(device, 0) + layer.feed_unit_bytes
    return dict(sorted(out.items()))


class ReferenceDistPrivacy:
    """Algorithm 1, one segment and one candidate at a time (the test oracle)."""

    name: ClassVar[str] = "distprivacy_reference"
    repeatable: ClassVar[bool] = True
    Params = DistPrivacyParams

    def __init__(self, params: DistPrivacyParams, world: World, rng: np.random.Generator) -> None:
        self.params = params
        self.world = world

    def place(self, request: Request, view: ClusterView) -> Decision:
        alpha, beta = self.params.alpha, self.params.beta
        fleet, links = view.fleet, view.links
        cnn = self.world.cnns[request.cnn]
        limits = self.world.limits[request.cnn]
        comp = [int(x) for x in view.compute_mults]
        mem = [int(x) for x in view.memory_bytes]
        bw = [int(x) for x in view.bandwidth_bytes]
        speed = [float(x) for x in fleet.mults_per_s]
        d = fleet.participants
        src = request.source
        placed: list[list[int]] = []
        for layer in cnn.layers:
            prev = placed[-1] if placed else None
            gather = gather_senders(layer, prev) if layer.feed is Feed.GATHER and prev is not None else {}
            c, m = layer.segment_mults, layer.segment_weight_bytes
            out: list[int] = []
            if limits.on_source(layer.index):
                for p in range(layer.segments):
                    sends = {i: o for i, o in segment_senders(layer, prev, p, gather).items() if i != src}
                    if comp[src] < c:
                        return Rejection(
                            request.id,
                            layer.index,
                            layer.name,
                            Constraint.COMPUTE,
                            f"layer {layer.name}: the source lacks compute budget",
                        )
                    if mem[src] < m:
                        return Rejection(
                            request.id,
                            layer.index,
                            layer.name,
                            Constraint.MEMORY,
                            f"layer {layer.name}: the source lacks memory",
                        )
                    if any(bw[i] < o for i, o in sends.items()):
                        return Rejection(
                            request.id,
                            layer.index,
                            layer.name,
                            Constraint.BANDWIDTH,
                            f"layer {layer.name}: a sender lacks bandwidth to reach the source",
                        )
                    if any(math.isinf(links.pair(i, src)) for i in sends):
                        return Rejection(
                            request.id,
                            layer.index,
                            layer.name,
                            Constraint.UNREACHABLE,
                            f"layer {layer.name}: a sender has no route to the source",
                        )
                    comp[src] -= c
                    mem[src] -= m
                    for i, o in sends.items():
                        bw[i] -= o
                    out.append(src)
                placed.append(out)
                continue
            cap = limits.max_maps(layer.index)
            held = [0] * d
            for p in range(layer.segments):
                sends_all = segment_senders(layer, prev, p, gather)
                scored = []
                for j in range(d):
                    tx = max((o * links.pair(i, j) for i, o in sends_all.items() if i != j), default=0.0)
                    t = tx + c / speed[j]
                    nrm = alpha * t + (beta / bw[j] if bw[j] > 0 else math.inf)
                    scored.append((nrm, j, math.isinf(tx)))
                scored.sort()
                chosen = -1
                failures = dict.fromkeys((*FAILURE_ORDER, Constraint.UNREACHABLE), 0)
                for _, j, unreachable in scored:
                    sends = {i: o for i, o in sends_all.items() if i != j}
                    if cap is not None and held[j] >= cap:
                        failures[Constraint.PRIVACY] += 1
                    elif comp[j] < c:
                        failures[Constraint.COMPUTE] += 1
                    elif mem[j] < m:
                        failures[Constraint.MEMORY] += 1
                    elif any(bw[i] < o for i, o in sends.items()):
                        failures[Constraint.BANDWIDTH] += 1
                    elif unreachable:
                        failures[Constraint.UNREACHABLE] += 1
                    else:
                        chosen = j
                        comp[j] -= c
                        mem[j] -= m
                        for i, o in sends.items():
                            bw[i] -= o
                        held[j] += 1
                        break
                if chosen < 0:
                    constraint, detail = no_participant_detail(layer, failures, d)
                    return Rejection(request.id, layer.index, layer.name, constraint, detail)
                out.append(chosen)
            placed.append(out)
        return view.make_placement(request, [np.array(a, dtype=np.int64) for a in placed])
