"""Cheap infeasibility certificates before any model is built.

The privacy engineer may later move these onto the placement kernel; the
solver only needs :func:`precheck` and :func:`usable_participants`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from distsim.model.cnn import Layer
from distsim.model.devices import FullMesh
from distsim.placement import layer_rules, min_participants
from distsim.scheduling.base import ClusterView, Constraint, Rejection, Request
from distsim.world import World


def usable_participants(view: ClusterView, source: int) -> npt.NDArray[np.bool_]:
    """Participants that can take part in a request of ``source``, as a mask over participant ids.

    Every participant layer is fed by the layer before it and feeds the next,
    from the source's first layer to its last, so a participant that computes
    anything lies on a chain of finite-cost pairs from the source and on one
    back to it. Over a topology that is the source's connected component; on a
    full mesh it is every participant.
    """
    d = view.fleet.participants
    if isinstance(view.links, FullMesh):
        return np.ones(d, dtype=bool)
    nodes = [*range(d), source]
    linked = np.array([np.isfinite(view.links.to_all(i)[nodes]) for i in nodes])
    graph = linked.astype(np.int8)

    def closure(adjacency: npt.NDArray[np.int8]) -> npt.NDArray[np.bool_]:
        seen = np.zeros(len(nodes), dtype=bool)
        seen[-1] = True
        frontier = seen.copy()
        while frontier.any():
            frontier = (adjacency[frontier].any(axis=0)) & ~seen
            seen |= frontier
        return seen

    return (closure(graph) & closure(graph.T))[:d]


def precheck(request: Request, view: ClusterView, world: World) -> Rejection | None:
    """A cheap infeasibility certificate naming the constraint family, or None.

    Checks, in order: privacy needs more participants than the fleet has; a
    layer's segments exceed what the participants can hold under ``Nf`` alone,
    then with compute and memory; the source lacks compute or memory for its
    layers; the participants' total compute or memory is short. Over a
    topology, the same with only the participants that can exchange data with
    the source (:func:`usable_participants`) gives rejections with constraint
    ``unreachable``.
    """
    rejection = _precheck(request, view, world, None)
    if rejection is None and not isinstance(view.links, FullMesh):
        usable = usable_participants(view, request.source)
        if not usable.all():
            rejection = _precheck(request, view, world, usable)
    return rejection


def _precheck(
    request: Request, view: ClusterView, world: World, usable: npt.NDArray[np.bool_] | None
) -> Rejection | None:
    """:func:`precheck` over every participant (``usable`` None) or over the usable ones only."""
    cnn = world.cnns[request.cnn]
    limits = world.limits[request.cnn]
    fleet = view.fleet
    comp = view.compute_mults[: fleet.participants].astype(np.int64)
    mem = view.memory_bytes[: fleet.participants].astype(np.int64)
    if usable is not None:
        comp, mem = comp[usable], mem[usable]
    d = len(comp)
    s = request.source
    rules = layer_rules(cnn, limits)
    need = min_participants(rules)
    if usable is not None:
        fleet_name = fleet.names[s]
        cut = int((~usable).sum())
        detail = (
            f"unreachable: {cut} of {fleet.participants} participants have no route to or from the source {fleet_name}"
        )

        def reject(layer: Layer | None, why: str) -> Rejection:
            return Rejection(
                request.id,
                layer.index if layer else 0,
                layer.name if layer else "",
                Constraint.UNREACHABLE,
                f"{detail}; {why}",
            )
    else:

        def reject(layer: Layer | None, why: str) -> Rejection:
            return Rejection(
                request.id, layer.index if layer else 0, layer.name if layer else "", Constraint.INFEASIBLE, why
            )

    if need > d:
        return reject(
            None,
            f"privacy: {cnn.name} at max_ssim {limits.tau} needs at least {need} participants, "
            f"the fleet has {d}{' reachable' if usable is not None else ''}",
        )
    src_c = src_m = 0
    part_c = part_m = 0
    for layer, rule in zip(cnn.layers, rules, strict=True):
        c, m = rule.segment_mults, rule.segment_weight_bytes
        if rule.on_source:
            src_c += layer.total_mults
            src_m += layer.total_weight_bytes
            continue
        part_c += layer.total_mults
        part_m += layer.total_weight_bytes
        cap = rule.cap
        seg = layer.segments
        if d == 0:
            return reject(
                layer,
                f"layer {layer.name}: "
                + (
                    "no participant can exchange data with the source"
                    if usable is not None
                    else "the fleet has no participants"
                ),
            )
        room = np.full(d, seg, dtype=np.int64)
        if cap is not None:
            room = np.minimum(room, cap)
        if int(room.sum()) < seg:
            return reject(
                layer,
                f"privacy: layer {layer.name} has {seg} segments, {d} participants hold at most "
                f"{int(room.sum())} at Nf = {cap}",
            )
        if c > 0:
            room = np.minimum(room, comp // c)
        if int(room.sum()) < seg:
            return reject(
                layer,
                f"compute: participants' residual compute holds {int(room.sum())} of the {seg} "
                f"segments of layer {layer.name}",
            )
        if m > 0:
            room = np.minimum(room, mem // m)
        if int(room.sum()) < seg:
            return reject(
                layer,
                f"memory: participants' residual memory holds {int(room.sum())} of the {seg} "
                f"segments of layer {layer.name}",
            )
    if src_c > int(view.compute_mults[s]):
        return reject(
            None, f"compute: the source needs {src_c} mults for its layers, residual {int(view.compute_mults[s])}"
        )
    if src_m > int(view.memory_bytes[s]):
        return reject(
            None, f"memory: the source needs {src_m} bytes for its layers, residual {int(view.memory_bytes[s])}"
        )
    if part_c > int(comp.sum()):
        return reject(None, f"compute: participant layers need {part_c} mults, participants have {int(comp.sum())}")
    if part_m > int(mem.sum()):
        return reject(None, f"memory: participant layers need {part_m} bytes, participants have {int(mem.sum())}")
    return None
