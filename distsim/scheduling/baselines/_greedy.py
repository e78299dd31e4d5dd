"""Per-segment greedy placement shared by the ``random`` and ``round_robin`` baselines.

Layers go in order; source-only layers (Eq. 8h) go to the request's source;
every other segment goes to the participant a policy picks among those that
qualify for it, with the same conditions as DistPrivacy (SPEC section 6):
residual compute and memory (cond1), every sender's residual bandwidth for the
bytes it ships to the candidate (cond2), and fewer than ``Nf^l`` maps of this
layer (cond4, ``l < SP``), and, over a topology, a route from every sender to
the candidate (a pair with infinite seconds per byte never carries data; the
source of a source-only layer must be reachable from every sender, or the
request is rejected as ``unreachable``). Resources are reserved segment by
segment on scratch copies of the residuals, exactly as the cost model accounts
them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from distsim.model.cnn import Feed
from distsim.model.devices import FullMesh
from distsim.model.privacy import PrivacyLimits
from distsim.scheduling.base import ClusterView, Constraint, Decision, Rejection, Request
from distsim.scheduling.reference import FAILURE_ORDER, gather_senders, no_participant_detail, segment_senders
from distsim.world import World

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
#: ``pick(request, layer_index, segment, qualifies) -> device``; ``qualifies`` is a boolean mask over participants.
Picker = Callable[[Request, int, int, BoolArray], int]


def greedy_place(
    world: World, request: Request, view: ClusterView, pick: Picker, limits: PrivacyLimits | None = None
) -> Decision:
    """Place ``request`` segment by segment, letting ``pick`` choose among qualifying participants."""
    cnn = world.cnns[request.cnn]
    limits = limits or world.limits[request.cnn]
    fleet = view.fleet
    d, src = fleet.participants, request.source
    comp, mem, bw = view.residuals()
    # Participants each sender reaches (topologies only; on a full mesh every pair is linked).
    mesh = isinstance(view.links, FullMesh)
    reach_rows: dict[int, BoolArray] = {}

    def reaches(i: int) -> BoolArray:
        row = reach_rows.get(i)
        if row is None:
            row = reach_rows[i] = np.isfinite(view.links.to_all(i)[:d])
        return row

    placed: list[list[int]] = []
    for layer in cnn.layers:
        prev = placed[-1] if placed else None
        gather = gather_senders(layer, prev) if layer.feed is Feed.GATHER and prev is not None else {}
        c, m = layer.segment_mults, layer.segment_weight_bytes
        out: list[int] = []
        held = np.zeros(d, dtype=np.int64)
        cap = None if limits.on_source(layer.index) else limits.max_maps(layer.index)
        for p in range(layer.segments):
            sends_all = segment_senders(layer, prev, p, gather)
            if limits.on_source(layer.index):
                j = src
                sends = {i: o for i, o in sends_all.items() if i != j}
                for constraint, ok in (
                    (Constraint.COMPUTE, comp[j] >= c),
                    (Constraint.MEMORY, mem[j] >= m),
                    (Constraint.BANDWIDTH, all(bw[i] >= o for i, o in sends.items())),
                    (Constraint.UNREACHABLE, mesh or all(np.isfinite(view.links.pair(i, j)) for i in sends)),
                ):
                    if not ok:
                        return Rejection(
                            request.id,
                            layer.index,
                            layer.name,
                            constraint,
                            f"layer {layer.name}: the source cannot take it ({constraint})",
                        )
            else:
                ok_privacy = held < cap if cap is not None else np.ones(d, dtype=bool)
                ok_compute = comp[:d] >= c
                ok_memory = mem[:d] >= m
                ok_bandwidth = np.ones(d, dtype=bool)
                for i, o in sends_all.items():
                    if bw[i] < o:
                        # Every candidate but i itself would need i to send.
                        keep = np.zeros(d, dtype=bool)
                        if i < d:
                            keep[i] = True
                        ok_bandwidth &= keep
                ok_reach = np.ones(d, dtype=bool)
                if not mesh:
                    for i, o in sends_all.items():
                        if o > 0:
                            ok_reach &= reaches(i)
                qualifies = ok_privacy & ok_compute & ok_memory & ok_bandwidth & ok_reach
                if not qualifies.any():
                    # Each candidate counted once, by its first failing condition (as the reference does).
                    passed = ok_privacy & ok_compute & ok_memory
                    failures = {
                        FAILURE_ORDER[0]: int((~ok_privacy).sum()),
                        FAILURE_ORDER[1]: int((ok_privacy & ~ok_compute).sum()),
                        FAILURE_ORDER[2]: int((ok_privacy & ok_compute & ~ok_memory).sum()),
                        FAILURE_ORDER[3]: int((passed & ~ok_bandwidth).sum()),
                        Constraint.UNREACHABLE: int((passed & ok_bandwidth & ~ok_reach).sum()),
                    }
                    constraint, detail = no_participant_detail(layer, failures, d)
                    return Rejection(request.id, layer.index, layer.name, constraint, detail)
                j = pick(request, layer.index, p, qualifies)
                held[j] += 1
                sends = {i: o for i, o in sends_all.items() if i != j}
            comp[j] -= c
            mem[j] -= m
            for i, o in sends.items():
                bw[i] -= o
            out.append(j)
        placed.append(out)
    return view.make_placement(request, [np.array(a, dtype=np.int64) for a in placed])
