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
from distsim.model.privacy import PrivacyLimits
from distsim.placement import LayerRule, Reach, charge, no_participant_detail, qualify, source_failure
from distsim.scheduling.base import ClusterView, Decision, Rejection, Request
from distsim.scheduling.reference import gather_senders, segment_senders
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
    reach = Reach(view.links, d, encrypted_links=world.encrypted_links)
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
                j = src
                failed = source_failure(rule, j, comp, mem, bw, sends_all, reach)
                if failed is not None:
                    constraint = failed[0]
                    return Rejection(
                        request.id,
                        layer.index,
                        layer.name,
                        constraint,
                        f"layer {layer.name}: the source cannot take it ({constraint})",
                    )
            else:
                q = qualify(rule, held, comp, mem, bw, sends_all, reach.for_rule(rule).of(sends_all))
                qualifies = q.qualifies
                if not qualifies.any():
                    constraint, detail = no_participant_detail(layer.name, q.failures(), d)
                    return Rejection(request.id, layer.index, layer.name, constraint, detail)
                j = pick(request, layer.index, p, qualifies)
                held[j] += 1
            charge(rule, j, 1, comp, mem, bw, sends_all)
            out.append(j)
        placed.append(out)
    return view.make_placement(request, [np.array(a, dtype=np.int64) for a in placed])
