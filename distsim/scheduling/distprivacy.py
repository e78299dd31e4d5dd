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

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from distsim.model.cnn import Feed, Layer
from distsim.model.cost import gather_bytes
from distsim.placement import LayerRule, Reach, no_participant_detail, qualify, source_failure
from distsim.scheduling.base import ClusterView, Decision, Rejection, Request
from distsim.scheduling.reference import DistPrivacyParams
from distsim.world import World

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


#: Memory the per-sender ``alpha * t`` cache may use, bytes.
_CACHE_BYTES = 64 * 2**20


class _Rejected(Exception):
    def __init__(self, rejection: Rejection) -> None:
        self.rejection = rejection


@dataclass(slots=True)
class _LayerWork:
    """One participant layer being placed: what the run loops share (arrays updated in place).

    ``held``: segments of this layer per participant; ``base``: cond1 and
    cond4 per participant; ``inv_b``: ``beta / b_j``; ``qinv``: ``inv_b``
    where ``base``, else inf; ``qmin``: a lower bound of ``qinv`` for the
    whole layer; ``comp``, ``mem``, ``bw``: scratch residuals of the request.
    """

    request: Request
    layer: Layer
    cap: int | None
    compute_t: FloatArray
    held: IntArray
    base: npt.NDArray[np.bool_]
    qinv: FloatArray
    qmin: float
    out: IntArray
    comp: IntArray
    mem: IntArray
    bw: IntArray
    inv_b: FloatArray
    view: ClusterView

    def land(self, j: int, pos: int, k: int, nrm: FloatArray | None) -> None:
        """Put segments ``pos .. pos+k-1`` on participant ``j``, charge its compute and memory, and
        retire it (``base`` False, ``qinv`` and ``nrm`` inf) once it cannot take one more segment."""
        layer, cap = self.layer, self.cap
        c, m = layer.segment_mults, layer.segment_weight_bytes
        self.out[pos : pos + k] = j
        # Python ints, written back: the same integers as numpy's in-place updates.
        stays = True
        if c:
            self.comp[j] = left_c = int(self.comp[j]) - k * c
            stays = left_c >= c
        if m:
            self.mem[j] = left_m = int(self.mem[j]) - k * m
            stays = stays and left_m >= m
        self.held[j] = held_j = int(self.held[j]) + k
        if not (stays and (cap is None or held_j < cap)):
            self.base[j] = False
            self.qinv[j] = math.inf
            if nrm is not None:
                nrm[j] = math.inf

    def parts(
        self,
    ) -> tuple[
        Request,
        Layer,
        int | None,
        FloatArray,
        IntArray,
        npt.NDArray[np.bool_],
        FloatArray,
        float,
        IntArray,
        IntArray,
        IntArray,
        IntArray,
        FloatArray,
        ClusterView,
    ]:
        """The fields as locals for the hot loops (attribute lookups cost there)."""
        return (
            self.request,
            self.layer,
            self.cap,
            self.compute_t,
            self.held,
            self.base,
            self.qinv,
            self.qmin,
            self.out,
            self.comp,
            self.mem,
            self.bw,
            self.inv_b,
            self.view,
        )


class DistPrivacy:
    """DistPrivacy (Algorithm 1) placing runs of segments per (layer, device)."""

    name: ClassVar[str] = "distprivacy"
    Params = DistPrivacyParams
    #: The decision depends only on the request's source (hence CNN) and the residuals (see ``Scheduler``).
    repeatable: ClassVar[bool] = True

    def __init__(self, params: DistPrivacyParams, world: World, rng: np.random.Generator) -> None:
        self.params = params
        self.world = world
        fleet = world.fleet
        d = fleet.participants
        self._d = d
        self._speed = fleet.mults_per_s[:d]
        # alpha * t(j) of a run fed by one sender depends only on the world:
        # cached per (segment mults, bytes sent, sender), oldest entries
        # dropped beyond about _CACHE_BYTES. Caching never changes a decision.
        self._alpha_t: dict[tuple[int, int, int], tuple[FloatArray, npt.NDArray[np.bool_] | None, float]] = {}
        self._alpha_t_max = max(16, _CACHE_BYTES // (8 * max(d, 1)))
        self._compute_t: dict[int, FloatArray] = {}
        self._holder: dict[tuple[int, int], list[tuple[float, float] | None]] = {}
        self._reach: Reach | None = None

    def place(self, request: Request, view: ClusterView) -> Decision:
        cnn = self.world.cnns[request.cnn]
        limits = self.world.limits[request.cnn]
        comp, mem, bw = view.residuals()
        inv_b = self._inverse_bandwidth(bw)
        placed: list[IntArray] = []
        try:
            for layer in cnn.layers:
                prev = placed[-1] if placed else None
                if limits.on_source(layer.index):
                    placed.append(self._on_source(request, layer, prev, comp, mem, bw, view))
                    inv_b = self._inverse_bandwidth(bw)
                else:
                    cap = limits.max_maps(layer.index)
                    placed.append(self._on_participants(request, layer, prev, cap, comp, mem, bw, inv_b, view))
        except _Rejected as stop:
            return stop.rejection
        return view.make_placement(request, placed)

    def _reach_of(self, view: ClusterView) -> Reach:
        """The kernel's cached reachability rows for ``view``'s links (one per scheduler and links)."""
        if self._reach is None or self._reach.links is not view.links:
            self._reach = Reach(view.links, self._d)
        return self._reach

    def _inverse_bandwidth(self, bw: IntArray) -> FloatArray:
        """``beta / b_j`` of the participants, ``inf`` where ``b_j == 0`` (as in the reference)."""
        b = bw[: self._d]
        with np.errstate(divide="ignore", invalid="ignore"):
            out = self.params.beta / b.astype(np.float64)
        out[b <= 0] = np.inf
        return out

    @staticmethod
    def _feed_vector(layer: Layer, prev: IntArray | None, n: int) -> IntArray | None:
        """Bytes per sender for every segment when they do not depend on the segment, else None."""
        if layer.feed is Feed.NONE or prev is None:
            return np.zeros(n, dtype=np.int64)
        if layer.feed is Feed.PARTIAL_SUMS:
            out = np.zeros(n, dtype=np.int64)
            out[np.bincount(prev, minlength=n) > 0] = layer.feed_unit_bytes
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
        rule = LayerRule.of(layer, self.world.limits[request.cnn])
        reach = self._reach_of(view)
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
            sending = np.flatnonzero(sends)
            senders = dict(zip(sending.tolist(), sends[sending].tolist(), strict=True))
            failed = source_failure(rule, src, comp, mem, bw, senders, reach)
            if failed is not None:
                raise _Rejected(Rejection(request.id, layer.index, layer.name, *failed))
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
        inv_b: FloatArray,
        view: ClusterView,
    ) -> IntArray:
        d = self._d
        c, m = layer.segment_mults, layer.segment_weight_bytes
        out = np.empty(layer.segments, dtype=np.int64)
        held = np.zeros(d, dtype=np.int64)
        compute_t = self._compute_t.get(c)
        if compute_t is None:
            compute_t = self._compute_t[c] = c / self._speed
        # cond1 and cond4 per participant; they only change on the device a run lands on.
        base = (comp[:d] >= c) & (mem[:d] >= m)
        if cap is not None and cap <= 0:
            base[:] = False
        # beta / b_j of the qualifying participants, inf for the others: argmin of
        # alpha * t + qinv is the argmin of nrm over qualifying candidates.
        qinv = np.where(base, inv_b, np.inf)
        # qinv only grows while a layer is placed (residuals shrink, base turns
        # False), so its minimum now bounds every later value from below.
        qmin = float(qinv.min()) if d else math.inf
        work = _LayerWork(request, layer, cap, compute_t, held, base, qinv, qmin, out, comp, mem, bw, inv_b, view)
        partial = layer.feed is Feed.PARTIAL_SUMS and prev is not None
        fixed = None
        if partial:
            # The senders of _feed_vector's vector without building it (most layers of a VGG).
            assert prev is not None
            unit_bytes = layer.feed_unit_bytes
            senders = np.flatnonzero(np.bincount(prev, minlength=view.fleet.size) if unit_bytes else ())
            sender_bytes = np.full(len(senders), unit_bytes, dtype=np.int64)
        else:
            fixed = self._feed_vector(layer, prev, view.fleet.size)
            if fixed is not None:
                senders = np.flatnonzero(fixed)
                sender_bytes = fixed[senders]
        if partial or fixed is not None:
            if len(senders) == 1:
                self._single_runs(work, [0], [layer.segments], senders.tolist(), int(sender_bytes[0]))
                return out
            pos = 0
            if len(senders) > 1 and senders[-1] < d:
                pos = self._fill_many(work, senders, sender_bytes)
                if pos == layer.segments:
                    return out
            self._fill(work, pos, layer.segments, senders, sender_bytes)
            return out
        assert prev is not None
        # MAPS: consecutive segments whose map comes from the same device share a feed.
        starts = [0, *(np.flatnonzero(np.diff(prev)) + 1).tolist()]
        ends = [*starts[1:], len(prev)]
        self._single_runs(work, starts, ends, prev[starts].tolist(), layer.feed_unit_bytes)
        return out

    def _single_runs(
        self, work: _LayerWork, starts: list[int], ends: list[int], holders: list[int], unit_bytes: int
    ) -> None:
        """Place runs ``starts[r]..ends[r]-1``, each fed ``unit_bytes`` per segment by the one device
        ``holders[r]`` (MAPS runs; a layer fed by one sender is one run), as :meth:`_fill` does.

        The runs are placed here with Python scalars, exactly as ``_fill``
        places a one-sender run (same floats, same comparisons, same updates,
        in the same order): numpy's per-call overhead would dominate. Usually
        the holder of a run's map wins it (it pays no transfer); otherwise one
        argmin picks the device. The rare cases (the sender short of
        bandwidth, no finite nrm, unreachable candidates, no participants) go
        through ``_fill`` from where the run stands.
        """
        _, layer, cap, compute_t, held, base, qinv, qmin, _, comp, mem, bw, inv_b, view = work.parts()
        d = self._d
        c, m = layer.segment_mults, layer.segment_weight_bytes
        scalars = self._holder_scalars(c, unit_bytes)
        beta = self.params.beta
        inf = math.inf
        for start, end, h in zip(starts, ends, holders, strict=True):
            pos = start
            if d > 0 and unit_bytes > 0:
                holder = h < d  # a participant; the source pays no nrm of its own
                at_h, floor = 0.0, -inf
                if holder:
                    hit = scalars[h]
                    if hit is None:
                        row, _, others_min = self._alpha_t_single(c, h, unit_bytes, compute_t, view)
                        hit = scalars[h] = (float(row[h]), others_min)
                    at_h, floor = hit[0], hit[1] + qmin
                at: FloatArray | None = None
                nrm: FloatArray | None = None
                while pos < end:
                    bh = int(bw[h])
                    if holder and base[h] and at_h + qinv[h] < floor:
                        j = h  # the holder beats every other candidate (see _fill)
                    elif bh < unit_bytes:
                        break  # the sender is short of bandwidth: _fill handles it
                    else:
                        if at is None:
                            at, reach, _ = self._alpha_t_single(c, h, unit_bytes, compute_t, view)
                            if reach is not None:
                                break
                        if nrm is None:
                            nrm = at + qinv
                        j = int(nrm.argmin())
                        if nrm[j] == inf:
                            break
                    k = end - pos
                    if c > 0:
                        k = min(k, int(comp[j]) // c)
                    if m > 0:
                        k = min(k, int(mem[j]) // m)
                    if cap is not None:
                        k = min(k, cap - int(held[j]))
                    if j != h:
                        k = min(k, bh // unit_bytes)
                        bw[h] = left = bh - k * unit_bytes
                        if holder:
                            inv_h = beta / left if left > 0 else inf
                            inv_b[h] = inv_h
                            if base[h]:
                                qinv[h] = inv_h
                                if nrm is not None:
                                    nrm[h] = at_h + inv_h
                    work.land(j, pos, k, nrm)
                    pos += k
            if pos < end:
                self._fill(work, pos, end, np.array([h], dtype=np.int64), np.array([unit_bytes], dtype=np.int64))

    def _fill_many(self, work: _LayerWork, senders: IntArray, sender_bytes: IntArray) -> int:
        """Place a layer's segments fed by several participant senders as :meth:`_fill` does, with a
        few scalar operations per run; return how far it got (the rest, if any, is for :meth:`_fill`).

        Each run takes ``k`` segments from every sender but the chosen device,
        so a sender's bandwidth is a closed form of the segments placed so far
        (``placed``) and those it holds itself: ``b_s = b0_s - (placed - held_s) * O_s``,
        and its run quotient ``b_s // O_s = b0_s // O_s + held_s - placed``. The
        senders' ``nrm`` only grows, so stale values in ``nrm`` are lower bounds:
        an argmin landing on a device with an exact value (a non-sender, or a
        sender just refreshed) is the exact argmin, ties included (a stale
        value equal to the minimum would have won the tie only if it was exact
        too). Senders are refreshed, with the floats ``_fill`` computes, only
        when the argmin lands on a stale one, and written back at the end. It
        stops, leaving the rest to ``_fill``, where ``_fill`` would need its
        rare branches: a sender short of bandwidth, no finite ``nrm``,
        unreachable candidates.
        """
        _, layer, cap, compute_t, held, base, qinv, _, _, comp, mem, bw, inv_b, view = work.parts()
        beta = self.params.beta
        c, m = layer.segment_mults, layer.segment_weight_bytes
        at = self.params.alpha * (view.links.max_weighted(senders, sender_bytes)[: self._d] + compute_t)
        if not np.isfinite(at).all():
            return 0
        at_s = at[senders]
        where = {s: i for i, s in enumerate(senders.tolist())}
        bw0 = bw[senders]
        # b0_s // O_s + held_s: minus ``placed``, how many more segments sender s can feed.
        quota = bw0 // sender_bytes + held[senders]
        never = np.iinfo(np.int64).max
        inf = math.inf
        nrm = at + qinv

        def refresh() -> tuple[IntArray, FloatArray, FloatArray]:
            left = bw0 - (placed - held[senders]) * sender_bytes
            inv = np.full(len(left), inf)
            np.divide(beta, left, out=inv, where=left > 0)
            q = np.where(base[senders], inv, inf)
            nrm[senders] = at_s + q
            return left, inv, q

        placed, end = 0, layer.segments
        fresh = True
        # quota changes only where a sender is chosen: its minimum is recomputed then only.
        quota_min = int(quota.min())
        while placed < end:
            if quota_min - placed < 1:
                break  # a sender is short of bandwidth
            j = int(nrm.argmin())
            jpos = where.get(j)
            if jpos is not None and not fresh:
                refresh()
                fresh = True
                j = int(nrm.argmin())
                jpos = where.get(j)
            if nrm[j] == inf:
                break
            k = end - placed
            if c > 0:
                k = min(k, int(comp[j]) // c)
            if m > 0:
                k = min(k, int(mem[j]) // m)
            if cap is not None:
                k = min(k, cap - int(held[j]))
            if jpos is None:
                k = min(k, quota_min - placed)
            else:
                own = quota[jpos]
                quota[jpos] = never
                k = min(k, int(quota.min()) - placed)
                quota[jpos] = own + k
                quota_min = int(quota.min())
            work.land(j, placed, k, nrm)
            placed += k
            fresh = False
        left, inv, q = refresh()
        bw[senders] = left
        inv_b[senders] = inv
        qinv[senders] = q
        return placed

    def _holder_scalars(self, c: int, size: int) -> list[tuple[float, float] | None]:
        """Per sender ``h`` (filled lazily): ``alpha * t(h)`` when ``h`` alone sends ``size`` bytes to
        segments of ``c`` mults, and the least ``alpha * t`` of the other participants (from
        :meth:`_alpha_t_single`); two floats per participant, kept for the whole run."""
        key = (c, size)
        table = self._holder.get(key)
        if table is None:
            table = self._holder[key] = [None] * self._d
        return table

    def _alpha_t_single(
        self, c: int, sender: int, size: int, compute_t: FloatArray, view: ClusterView
    ) -> tuple[FloatArray, npt.NDArray[np.bool_] | None, float]:
        """``alpha * t(j)`` for every participant when only ``sender`` sends ``size`` bytes,
        ``isfinite`` of it (None when all finite) and its minimum over the participants other
        than ``sender``; cached."""
        key = (c, size, sender)
        hit = self._alpha_t.get(key)
        if hit is None:
            t = view.links.max_weighted(np.array([sender]), np.array([size], dtype=np.int64))[: self._d] + compute_t
            at = self.params.alpha * t
            finite = np.isfinite(at)
            others = np.delete(at, sender) if sender < self._d else at
            hit = (at, None if finite.all() else finite, float(others.min()) if len(others) else math.inf)
            if len(self._alpha_t) >= self._alpha_t_max:
                del self._alpha_t[next(iter(self._alpha_t))]
            self._alpha_t[key] = hit
        return hit

    def _fill(self, work: _LayerWork, start: int, end: int, senders: IntArray, sender_bytes: IntArray) -> None:
        """Place segments ``start..end-1``, each fed by ``sender_bytes[k]`` bytes from device ``senders[k]``.

        ``base`` (cond1 and cond4 per participant), ``inv_b`` (``beta / b_j``)
        and ``qinv`` (``inv_b`` where ``base``, else inf) are kept current here:
        only the device a run lands on and the senders change, so they are
        updated in place rather than recomputed.

        When the one sender is a participant ``h`` (a MAPS run), ``h`` pays no
        transfer and usually wins: if ``nrm(h)`` is below a lower bound of every
        other candidate's ``nrm`` (the least ``alpha * t`` among the others plus
        ``qmin``), ``h`` is the argmin without an O(D) pass. The bound is strict,
        so ties still go through the full argmin (lowest id).
        """
        _, layer, cap, compute_t, held, base, qinv, qmin, _, comp, mem, bw, inv_b, view = work.parts()
        beta = self.params.beta
        d = self._d
        c, m = layer.segment_mults, layer.segment_weight_bytes
        if d == 0 and start < end:
            raise _Rejected(self._no_participant(work, senders, sender_bytes))
        # One sender (MAPS, VECTOR feeds) is handled with scalars: numpy's
        # per-call overhead would dominate the few operations a run needs.
        single = len(senders) == 1
        lone = int(senders[0]) if single else -1
        lone_bytes = int(sender_bytes[0]) if single else 0
        # Over a topology some candidates may have no route from a sender (t = inf): they never qualify.
        reach: npt.NDArray[np.bool_] | None
        floor = -math.inf  # lower bound of nrm over candidates other than the lone sender
        if single:
            at, reach, others_min = self._alpha_t_single(c, lone, lone_bytes, compute_t, view)
            if lone < d:
                floor = others_min + qmin
        else:
            at = self.params.alpha * (view.links.max_weighted(senders, sender_bytes)[:d] + compute_t)
            finite = np.isfinite(at)
            reach = None if finite.all() else finite
        nrm: FloatArray | None = None  # nrm(j) for qualifying j, inf for the others; built when first needed
        pos = start
        while pos < end:
            if single:
                short = lone if int(bw[lone]) < lone_bytes else -1
                crowded = False
            else:
                low = senders[bw[senders] < sender_bytes]
                short = int(low[0]) if len(low) == 1 else -1
                crowded = len(low) > 1
            if single and lone < d and base[lone] and at[lone] + qinv[lone] < floor:
                j = lone  # the holder beats every other candidate (see the docstring)
            elif short < 0 and not crowded:
                # argmin over qualifying candidates, ties to the lowest id.
                if nrm is None:
                    nrm = at + qinv
                j = int(np.argmin(nrm))
                if nrm[j] == np.inf:
                    # Every qualifying candidate (if any) has nrm = inf: the lowest id wins.
                    qualifying = np.flatnonzero(base & reach if reach is not None else base)
                    if len(qualifying) == 0:
                        raise _Rejected(self._no_participant(work, senders, sender_bytes, reach))
                    j = int(qualifying[0])
            elif not crowded and short < d and base[short] and (reach is None or reach[short]):
                # Only a short sender itself qualifies: it does not send to itself.
                j = short
            else:
                raise _Rejected(self._no_participant(work, senders, sender_bytes, reach))
            k = end - pos
            if c > 0:
                k = min(k, int(comp[j]) // c)
            if m > 0:
                k = min(k, int(mem[j]) // m)
            if cap is not None:
                k = min(k, cap - int(held[j]))
            if single:
                if lone != j:
                    k = min(k, int(bw[lone]) // lone_bytes)
                    bw[lone] -= k * lone_bytes
                    if lone < d:
                        left = int(bw[lone])
                        inv_lone = beta / left if left > 0 else math.inf
                        inv_b[lone] = inv_lone
                        if base[lone]:
                            qinv[lone] = inv_lone
                            if nrm is not None:
                                nrm[lone] = at[lone] + inv_lone
            else:
                others = senders != j
                if others.any():
                    sending = senders[others]
                    sizes = sender_bytes[others]
                    k = min(k, int((bw[sending] // sizes).min()))
                    bw[sending] -= k * sizes
                    changed = sending[sending < d]
                    if len(changed):
                        left_b = bw[changed]
                        inv = np.full(len(left_b), np.inf)
                        np.divide(beta, left_b, out=inv, where=left_b > 0)
                        inv_b[changed] = inv
                        q = np.where(base[changed], inv, np.inf)
                        qinv[changed] = q
                        if nrm is not None:
                            nrm[changed] = at[changed] + q
            work.land(j, pos, k, nrm)
            pos += k

    def _no_participant(
        self,
        work: _LayerWork,
        senders: IntArray,
        sender_bytes: IntArray,
        reach: npt.NDArray[np.bool_] | None = None,
    ) -> Rejection:
        """The kernel's first-failure attribution of a segment no participant may take."""
        layer = work.layer
        rule = LayerRule(
            layer.index, layer.name, layer.segments, layer.segment_mults, layer.segment_weight_bytes, work.cap, False
        )
        feeding = dict(zip(senders.tolist(), sender_bytes.tolist(), strict=True))
        q = qualify(rule, work.held, work.comp, work.mem, work.bw, feeding, reach)
        constraint, detail = no_participant_detail(layer.name, q.failures(), self._d)
        return Rejection(work.request.id, layer.index, layer.name, constraint, detail)
