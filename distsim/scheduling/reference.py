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
  (finite transfer time), for a capped layer over links in clear one that
  crosses no participant (:meth:`distsim.placement.Reach.for_rule`); on a full
  mesh it always holds.

When no participant qualifies, the reason is the condition that rules out the
most candidates, each candidate counted once by its first failing condition in
the order privacy, compute, memory, bandwidth, unreachable (ties in that order
too). A source that a sender cannot reach rejects the request as ``unreachable``.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from distsim.fields import NonNegativeFloat
from distsim.model.cnn import Feed, Layer, LayerKind
from distsim.placement import (
    LayerRule,
    Reach,
    charge,
    no_participant_detail,
    qualify,
    source_failure,
)
from distsim.scheduling.base import ClusterView, Decision, Rejection, Request, SchedulerParams
from distsim.world import World


class DistPrivacyParams(SchedulerParams):
    """Weights of ``nrm(j) = alpha * t(j) + beta / b_j`` (paper: 0.7 and 0.3)."""

    alpha: NonNegativeFloat = 0.7
    beta: NonNegativeFloat = 0.3


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
        comp, mem, bw = view.residuals()
        speed = [float(x) for x in fleet.mults_per_s]
        d = fleet.participants
        src = request.source
        reach = Reach(links, d, encrypted_links=self.world.encrypted_links)
        placed: list[list[int]] = []
        for layer in cnn.layers:
            prev = placed[-1] if placed else None
            gather = gather_senders(layer, prev) if layer.feed is Feed.GATHER and prev is not None else {}
            rule = LayerRule.of(layer, limits)
            out: list[int] = []
            held = np.zeros(d, dtype=np.int64)
            for p in range(layer.segments):
                sends_all = segment_senders(layer, prev, p, gather)
                if rule.on_source:
                    failed = source_failure(rule, src, comp, mem, bw, sends_all, reach)
                    if failed is not None:
                        return Rejection(request.id, layer.index, layer.name, *failed)
                    chosen = src
                else:
                    # Every candidate's nrm, in plain Python, then the first qualifying one in (nrm, id) order.
                    scored = []
                    # A capped layer over links in clear: pairs through untrusted relays are unreachable.
                    guarded = reach.for_rule(rule)
                    for j in range(d):
                        tx = max((o * guarded.links.pair(i, j) for i, o in sends_all.items() if i != j), default=0.0)
                        t = tx + rule.segment_mults / speed[j]
                        nrm = alpha * t + (beta / int(bw[j]) if bw[j] > 0 else math.inf)
                        scored.append((nrm, j))
                    scored.sort()
                    q = qualify(rule, held, comp, mem, bw, sends_all, guarded.of(sends_all))
                    ok = q.qualifies
                    chosen = next((j for _, j in scored if ok[j]), -1)
                    if chosen < 0:
                        constraint, detail = no_participant_detail(layer.name, q.failures(), d)
                        return Rejection(request.id, layer.index, layer.name, constraint, detail)
                    held[chosen] += 1
                charge(rule, chosen, 1, comp, mem, bw, sends_all)
                out.append(chosen)
            placed.append(out)
        return view.make_placement(request, [np.array(a, dtype=np.int64) for a in placed])
