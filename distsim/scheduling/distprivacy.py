"""The DistPrivacy heuristic (SPEC section 6), fast and decision-for-decision exact.

The per-segment algorithm (:mod:`distsim.scheduling.reference`) recomputes
``nrm(j)`` for every participant before every segment. This implementation
places *runs* of consecutive segments at once, using two facts that hold
while the segments of one layer are placed:

1. For consecutive segments fed by the same senders with the same bytes (all
   segments of a layer after a conv layer; runs of segments whose maps come
   from the same device after a relu/pool layer; the single segment of an FC
   layer), ``t(j)`` is the same for every segment.
2. Placing a segment on ``j`` lowers the residual compute and memory of ``j``,
   raises its map count, and lowers the residual bandwidth of the senders. So
   ``nrm`` of every other candidate can only grow (``beta / b`` grows when its
   ``b`` shrinks) and every condition that fails keeps failing. ``nrm(j)`` of
   the chosen ``j`` itself does not change (it does not send to itself).

Hence the argmin stays at ``j`` until ``j`` stops qualifying, and how many
segments that takes follows in closed form from the residuals:
``min(c_j // c, m_j // m, Nf - held_j, min_i b_i // O_i)``. Each run costs a
few numpy operations over the participants; a layer needs as many runs as
devices it uses plus the runs of its feeding layer. Ties in ``nrm`` break by
lowest device id, as in the reference. The test suite checks equality with the
reference on random instances.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import numpy.typing as npt

from distsim.model.cnn import Feed, Layer
from distsim.model.cost import gather_bytes
from distsim.scheduling.base import ClusterView, Constraint, Decision, Rejection, Request
from distsim.scheduling.reference import FAILURE_ORDER, DistPrivacyParams, no_participant_detail
from distsim.world import World

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


class _Rejected(Exception):
    def __init__(self, rejection: Rejection) -> None:
        self.rejection = rejection


class DistPrivacy:
    """DistPrivacy (Algorithm 1) placing runs of segments per (layer, device)."""

    name: ClassVar[str] = "distprivacy"
    Params = DistPrivacyParams

    def __init__(self, params: DistPrivacyParams, world: World, rng: np.random.Generator) -> None:
        self.params = params
        self.world = world
        fleet = world.fleet
        d = fleet.participants
        self._d = d
        self._ids = np.arange(d)
        self._speed = fleet.mults_per_s[:d]

    def place(self, request: Request, view: ClusterView) -> Decision:
        cnn = self.world.cnns[request.cnn]
        limits = self.world.limits[request.cnn]
        comp, mem, bw = view.residuals()
        placed: list[IntArray] = []
        try:
            for layer in cnn.layers:
                prev = placed[-1] if placed else None
                if limits.on_source(layer.index):
                    placed.append(self._on_source(request, layer, prev, comp, mem, bw, view))
                else:
                    cap = limits.max_maps(layer.index)
                    placed.append(self._on_participants(request, layer, prev, cap, comp, mem, bw, view))
        except _Rejected as stop:
            return stop.rejection
        return view.make_placement(request, placed)

    @staticmethod
    def _feed_vector(layer: Layer, prev: IntArray | None, n: int) -> IntArray | None:
        """Bytes per sender for every segment when they do not depend on the segment, else None."""
        if layer.feed is Feed.NONE or prev is None:
            return np.zeros(n, dtype=np.int64)
        if layer.feed is Feed.PARTIAL_SUMS:
            out = np.zeros(n, dtype=np.int64)
            out[np.unique(prev)] = layer.feed_unit_bytes
            return out
        if layer.feed is Feed.VECTOR:
            out = np.zeros(n, dtype=np.int64)
            out[prev[0]] = layer.feed_unit_bytes
            return out
        if layer.feed is Feed.GATHER:
            return gather_bytes(layer, prev, n)
        return None  # MAPS: the sender depends on the segment

    def _on_source(
        self,
        request: Request,
        layer: Layer,
        prev: IntArray | None,
        comp: IntArray,
        mem: IntArray,
        bw: IntArray,
        view: ClusterView,
    ) -> IntArray:
        src = request.source
        n = view.fleet.size
        c, m = layer.segment_mults, layer.segment_weight_bytes
        fixed = self._feed_vector(layer, prev, n)
        # Source layers have few segments (image channels, one FC segment):
        # a per-segment walk keeps the first failing condition exact.
        for p in range(layer.segments):
            if fixed is not None:
                sends = fixed.copy()
            else:
                assert prev is not None
                sends = np.zeros(n, dtype=np.int64)
                sends[prev[p]] = layer.feed_unit_bytes
            sends[src] = 0
            if comp[src] < c:
                raise _Rejected(Rejection(request.id, layer.index, layer.name, Constraint.COMPUTE,
                                          f"layer {layer.name}: the source lacks compute budget"))
            if mem[src] < m:
                raise _Rejected(Rejection(request.id, layer.index, layer.name, Constraint.MEMORY,
                                          f"layer {layer.name}: the source lacks memory"))
            if np.any(bw < sends):
                raise _Rejected(Rejection(request.id, layer.index, layer.name, Constraint.BANDWIDTH,
                                          f"layer {layer.name}: a sender lacks bandwidth to reach the source"))
            comp[src] -= c
            mem[src] -= m
            bw -= sends
        return np.full(layer.segments, src, dtype=np.int64)

    def _on_participants(
        self,
        request: Request,
        layer: Layer,
        prev: IntArray | None,
        cap: int | None,
        comp: IntArray,
        mem: IntArray,
        bw: IntArray,
        view: ClusterView,
    ) -> IntArray:
        n = view.fleet.size
        out = np.empty(layer.segments, dtype=np.int64)
        held = np.zeros(self._d, dtype=np.int64)
        compute_t = layer.segment_mults / self._speed
        fixed = self._feed_vector(layer, prev, n)
        if fixed is not None:
            self._fill(request, layer, 0, layer.segments, fixed, cap, compute_t, held, out, comp, mem, bw, view)
            return out
        assert prev is not None
        # MAPS: consecutive segments whose map comes from the same device share a feed.
        bounds = np.flatnonzero(np.diff(prev)) + 1
        starts = np.concatenate(([0], bounds))
        ends = np.concatenate((bounds, [len(prev)]))
        sends = np.zeros(n, dtype=np.int64)
        for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
            holder = int(prev[start])
            sends[holder] = layer.feed_unit_bytes
            self._fill(request, layer, start, end, sends, cap, compute_t, held, out, comp, mem, bw, view)
            sends[holder] = 0
        return out

    def _fill(
        self,
        request: Request,
        layer: Layer,
        start: int,
        end: int,
        sends: IntArray,
        cap: int | None,
        compute_t: FloatArray,
        held: IntArray,
        out: IntArray,
        comp: IntArray,
        mem: IntArray,
        bw: IntArray,
        view: ClusterView,
    ) -> None:
        """Place segments ``start..end-1``, all fed by ``sends[i]`` bytes from each device ``i``."""
        alpha, beta = self.params.alpha, self.params.beta
        d = self._d
        c, m = layer.segment_mults, layer.segment_weight_bytes
        senders = np.flatnonzero(sends)
        sender_bytes = sends[senders]
        t = view.links.max_weighted(senders, sender_bytes)[:d] + compute_t
        pos = start
        while pos < end:
            with np.errstate(divide="ignore"):
                nrm = alpha * t + beta / bw[:d].astype(np.float64)
            ok_privacy = held < cap if cap is not None else np.ones(d, dtype=bool)
            ok_compute = comp[:d] >= c
            ok_memory = mem[:d] >= m
            low = senders[bw[senders] < sender_bytes]
            if len(low) == 0:
                ok_bandwidth = np.ones(d, dtype=bool)
            elif len(low) == 1:
                ok_bandwidth = self._ids == low[0]
            else:
                ok_bandwidth = np.zeros(d, dtype=bool)
            qualifies = ok_privacy & ok_compute & ok_memory & ok_bandwidth
            candidates = np.flatnonzero(qualifies)
            if len(candidates) == 0:
                raise _Rejected(self._no_participant(request, layer, ok_privacy, ok_compute, ok_memory))
            j = int(candidates[np.argmin(nrm[candidates])])
            k = end - pos
            if c > 0:
                k = min(k, int(comp[j]) // c)
            if m > 0:
                k = min(k, int(mem[j]) // m)
            if cap is not None:
                k = min(k, cap - int(held[j]))
            others = senders != j
            if others.any():
                k = min(k, int((bw[senders[others]] // sender_bytes[others]).min()))
            out[pos : pos + k] = j
            comp[j] -= k * c
            mem[j] -= k * m
            held[j] += k
            bw[senders[others]] -= k * sender_bytes[others]
            pos += k

    def _no_participant(
        self,
        request: Request,
        layer: Layer,
        ok_privacy: npt.NDArray[np.bool_],
        ok_compute: npt.NDArray[np.bool_],
        ok_memory: npt.NDArray[np.bool_],
    ) -> Rejection:
        # Attribute each candidate to its first failing condition, as the reference does.
        fail_privacy = ~ok_privacy
        fail_compute = ok_privacy & ~ok_compute
        fail_memory = ok_privacy & ok_compute & ~ok_memory
        fail_bandwidth = ok_privacy & ok_compute & ok_memory
        counts = dict(zip(FAILURE_ORDER, (int(x.sum()) for x in
                                          (fail_privacy, fail_compute, fail_memory, fail_bandwidth)), strict=True))
        constraint, detail = no_participant_detail(layer, counts, self._d)
        return Rejection(request.id, layer.index, layer.name, constraint, detail)
