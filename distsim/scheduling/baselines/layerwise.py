"""``layerwise``: each layer whole on one device, no feature-map split.

As in the layer-wise partitioning line of work (Disabato et al.; RL-PDNN):
layers 1 and ``L`` run on the source; every other layer goes whole to the
participant that finishes it first (its incoming transfer plus its compute,
Eq. 5 term) among those whose residual compute, memory and senders'
bandwidth can hold it and that every sender reaches (over a topology a pair
with no route never carries data); ties to the lowest id. A whole layer on one device
gives that device every map, so ``Nf`` cannot hold: this baseline lifts
privacy by design (``honours_privacy = False``), like ``no_privacy``.

The decision has a compiled twin (:mod:`._layerwise_kernel`, the same
floating-point operations in the same order) behind ``DISTSIM_KERNEL``; the
Python path below is its specification and attributes its rejections.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from distsim.model.cnn import Layer
from distsim.model.compiled import layer_bounds, load_kernel
from distsim.model.cost import layer_transfers
from distsim.model.devices import FullMesh
from distsim.placement import LayerRule, Qualification, attribute, binding, charge
from distsim.scheduling.base import ClusterView, Constraint, Decision, Rejection, Request, SchedulerParams
from distsim.scheduling.baselines._runs import cost_matrix
from distsim.world import World

IntArray = npt.NDArray[np.int64]
_NO_MESH = np.zeros(1)
_NO_COST = np.zeros((1, 1))


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
        self._sizes: dict[str, list[int]] = {}
        self._tables: dict[str, tuple[IntArray, IntArray, IntArray, IntArray]] = {}
        self._everyone = np.arange(world.fleet.participants, dtype=np.int64)

    def _layer_bytes(self, cnn_name: str) -> list[int]:
        """Per layer, the bytes the device holding the whole previous layer sends to another (Eq. 6, one
        pair; 0 for the first layer). It depends on the layer alone, so it is computed once per CNN."""
        sizes = self._sizes.get(cnn_name)
        if sizes is None:
            cnn = self.world.cnns[cnn_name]
            n = max(self.world.fleet.size, 2)
            sizes = [0]
            for before, layer in zip(cnn.layers, cnn.layers[1:], strict=False):
                prev = np.zeros(before.segments, dtype=np.int64)
                flows = layer_transfers(layer, prev, np.ones(layer.segments, dtype=np.int64), n)
                sizes.append(int(flows.bytes[0]) if len(flows.bytes) else 0)
            self._sizes[cnn_name] = sizes
        return sizes

    def place(self, request: Request, view: ClusterView) -> Decision:
        # The request's segments count towards ``auto``'s share of work (else it never switches).
        segments = layer_bounds(self.world.cnns[request.cnn])[-1]
        kernel = load_kernel("distsim.scheduling.baselines._layerwise_kernel", "place_layerwise", segments)
        if kernel is not None:
            return self._place_compiled(kernel, request, view)
        cnn = self.world.cnns[request.cnn]
        comp, mem, bw = view.residuals()
        placed: list[IntArray] = []
        sender = -1  # the device that holds the whole previous layer
        for layer in cnn.layers:
            best = self._layer(request, layer, view, comp, mem, bw, sender)
            if isinstance(best, Rejection):
                return best
            placed.append(np.full(layer.segments, best, dtype=np.int64))
            sender = best
        return view.make_placement(request, placed)

    def _layer(
        self,
        request: Request,
        layer: Layer,
        view: ClusterView,
        comp: IntArray,
        mem: IntArray,
        bw: IntArray,
        sender: int,
    ) -> int | Rejection:
        """The device that takes ``layer`` whole after ``sender`` held the previous one (charged), or the
        rejection; the Python path, and the attribution of the compiled path's rejections."""
        cnn = self.world.cnns[request.cnn]
        fleet, src = view.fleet, request.source
        d = fleet.participants
        need_c = layer.total_mults
        # The whole layer on one device: no cap (this baseline lifts privacy by design).
        rule = LayerRule(
            layer.index, layer.name, layer.segments, layer.segment_mults, layer.segment_weight_bytes, None, False
        )
        everyone = self._everyone if len(self._everyone) == d else np.arange(d, dtype=np.int64)
        candidates = np.array([src], dtype=np.int64) if layer.index in (1, cnn.depth) else everyone
        if not len(candidates):
            return Rejection(
                request.id,
                layer.index,
                layer.name,
                Constraint.NO_PARTICIPANTS,
                f"layer {layer.name}: the fleet has no participants",
            )
        # Bytes the previous layer's device sends to any other device (Eq. 6, one pair).
        size = self._layer_bytes(request.cnn)[layer.index - 1]
        local = candidates == sender
        tx = np.where(local, 0.0, size * view.links.to_all(sender)[candidates]) if size else np.zeros(len(candidates))
        # Every candidate's first failing condition, from the kernel's masks (k = all segments).
        q = Qualification(
            np.ones(len(candidates), dtype=bool),
            comp[candidates] >= layer.segments * rule.segment_mults,
            mem[candidates] >= layer.segments * rule.segment_weight_bytes,
            local | (int(bw[sender]) >= size if size else True),
            np.isfinite(tx) if size else None,
        )
        ok = q.qualifies
        if not ok.any():
            reasons = {c: k for c, k in attribute(q).items() if k}
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
        # The one finishing first (transfer + compute), ties to the lowest id.
        t = np.where(ok, tx + need_c / fleet.mults_per_s[candidates], np.inf)
        best = int(candidates[int(np.argmin(t))])
        charge(rule, best, layer.segments, comp, mem, bw)
        if size and best != sender:
            bw[sender] -= size
        return best

    def _place_compiled(self, kernel: Callable[..., int], request: Request, view: ClusterView) -> Decision:
        """The compiled twin's decision (:mod:`._layerwise_kernel`); a rejection is attributed by :meth:`_layer`
        from the state the kernel stopped in."""
        cnn = self.world.cnns[request.cnn]
        table = self._tables.get(request.cnn)
        if table is None:
            rows = [(layer.segments, layer.segment_mults, layer.segment_weight_bytes) for layer in cnn.layers]
            columns = np.array(rows, dtype=np.int64).reshape(len(rows), 3).T.copy()
            sizes = np.array(self._layer_bytes(request.cnn), dtype=np.int64)
            table = self._tables[request.cnn] = (columns[0], columns[1], columns[2], sizes)
        fleet, links = view.fleet, view.links
        comp, mem, bw = view.residuals()
        mesh = isinstance(links, FullMesh)
        spb = links.sec_per_byte if isinstance(links, FullMesh) else _NO_MESH
        cost = _NO_COST if mesh else cost_matrix(links, fleet.size)
        best = np.empty(len(cnn.layers), dtype=np.int64)
        res = np.zeros(3, dtype=np.int64)
        args = (comp, mem, bw, request.source, fleet.participants, mesh, spb, cost, fleet.mults_per_s)
        if kernel(*table, *args, best, res) == 0:
            return view.make_placement(
                request,
                [
                    np.full(layer.segments, j, dtype=np.int64)
                    for layer, j in zip(cnn.layers, best.tolist(), strict=True)
                ],
            )
        failed = self._layer(request, cnn.layers[int(res[1])], view, comp, mem, bw, int(res[2]))
        if not isinstance(failed, Rejection):  # the twins disagree: a bug, never a silent placement
            raise RuntimeError(f"request {request.id}: compiled layerwise rejected what the Python path places")
        return failed
