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
``min(c_j // c, m_j // m, Nf - held_j, min_i b_i // O_i)``. Ties in ``nrm``
break by lowest device id, as in the reference.

One run loop (:meth:`DistPrivacy._place_runs`) places every run: a *feed*
(who sends to the run's segments, and how many bytes each) chooses the
device, the run is as long as the device (:meth:`_LayerWork.room`) and the
feed's senders (``feed.room``) allow, and both are charged. Three feeds share
that loop, from fastest to most general:

* :class:`_OneSender`: one device sends (a MAPS run, a layer fed by one
  sender); Python scalars, and usually no argmin at all (the holder of a map
  wins when its ``nrm`` is below a bound of everyone else's).
* :class:`_ManySenders`: several participants send (partial sums): each
  sender's bandwidth in closed form, one argmin per run.
* :class:`_AnyFeed`: any senders, every rare case (a sender short of
  bandwidth, no finite ``nrm``, candidates without a route) and the rejection
  with its first-failure attribution. The fast feeds hand over to it where
  they would need one of those cases, so they never decide differently.

On a full mesh the numba twin (:mod:`distsim.scheduling.distprivacy_kernel`)
decides first; this module's Python path is its specification, and decides
whatever the twin does not (topologies, the rare cases the twin leaves); a
rejection of the twin is attributed from where it stopped with the placement
kernel's rules, as this path attributes its own.
The test suite checks equality with the reference on random instances, on
both paths.

Over 600 lines because the run loop and its three feeds are one algorithm,
each feed's exactness argument kept beside its code.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np
import numpy.typing as npt

from distsim import placement
from distsim.model.cnn import Feed, Layer
from distsim.model.compiled import MULTS, layer_bounds, layer_table, load_kernel
from distsim.model.cost import gather_bytes
from distsim.model.devices import FullMesh
from distsim.placement import LayerRule, Reach, no_participant_detail, qualify, source_failure
from distsim.scheduling.base import ClusterView, Decision, Rejection, Request
from distsim.scheduling.reference import DistPrivacyParams
from distsim.world import World

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Memory the per-sender ``alpha * t`` cache may use, bytes.
_CACHE_BYTES = 64 * 2**20
_INF = math.inf
_NEVER = np.iinfo(np.int64).max


class _Rejected(Exception):
    def __init__(self, rejection: Rejection) -> None:
        self.rejection = rejection


def _inverse_bandwidth(beta: float, b: IntArray) -> FloatArray:
    """``beta / b`` per device, ``inf`` where ``b <= 0`` (the reference's ``beta / b_j`` term)."""
    out = np.full(len(b), _INF)
    np.divide(beta, b, out=out, where=b > 0)
    return out


@dataclass(slots=True)
class _LayerWork:
    """One participant layer being placed: the request's scratch residuals and the layer's state.

    The per-participant arrays are updated in place: only the device a run
    lands on and the run's senders change, so nothing is recomputed per run.

    Attributes:
        request: the request being placed.
        rule: what a segment of the layer asks and who may take it (the placement kernel's rule).
        held: segments of this layer per participant.
        base: cond1 and cond4 per participant (it only turns False).
        inv_b: ``beta / b_j`` per participant.
        qinv: ``inv_b`` where ``base``, else inf: ``alpha * t + qinv`` is ``nrm``
            over the qualifying participants, inf elsewhere.
        qmin: ``qinv``'s minimum when the layer started; ``qinv`` only grows,
            so it bounds every later value from below.
        out: the device of each segment of the layer.
        comp, mem, bw: the request's scratch residuals (compute, memory, bandwidth) of every device.
        beta: the bandwidth weight of ``nrm``.
        c, m, cap: the rule's multiplications and weight bytes per segment and its cap, copied
            out of it (they are read on every run).
    """

    request: Request
    rule: LayerRule
    held: IntArray
    base: BoolArray
    inv_b: FloatArray
    qinv: FloatArray
    qmin: float
    out: IntArray
    comp: IntArray
    mem: IntArray
    bw: IntArray
    beta: float
    c: int = 0
    m: int = 0
    cap: int | None = None

    def __post_init__(self) -> None:
        self.c, self.m, self.cap = self.rule.segment_mults, self.rule.segment_weight_bytes, self.rule.cap

    def room(self, j: int, left: int) -> int:
        """How many of the ``left`` segments still to place participant ``j`` may take before cond1
        (compute, memory) or cond4 (the privacy cap) fails.

        The scalar twin of :func:`distsim.placement.room` for a qualifying
        ``j`` (its residuals hold at least one segment), inlined because it runs
        once per run; the equivalence tests hold the two to the same decisions.
        """
        c, m, cap = self.c, self.m, self.cap
        k = left
        if c:
            k = min(k, int(self.comp[j]) // c)
        if m:
            k = min(k, int(self.mem[j]) // m)
        if cap is not None:
            k = min(k, cap - int(self.held[j]))
        return k

    def charge(self, j: int, pos: int, k: int, nrm: FloatArray | None) -> None:
        """Put segments ``pos .. pos+k-1`` on participant ``j``, charge its compute and memory, and
        retire it (``base`` False, ``qinv`` and ``nrm`` inf) once its room is 0.

        :func:`distsim.placement.charge` for the receiver, with the residuals
        read once as Python ints (the same integers numpy's in-place updates
        give). The senders are the feed's to charge: only it knows who sends what.
        """
        c, m, cap = self.c, self.m, self.cap
        self.out[pos : pos + k] = j
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
            self.qinv[j] = _INF
            if nrm is not None:
                nrm[j] = _INF

    def charge_sender(self, s: int, left: int, at_s: float, nrm: FloatArray | None) -> None:
        """Sender ``s`` (a participant) has ``left`` bytes of bandwidth left: its ``beta / b``,
        ``qinv`` and ``nrm`` follow (``at_s`` is its ``alpha * t``)."""
        self.bw[s] = left
        inv = self.beta / left if left > 0 else _INF
        self.inv_b[s] = inv
        if self.base[s]:
            self.qinv[s] = inv
            if nrm is not None:
                nrm[s] = at_s + inv


class _Feed(Protocol):
    """Who sends to a run of segments: picks the device for the next run and charges the senders."""

    nrm: FloatArray | None

    def choose(self) -> int:
        """The qualifying participant of least ``nrm`` (ties: lowest id), or -1 to hand over to :class:`_AnyFeed`."""
        ...

    def room(self, j: int, k: int) -> int:
        """``k`` clamped to the segments the senders can still feed when ``j`` takes them."""
        ...

    def charge(self, j: int, k: int) -> None:
        """Charge the senders for ``k`` segments placed on ``j``."""
        ...

    def finish(self) -> None:
        """Write back what the feed kept in closed form (called once its runs are over)."""
        ...


class _OneSender:
    """Runs fed ``unit`` bytes per segment by one device ``h`` (a MAPS run; a layer fed by one sender).

    Python scalars throughout: numpy's per-call overhead would dominate the
    few operations a run needs. The holder of a map (a participant ``h``)
    pays no transfer and usually wins its run: when ``nrm(h)`` is below a
    lower bound of every other candidate's ``nrm`` (the least ``alpha * t`` of
    the others plus ``qmin``) it is the argmin without an O(D) pass; the bound
    is strict, so ties still go through the argmin (lowest id). It hands over
    when the sender is short of bandwidth, no candidate has a finite ``nrm``,
    or some candidate has no route from ``h``.
    """

    __slots__ = ("at", "at_h", "bh", "d", "floor", "h", "holder", "nrm", "owner", "scalars", "unit", "work")

    def __init__(self, owner: DistPrivacy, work: _LayerWork, unit: int) -> None:
        self.owner, self.work, self.unit, self.d = owner, work, unit, owner._d
        self.scalars = owner._holder_scalars(work.rule, unit)
        self.h, self.holder, self.bh = -1, False, 0
        self.at_h, self.floor = 0.0, -_INF
        self.at: FloatArray | None = None
        self.nrm: FloatArray | None = None

    def start(self, h: int) -> _OneSender:
        """Feed the next run from device ``h``."""
        self.h = h
        self.at = self.nrm = None
        if h < self.d:  # a participant; the source pays no nrm of its own
            hit = self.scalars[h]
            if hit is None:
                at, _, others_min = self.owner._alpha_t_single(self.work.rule, h, self.unit)
                hit = self.scalars[h] = (float(at[h]), others_min)
            self.holder, self.at_h, self.floor = True, hit[0], hit[1] + self.work.qmin
        else:
            self.holder, self.at_h, self.floor = False, 0.0, -_INF
        return self

    def choose(self) -> int:
        work, h = self.work, self.h
        self.bh = int(work.bw[h])
        if self.holder and work.base[h] and self.at_h + work.qinv[h] < self.floor:
            return h  # the holder beats every other candidate
        if self.bh < self.unit:
            return -1
        if self.at is None:
            at, reach, _ = self.owner._alpha_t_single(work.rule, h, self.unit)
            if reach is not None:
                return -1
            self.at = at
        if self.nrm is None:
            self.nrm = self.at + work.qinv
        j = int(self.nrm.argmin())
        return -1 if self.nrm[j] == _INF else j

    def room(self, j: int, k: int) -> int:
        return k if j == self.h else min(k, self.bh // self.unit)

    def charge(self, j: int, k: int) -> None:
        if j != self.h:
            left = self.bh - k * self.unit
            if self.holder:
                self.work.charge_sender(self.h, left, self.at_h, self.nrm)
            else:
                self.work.bw[self.h] = left

    def finish(self) -> None:
        return None


class _ManySenders:
    """A layer's segments fed by several participants (partial sums), one argmin per run.

    Each run takes ``k`` segments from every sender but the chosen device, so
    a sender's bandwidth is a closed form of the segments placed so far
    (``placed``) and those it holds itself: ``b_s = b0_s - (placed - held_s) * O_s``,
    and how many more it can feed is ``quota_s - placed`` with
    ``quota_s = b0_s // O_s + held_s``. The senders' ``nrm`` only grows, so
    stale values in ``nrm`` are lower bounds: an argmin landing on a device
    with an exact value (a non-sender, or a sender just refreshed) is the
    exact argmin, ties included (a stale value equal to the minimum would
    have won the tie only if it was exact too). Senders are refreshed, with
    the floats :class:`_AnyFeed` computes, only when the argmin lands on a
    stale one, and written back by :meth:`finish`. It hands over when a sender
    is short of bandwidth or no candidate has a finite ``nrm``.
    """

    __slots__ = (
        "at_s",
        "bw0",
        "fresh",
        "jpos",
        "nrm",
        "placed",
        "quota",
        "quota_min",
        "senders",
        "sizes",
        "where",
        "work",
    )

    def __init__(self, work: _LayerWork, at: FloatArray, senders: IntArray, sizes: IntArray) -> None:
        self.work, self.senders, self.sizes = work, senders, sizes
        self.at_s = at[senders]
        self.where = {s: i for i, s in enumerate(senders.tolist())}
        self.bw0 = work.bw[senders]
        self.quota = self.bw0 // sizes + work.held[senders]
        # quota changes only where a sender is chosen: its minimum is recomputed then only.
        self.quota_min = int(self.quota.min())
        self.nrm: FloatArray | None = at + work.qinv
        self.placed, self.fresh, self.jpos = 0, True, -1

    def _refresh(self) -> tuple[IntArray, FloatArray, FloatArray]:
        """The senders' exact bandwidth, ``beta / b`` and ``qinv`` now; their ``nrm`` made exact."""
        work, senders = self.work, self.senders
        left = self.bw0 - (self.placed - work.held[senders]) * self.sizes
        inv = _inverse_bandwidth(work.beta, left)
        q = np.where(work.base[senders], inv, _INF)
        assert self.nrm is not None
        self.nrm[senders] = self.at_s + q
        return left, inv, q

    def choose(self) -> int:
        nrm = self.nrm
        assert nrm is not None
        if self.quota_min - self.placed < 1:
            return -1  # a sender is short of bandwidth
        j = int(nrm.argmin())
        jpos = self.where.get(j, -1)
        if jpos >= 0 and not self.fresh:
            self._refresh()
            self.fresh = True
            j = int(nrm.argmin())
            jpos = self.where.get(j, -1)
        self.jpos = jpos
        return -1 if nrm[j] == _INF else j

    def room(self, j: int, k: int) -> int:
        if self.jpos < 0:
            return min(k, self.quota_min - self.placed)
        # j sends to everyone but itself: the other senders' least quota bounds the run.
        quota, own = self.quota, self.quota[self.jpos]
        quota[self.jpos] = _NEVER
        others = int(quota.min())
        quota[self.jpos] = own
        return min(k, others - self.placed)

    def charge(self, j: int, k: int) -> None:
        if self.jpos >= 0:
            self.quota[self.jpos] += k  # j's own segments need nothing from j
            self.quota_min = int(self.quota.min())
        self.placed += k
        self.fresh = False

    def finish(self) -> None:
        work, senders = self.work, self.senders
        left, inv, q = self._refresh()
        work.bw[senders] = left
        work.inv_b[senders] = inv
        work.qinv[senders] = q


class _AnyFeed:
    """Any senders (``sizes[k]`` bytes from ``senders[k]`` to every segment), every rare case, and rejections.

    Candidates without a route from some sender (topologies: ``t = inf``)
    never qualify. A sender short of bandwidth leaves only itself qualifying
    (it does not send to itself); two short senders leave nobody.
    """

    __slots__ = ("at", "cut_off", "nrm", "owner", "reach", "senders", "short", "sizes", "work")

    def __init__(self, owner: DistPrivacy, work: _LayerWork, senders: IntArray, sizes: IntArray) -> None:
        self.owner, self.work, self.senders, self.sizes = owner, work, senders, sizes
        self.at, self.reach, _ = owner._alpha_t(work.rule, senders, sizes)
        self.cut_off = self.reach is not None
        self.nrm: FloatArray | None = None
        self.short = -1

    def choose(self) -> int:
        work, senders = self.work, self.senders
        low = senders[work.bw[senders] < self.sizes]
        crowded = len(low) > 1
        short = self.short = int(low[0]) if len(low) == 1 else -1
        reach = self.reach
        if short < 0 and not crowded:
            if self.nrm is None:
                self.nrm = self.at + work.qinv
            j = int(np.argmin(self.nrm))
            if self.nrm[j] != _INF:
                return j
            # Every qualifying candidate (if any) has nrm = inf: the lowest id wins.
            qualifying = np.flatnonzero(work.base & reach if reach is not None else work.base)
            if len(qualifying):
                return int(qualifying[0])
        elif not crowded and short < self.owner._d and work.base[short] and (reach is None or reach[short]):
            return short  # only a short sender itself qualifies: it does not send to itself
        raise _Rejected(self.owner._no_participant(work, senders, self.sizes, reach))

    def room(self, j: int, k: int) -> int:
        others = self.senders != j
        return min(k, placement.sender_room(self.work.bw, self.senders[others], self.sizes[others]))

    def charge(self, j: int, k: int) -> None:
        work, at = self.work, self.at
        d = self.owner._d
        for s, size in zip(self.senders.tolist(), self.sizes.tolist(), strict=True):
            if s == j:
                continue
            left = int(work.bw[s]) - k * size
            if s < d:
                work.charge_sender(s, left, float(at[s]), self.nrm)
            else:
                work.bw[s] = left

    def finish(self) -> None:
        return None


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
        self._alpha_t_cache: dict[tuple[int, int, int, bool], tuple[FloatArray, BoolArray | None, float]] = {}
        self._alpha_t_max = max(16, _CACHE_BYTES // (8 * max(d, 1)))
        self._compute_t: dict[int, FloatArray] = {}
        self._holder: dict[tuple[int, int, bool], list[tuple[float, float] | None]] = {}
        self._reach_rows: Reach | None = None
        self._tables: dict[str, tuple[IntArray, IntArray, FloatArray]] = {}

    def place(self, request: Request, view: ClusterView) -> Decision:
        if view.links is not self.world.links:
            self._relink(view.world)
        if isinstance(view.links, FullMesh):
            segments = layer_bounds(self.world.cnns[request.cnn])[-1]
            kernel = load_kernel("distsim.scheduling.distprivacy_kernel", "decide_mesh", segments)
            if kernel is not None:
                placed = self._place_compiled(kernel, request, view)
                if placed is not None:
                    return placed
        return self._place(request, view)

    def _relink(self, world: World) -> None:
        """The links changed during the run (mobility, churn over a topology): drop what was cached on them."""
        self.world = world
        self._alpha_t_cache.clear()
        self._holder.clear()
        self._reach_rows = None

    def _place_compiled(self, kernel: Callable[..., int], request: Request, view: ClusterView) -> Decision | None:
        """The decision of the compiled twin (:mod:`distsim.scheduling.distprivacy_kernel`) on a full mesh,
        or None when it leaves the request to the Python path."""
        table, offsets, compute_s = self._decision_table(request.cnn)
        comp, mem, bw = view.residuals()
        out = np.empty(int(offsets[-1]), dtype=np.int64)
        held = np.zeros(self._d, dtype=np.int64)
        stop = np.zeros(2, dtype=np.int64)
        spb = view.links.sec_per_byte  # type: ignore[attr-defined]
        status = kernel(
            table, offsets, comp, mem, bw, request.source, self._d, spb, compute_s,
            self.params.alpha, self.params.beta, out, held, stop,
        )  # fmt: skip
        if status == 0:
            return view.make_placement_flat(request, out)
        if status in (1, 2):  # NO_PARTICIPANT, SOURCE_SHORT
            return self._compiled_rejection(request, status == 2, int(stop[0]), int(stop[1]), out, comp, mem, bw, held)
        return None

    def _compiled_rejection(
        self,
        request: Request,
        on_source: bool,
        index: int,
        at: int,
        out: IntArray,
        comp: IntArray,
        mem: IntArray,
        bw: IntArray,
        held: IntArray,
    ) -> Rejection | None:
        """The rejection where the compiled decision stopped: layer ``index`` (0-based), flat segment ``at``.

        The residuals (and ``held``, the layer's segments per participant) are
        the ones the Python path holds at that segment, so the placement
        kernel's rules attribute it as that path does (:meth:`_no_participant`,
        :func:`~distsim.placement.source_failure`). None (the Python path then
        decides) if those rules let someone take the segment after all.
        """
        cnn = self.world.cnns[request.cnn]
        layer = cnn.layers[index]
        bounds = layer_bounds(cnn)
        prev = out[bounds[index - 1] : bounds[index]] if index > 0 else None
        p = at - bounds[index]
        senders, sizes = self._senders(layer, prev, p if layer.feed is Feed.MAPS else 0)
        feeding = dict(zip(senders.tolist(), sizes.tolist(), strict=True))
        if on_source:
            rule = LayerRule.of(layer, self.world.limits[request.cnn])
            failed = source_failure(rule, request.source, comp, mem, bw, feeding, self._reach())
            return None if failed is None else Rejection(request.id, layer.index, layer.name, *failed)
        cap = self.world.limits[request.cnn].max_maps(layer.index)
        c, m = layer.segment_mults, layer.segment_weight_bytes
        rule = LayerRule(layer.index, layer.name, layer.segments, c, m, cap, False)
        q = qualify(rule, held, comp, mem, bw, feeding, None)
        if q.qualifies.any():
            return None
        constraint, detail = no_participant_detail(rule.name, q.failures(), self._d)
        return Rejection(request.id, rule.index, rule.name, constraint, detail)

    def _decision_table(self, cnn_name: str) -> tuple[IntArray, IntArray, FloatArray]:
        """:func:`~distsim.model.compiled.layer_table` plus, per layer, on the source (1/0) and ``Nf`` (-1: none);
        and ``c / e_j`` per (layer, participant), s (the world's alone, divided as :meth:`_on_participants` does)."""
        hit = self._tables.get(cnn_name)
        if hit is None:
            table, offsets = layer_table(self.world.cnns[cnn_name])
            limits = self.world.limits[cnn_name]
            extra = []
            for index in range(1, len(table) + 1):
                cap = limits.max_maps(index)
                # A cap of 0 or below lets nobody qualify, as the Python path has it; -1 is "no cap".
                extra.append((int(limits.on_source(index)), -1 if cap is None else max(cap, 0)))
            full = np.hstack([table, np.array(extra, dtype=np.int64).reshape(len(table), 2)])
            compute_s = np.ascontiguousarray(table[:, MULTS][:, None] / self._speed[None, :])
            hit = self._tables[cnn_name] = (np.ascontiguousarray(full), offsets, compute_s)
        return hit

    def _place(self, request: Request, view: ClusterView) -> Decision:
        """The Python path: the readable specification the compiled twin is tested against."""
        cnn = self.world.cnns[request.cnn]
        limits = self.world.limits[request.cnn]
        comp, mem, bw = view.residuals()
        inv_b = _inverse_bandwidth(self.params.beta, bw[: self._d])
        placed: list[IntArray] = []
        try:
            for layer in cnn.layers:
                prev = placed[-1] if placed else None
                if limits.on_source(layer.index):
                    placed.append(self._on_source(request, layer, prev, comp, mem, bw))
                    inv_b = _inverse_bandwidth(self.params.beta, bw[: self._d])
                else:
                    cap = limits.max_maps(layer.index)
                    placed.append(self._on_participants(request, layer, prev, cap, comp, mem, bw, inv_b))
        except _Rejected as stop:
            return stop.rejection
        return view.make_placement(request, placed)

    def _on_source(
        self, request: Request, layer: Layer, prev: IntArray | None, comp: IntArray, mem: IntArray, bw: IntArray
    ) -> IntArray:
        """Place a source-only layer on the request's source; ``comp``, ``mem`` and ``bw`` are charged."""
        src = request.source
        rule = LayerRule.of(layer, self.world.limits[request.cnn])
        maps = layer.feed is Feed.MAPS and prev is not None
        if not maps:
            senders, sizes = self._senders(layer, prev)
        # Source layers have few segments (image channels, one FC segment):
        # a per-segment walk keeps the first failing condition exact.
        for p in range(layer.segments):
            if maps:
                senders, sizes = self._senders(layer, prev, p)
            feeding = dict(zip(senders.tolist(), sizes.tolist(), strict=True))
            failed = source_failure(rule, src, comp, mem, bw, feeding, self._reach())
            if failed is not None:
                raise _Rejected(Rejection(request.id, layer.index, layer.name, *failed))
            placement.charge(rule, src, 1, comp, mem, bw, feeding)
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
    ) -> IntArray:
        """Place a layer on the participants, run by run; ``comp``, ``mem``, ``bw`` and ``inv_b`` are charged."""
        d = self._d
        c, m = layer.segment_mults, layer.segment_weight_bytes
        if c not in self._compute_t:
            self._compute_t[c] = c / self._speed  # t_c of one segment per participant, s (the world's alone)
        base = (comp[:d] >= c) & (mem[:d] >= m)
        if cap is not None and cap <= 0:
            base[:] = False
        # argmin of alpha * t + qinv is the argmin of nrm over the qualifying participants.
        qinv = np.where(base, inv_b, _INF)
        qmin = float(qinv.min()) if d else _INF
        out = np.empty(layer.segments, dtype=np.int64)
        held = np.zeros(d, dtype=np.int64)
        rule = LayerRule(layer.index, layer.name, layer.segments, c, m, cap, False)
        work = _LayerWork(request, rule, held, base, inv_b, qinv, qmin, out, comp, mem, bw, self.params.beta)
        end = layer.segments
        if layer.feed is Feed.MAPS and prev is not None:
            # Consecutive segments whose map comes from the same device share a feed: one run each.
            starts = [0, *(np.flatnonzero(np.diff(prev)) + 1).tolist()]
            one = _OneSender(self, work, layer.feed_unit_bytes)
            for start, stop, h in zip(starts, [*starts[1:], end], prev[starts].tolist(), strict=True):
                self._place_runs(work, one.start(h) if d and one.unit else None, start, stop, [h], [one.unit])
            return out
        senders, sizes = self._senders(layer, prev)
        fast: _Feed | None = None
        if len(senders) == 1 and d and sizes[0] > 0:
            fast = _OneSender(self, work, int(sizes[0])).start(int(senders[0]))
        elif len(senders) > 1 and senders[-1] < d:
            at, reach, _ = self._alpha_t(rule, senders, sizes)
            if reach is None:
                fast = _ManySenders(work, at, senders, sizes)
        self._place_runs(work, fast, 0, end, senders.tolist(), sizes.tolist())
        return out

    def _senders(self, layer: Layer, prev: IntArray | None, p: int = 0) -> tuple[IntArray, IntArray]:
        """Who sends to segment ``p`` of ``layer`` and how many bytes each (``O^{l-1,p}_{i,*}``, by device id).

        Only the MAPS feed depends on ``p`` (the holder of map ``p``); every
        other feed sends the same to every segment of the layer.
        """
        none = np.zeros(0, dtype=np.int64)
        if layer.feed is Feed.NONE or prev is None:
            return none, none
        unit, n = layer.feed_unit_bytes, self.world.fleet.size
        if layer.feed is Feed.MAPS or layer.feed is Feed.VECTOR:
            holder = prev[p if layer.feed is Feed.MAPS else 0]
            return (np.array([holder], dtype=np.int64), np.array([unit], dtype=np.int64)) if unit else (none, none)
        if layer.feed is Feed.PARTIAL_SUMS:
            senders = np.flatnonzero(np.bincount(prev, minlength=n)) if unit else none
            return senders, np.full(len(senders), unit, dtype=np.int64)
        sizes = gather_bytes(layer, prev, n)
        senders = np.flatnonzero(sizes)
        return senders, sizes[senders]

    def _place_runs(
        self, work: _LayerWork, fast: _Feed | None, pos: int, end: int, senders: list[int], sizes: list[int]
    ) -> None:
        """Place segments ``pos .. end-1``, all fed ``sizes[k]`` bytes by ``senders[k]``, run by run.

        Each run goes to the device the feed chooses (least ``nrm``), as many
        segments as the device and the senders allow, and charges both. The
        fast feed (if any) runs first; where it hands over, :class:`_AnyFeed`
        continues from that segment and rejects when nobody qualifies.
        """
        feed = fast
        if feed is not None:
            while pos < end:
                j = feed.choose()
                if j < 0:
                    break
                k = feed.room(j, work.room(j, end - pos))
                feed.charge(j, k)
                work.charge(j, pos, k, feed.nrm)
                pos += k
            feed.finish()
        if pos == end:
            return
        sending, sent = np.array(senders, dtype=np.int64), np.array(sizes, dtype=np.int64)
        if self._d == 0:
            raise _Rejected(self._no_participant(work, sending, sent))
        feed = _AnyFeed(self, work, sending, sent)
        while pos < end:
            j = feed.choose()
            k = feed.room(j, work.room(j, end - pos))
            feed.charge(j, k)
            work.charge(j, pos, k, feed.nrm)
            pos += k

    def _holder_scalars(self, rule: LayerRule, size: int) -> list[tuple[float, float] | None]:
        """Per sender ``h`` (filled lazily): ``alpha * t(h)`` when ``h`` alone sends ``size`` bytes to
        segments of ``rule``'s layer, and the least ``alpha * t`` of the other participants (from
        :meth:`_alpha_t_single`); two floats per participant, kept for the whole run."""
        key = (rule.segment_mults, size, self._guarded(rule))
        table = self._holder.get(key)
        if table is None:
            table = self._holder[key] = [None] * self._d
        return table

    def _alpha_t(
        self, rule: LayerRule, senders: IntArray, sizes: IntArray
    ) -> tuple[FloatArray, BoolArray | None, float]:
        """``alpha * t(j)`` for every participant when ``senders[k]`` sends ``sizes[k]`` bytes to a segment of
        ``rule``'s layer, ``isfinite`` of it (None when all finite), and its minimum over the other participants
        (one sender only; inf otherwise). Transfer times come from the links the kernel gives the layer
        (:meth:`distsim.placement.Reach.for_rule`: pairs through untrusted relays cost inf for a capped layer)."""
        if len(senders) == 1:
            return self._alpha_t_single(rule, int(senders[0]), int(sizes[0]))
        links = self._reach().for_rule(rule).links
        at = self.params.alpha * (links.max_weighted(senders, sizes)[: self._d] + self._compute_t[rule.segment_mults])
        finite = np.isfinite(at)
        return at, None if finite.all() else finite, _INF

    def _alpha_t_single(self, rule: LayerRule, sender: int, size: int) -> tuple[FloatArray, BoolArray | None, float]:
        """:meth:`_alpha_t` of one sender, cached (it depends only on the world and whether relays are guarded)."""
        c, guarded = rule.segment_mults, self._guarded(rule)
        key = (c, size, sender, guarded)
        hit = self._alpha_t_cache.get(key)
        if hit is None:
            links = self._reach().for_rule(rule).links
            spread = links.max_weighted(np.array([sender]), np.array([size], dtype=np.int64))
            at = self.params.alpha * (spread[: self._d] + self._compute_t[c])
            finite = np.isfinite(at)
            others = np.delete(at, sender) if sender < self._d else at
            hit = (at, None if finite.all() else finite, float(others.min()) if len(others) else _INF)
            if len(self._alpha_t_cache) >= self._alpha_t_max:
                del self._alpha_t_cache[next(iter(self._alpha_t_cache))]
            self._alpha_t_cache[key] = hit
        return hit

    def _guarded(self, rule: LayerRule) -> bool:
        """True when ``rule``'s layer is placed over relay-guarded links (a capped layer, links in clear)."""
        reach = self._reach()
        return reach.for_rule(rule) is not reach

    def _reach(self) -> Reach:
        """The kernel's cached reachability rows of the world's links."""
        if self._reach_rows is None:
            self._reach_rows = Reach(self.world.links, self._d, encrypted_links=self.world.encrypted_links)
        return self._reach_rows

    def _no_participant(
        self, work: _LayerWork, senders: IntArray, sizes: IntArray, reach: BoolArray | None = None
    ) -> Rejection:
        """The kernel's first-failure attribution of a segment no participant may take."""
        rule = work.rule
        feeding = dict(zip(senders.tolist(), sizes.tolist(), strict=True))
        q = qualify(rule, work.held, work.comp, work.mem, work.bw, feeding, reach)
        constraint, detail = no_participant_detail(rule.name, q.failures(), self._d)
        return Rejection(work.request.id, rule.index, rule.name, constraint, detail)
