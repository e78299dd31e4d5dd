"""Run-based greedy placement: ``random`` and ``round_robin`` place runs of interchangeable segments at once.

Segments of a layer fed by the same senders with the same bytes (all of a layer
after a conv layer, the single FC segment, and, on a full mesh, every segment of
a relu/pool layer while no map holder runs short of bandwidth) see the same
qualifying participants, except that a participant drops out once it holds as
many as its room (:func:`distsim.placement.room`: cond1 and cond4) and that
every candidate but a sender drops out once that sender's bandwidth is spent
(cond2). So a policy picks a whole run of devices among the qualifying ones,
respecting each device's room, and the run is cut where a sender's bandwidth
would run out; the next run starts from the residuals the kernel charged. The
segment-by-segment twin (:func:`distsim.scheduling.baselines._greedy.greedy_place`)
is what the tests compare against: the same decisions for ``round_robin``,
the same distribution for ``random``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from distsim.model.cnn import CNN, Feed, Layer
from distsim.model.compiled import layer_bounds, layer_table, load_kernel
from distsim.model.devices import FullMesh, Links
from distsim.model.privacy import PrivacyLimits
from distsim.placement import (
    FAILURE_ORDER,
    UNBOUNDED,
    Constraint,
    LayerRule,
    Reach,
    charge,
    layer_rules,
    no_participant_detail,
    qualify,
    rooms,
    source_failure,
)
from distsim.scheduling.base import ClusterView, Decision, Rejection, Request
from distsim.scheduling.reference import gather_senders, segment_senders
from distsim.world import World

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]


class RunPolicy(Protocol):
    """Chooses the devices of a run of interchangeable segments."""

    def choose(self, candidates: IntArray, room: IntArray, count: int) -> IntArray:
        """Up to ``count`` devices (one per segment, in order) among sorted ``candidates``, device
        ``candidates[i]`` at most ``room[i]`` times; fewer only when the rooms add up to less."""
        ...

    def commit(self, placed: IntArray) -> None:
        """The prefix of the last choice that was placed (the rest was cut by a sender's bandwidth)."""
        ...


def _ranks(x: IntArray) -> IntArray:
    """For every entry, how many equal entries come before it."""
    order = np.argsort(x, kind="stable")
    xs = x[order]
    change = np.empty(len(xs), dtype=bool)
    change[:1] = True
    np.not_equal(xs[1:], xs[:-1], out=change[1:])
    starts = np.flatnonzero(change)
    lengths = np.diff(np.append(starts, len(xs)))
    ranks = np.empty(len(x), dtype=np.int64)
    ranks[order] = np.arange(len(x)) - np.repeat(starts, lengths)
    return ranks


class UniformRuns:
    """Each segment on a uniformly random qualifying participant (``random``).

    Rejection sampling, vectorised: draws are uniform over the run's
    candidates, a draw of a device that already holds its room is discarded,
    so every kept draw is uniform over the devices that still qualify, the
    distribution of the per-segment process. A device's kept draws are its
    first ``room`` draws.
    """

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def choose(self, candidates: IntArray, room: IntArray, count: int) -> IntArray:
        room = np.minimum(room, count)
        target = int(min(count, int(room.sum())))
        kept: list[IntArray] = []
        taken = np.zeros(len(candidates), dtype=np.int64)
        have = 0
        while have < target:
            draws = self.rng.integers(len(candidates), size=2 * (target - have) + 8)
            ok = _ranks(draws) + taken[draws] < room[draws]
            keep = draws[ok][: target - have]
            np.add.at(taken, keep, 1)
            kept.append(keep)
            have += len(keep)
        return candidates[np.concatenate(kept)] if kept else np.zeros(0, dtype=np.int64)

    def commit(self, placed: IntArray) -> None:
        pass


class CyclicRuns:
    """Participants in turn from a pointer, skipping those that do not qualify (``round_robin``)."""

    def __init__(self, participants: int, start: int) -> None:
        self.d = participants
        self.pointer = start

    def choose(self, candidates: IntArray, room: IntArray, count: int) -> IntArray:
        first = int(np.searchsorted(candidates, self.pointer))
        if count == 1:
            usable = np.flatnonzero(room > 0)
            if not len(usable):
                return candidates[:0]
            at = int(np.searchsorted(usable, first))
            return candidates[usable[at if at < len(usable) else 0]][None]
        order = np.roll(np.arange(len(candidates)), -first)
        left = np.minimum(room[order], count)
        parts: list[IntArray] = []
        remaining, lap = count, 0
        while remaining > 0:
            active = order[left > lap]
            if not len(active):
                break
            take = active[:remaining]
            parts.append(candidates[take])
            remaining -= len(take)
            lap += 1
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def commit(self, placed: IntArray) -> None:
        if len(placed):
            self.pointer = (int(placed[-1]) + 1) % self.d


def _cut(seq: IntArray, holders: IntArray, quota: IntArray) -> int:
    """Length of the prefix of ``seq`` whose senders keep their bandwidth: segment ``t`` placed on
    ``seq[t] != holders[t]`` uses one of ``quota[holders[t]]`` segments its sender can still feed."""
    away = seq != holders
    if not away.any():
        return len(seq)
    order = np.argsort(holders, kind="stable")
    hs = holders[order]
    used = np.cumsum(away[order])
    change = np.empty(len(hs), dtype=bool)
    change[:1] = True
    np.not_equal(hs[1:], hs[:-1], out=change[1:])
    starts = np.flatnonzero(change)
    before = np.repeat(np.append(0, used[starts[1:] - 1]), np.diff(np.append(starts, len(hs))))
    over = (used - before > quota[hs]) & away[order]
    return int(order[over].min()) if over.any() else len(seq)


def _cut_fixed(seq: IntArray, senders: dict[int, int], bw: IntArray) -> int:
    """Length of the prefix of ``seq`` every sender (bytes per segment in ``senders``) can feed:
    sender ``i`` ships to every segment not on ``i`` and can feed ``bw[i] // size`` of them."""
    if not senders:
        return len(seq)
    ids = np.fromiter(senders.keys(), dtype=np.int64, count=len(senders))
    sizes = np.fromiter(senders.values(), dtype=np.int64, count=len(senders))
    quota = np.where(sizes > 0, bw[ids] // np.maximum(sizes, 1), len(seq))
    # Sender i has shipped at most t + 1 segments after segment t: only quotas below the run can bind.
    keep = len(seq)
    for i, limit in zip(ids[quota < len(seq)].tolist(), quota[quota < len(seq)].tolist(), strict=True):
        over = np.flatnonzero(np.cumsum(seq != i) > limit)
        if len(over):
            keep = min(keep, int(over[0]))
    return keep


class _Rejected(Exception):
    def __init__(self, rejection: Rejection) -> None:
        self.rejection = rejection


class _Placer:
    """One request's scratch residuals and the run loop over its layers."""

    def __init__(self, request: Request, view: ClusterView, policy: RunPolicy) -> None:
        self.request, self.policy = request, policy
        self.n, self.d = view.fleet.size, view.fleet.participants
        self.comp, self.mem, self.bw = view.residuals()
        self.reach = Reach(view.links, self.d, encrypted_links=view.world.encrypted_links)

    def reject(self, rule: LayerRule, failures: dict[Constraint, int]) -> _Rejected:
        """The kernel's attribution of a segment no participant may take."""
        constraint, text = no_participant_detail(rule.name, failures, self.d)
        return _Rejected(Rejection(self.request.id, rule.index, rule.name, constraint, text))

    def on_source(self, layer: Layer, rule: LayerRule, prev: IntArray | None) -> IntArray:
        """A source-only layer, segment by segment (image channels, one FC segment: few)."""
        src = self.request.source
        prev_list = prev.tolist() if prev is not None else None
        gather = gather_senders(layer, prev_list) if layer.feed is Feed.GATHER and prev_list is not None else {}
        for p in range(layer.segments):
            sends = segment_senders(layer, prev_list, p, gather)
            failed = source_failure(rule, src, self.comp, self.mem, self.bw, sends, self.reach)
            if failed is not None:
                constraint = failed[0]
                raise _Rejected(
                    Rejection(
                        self.request.id,
                        layer.index,
                        layer.name,
                        constraint,
                        f"layer {layer.name}: the source cannot take it ({constraint})",
                    )
                )
            charge(rule, src, 1, self.comp, self.mem, self.bw, sends)
        return np.full(layer.segments, src, dtype=np.int64)

    def on_participants(self, layer: Layer, rule: LayerRule, prev: IntArray | None) -> IntArray:
        """A participant layer, run by run."""
        out = np.empty(layer.segments, dtype=np.int64)
        held = np.zeros(self.d, dtype=np.int64)
        maps = layer.feed is Feed.MAPS and prev is not None
        runs = [(0, layer.segments)]  # on a full mesh a map layer is one run: every holder reaches everyone
        fixed: dict[int, int] | None = None
        if maps and not self.reach.mesh:
            assert prev is not None
            starts = [0, *(np.flatnonzero(np.diff(prev)) + 1).tolist()]
            runs = list(zip(starts, [*starts[1:], layer.segments], strict=True))
        elif prev is None or layer.feed is Feed.NONE:
            fixed = {}
        elif not maps:
            gather = gather_senders(layer, prev.tolist()) if layer.feed is Feed.GATHER else {}
            fixed = segment_senders(layer, prev.tolist(), 0, gather)
        for start, end in runs:
            pos = start
            while pos < end:
                keep = self.run(layer, rule, prev, fixed, held, pos, end, out)
                pos += keep
        return out

    def run(
        self,
        layer: Layer,
        rule: LayerRule,
        prev: IntArray | None,
        fixed: dict[int, int] | None,
        held: IntArray,
        pos: int,
        end: int,
        out: IntArray,
    ) -> int:
        """Place the next run from segment ``pos``; return how many segments it placed."""
        # A capped layer over links in clear is placed with relay-guarded reachability (distsim.placement).
        comp, mem, bw, reach = self.comp, self.mem, self.bw, self.reach.for_rule(rule)
        unit = layer.feed_unit_bytes
        exact = True  # the candidates were judged with the run's real senders
        quota = bw
        if fixed is None:
            assert prev is not None
            senders = {int(prev[pos]): unit}
            quota = bw // unit
            # While the run's first holder can feed it, on a full mesh every segment sees the
            # same candidates; a short holder leaves only itself, for its one segment.
            batch = int(quota[int(prev[pos])]) > 0
            span = end - pos if batch else 1
            exact = not (reach.mesh and batch)
            q = qualify(rule, held, comp, mem, bw, senders if exact else {}, reach.of(senders))
        else:
            senders, span = fixed, end - pos
            q = qualify(rule, held, comp, mem, bw, senders, reach.of(senders))
        candidates = np.flatnonzero(q.qualifies).astype(np.int64)
        if not len(candidates):
            raise self.reject(rule, qualify(rule, held, comp, mem, bw, senders, reach.of(senders)).failures())
        if fixed is None and exact and end - pos == 1:
            # One segment judged with its real sender (a topology's map run of one): it fits whoever
            # is picked, so neither rooms nor a bandwidth cut are needed.
            seq = self.policy.choose(candidates, np.ones(len(candidates), dtype=np.int64), 1)
            keep = 1
        else:
            seq = self.policy.choose(candidates, rooms(rule, comp, mem, held, candidates), span)
            # Cut the run where a sender would run out of bandwidth (cond2).
            keep = (
                _cut(seq, prev[pos : pos + len(seq)], quota)
                if prev is not None and fixed is None
                else _cut_fixed(seq, senders, bw)
            )
        if keep == 0:
            # The first segment already needs a short sender: only that sender may take it.
            single = qualify(rule, held, comp, mem, bw, senders, reach.of(senders))
            only = np.flatnonzero(single.qualifies).astype(np.int64)
            if not len(only):
                raise self.reject(rule, single.failures())
            seq, keep = self.policy.choose(only, rooms(rule, comp, mem, held, only), 1), 1
        chosen = seq[:keep]
        self.policy.commit(chosen)
        self.charge(rule, chosen, held, senders if fixed is not None else None, prev, pos, unit)
        out[pos : pos + keep] = chosen
        return keep

    def charge(
        self,
        rule: LayerRule,
        chosen: IntArray,
        held: IntArray,
        senders: dict[int, int] | None,
        prev: IntArray | None,
        pos: int,
        unit: int,
    ) -> None:
        """Debit a placed run: the kernel's charge, for every device of the run at once."""
        counts = np.bincount(chosen, minlength=self.d)
        self.comp[: self.d] -= counts * rule.segment_mults
        self.mem[: self.d] -= counts * rule.segment_weight_bytes
        held += counts
        if senders is None:
            assert prev is not None
            holders = prev[pos : pos + len(chosen)]
            np.subtract.at(self.bw, holders[chosen != holders], unit)
        elif senders:
            ids = np.fromiter(senders.keys(), dtype=np.int64, count=len(senders))
            sizes = np.fromiter(senders.values(), dtype=np.int64, count=len(senders))
            on_self = np.bincount(chosen, minlength=self.n)[ids]
            self.bw[ids] -= (len(chosen) - on_self) * sizes


def run_place(
    world: World, request: Request, view: ClusterView, policy: RunPolicy, limits: PrivacyLimits | None = None
) -> Decision:
    """Place ``request`` run by run, letting ``policy`` choose among qualifying participants.

    When the compiled path is in force (:mod:`distsim.model.compiled`) and
    ``policy`` is one of :class:`UniformRuns` and :class:`CyclicRuns`, the
    compiled twin (:mod:`._runs_kernel`) places it, with the same decisions
    and, for :class:`UniformRuns`, the same draws from its generator.
    """
    cnn = world.cnns[request.cnn]
    limits = limits or world.limits[request.cnn]
    if isinstance(policy, UniformRuns | CyclicRuns):
        # The request's segments count towards ``auto``'s share of work (else it never switches).
        kernel = load_kernel("distsim.scheduling.baselines._runs_kernel", "place_runs", layer_bounds(cnn)[-1])
        if kernel is not None:
            return _place_compiled(kernel, cnn, limits, request, view, policy)
    placer = _Placer(request, view, policy)
    placed: list[IntArray] = []
    try:
        for layer in cnn.layers:
            prev = placed[-1] if placed else None
            rule = LayerRule.of(layer, limits)
            place = placer.on_source if rule.on_source else placer.on_participants
            placed.append(place(layer, rule, prev))
    except _Rejected as stop:
        return stop.rejection
    return view.make_placement(request, placed)


# -- the compiled path ----------------------------------------------------------------------------

#: Kernel status codes and policy codes (:mod:`._runs_kernel`).
_PLACED, _SOURCE_FAILED = 0, 2
_UNIFORM, _CYCLIC = 0, 1
#: The source's first failing condition, by the kernel's code (1-based).
_SOURCE_CODES = (Constraint.COMPUTE, Constraint.MEMORY, Constraint.BANDWIDTH, Constraint.UNREACHABLE)
#: The order of the kernel's per-condition counts (:func:`distsim.placement.attribute`'s).
_ATTRIBUTED = (*FAILURE_ORDER, Constraint.UNREACHABLE)
_MESH_REACH = np.ones((1, 1, 1), dtype=bool)
#: The generator handed to the kernel by policies that draw nothing (never advanced).
_NO_DRAWS = np.random.default_rng(0)
_tables: dict[tuple[int, int], tuple[CNN, PrivacyLimits, IntArray, IntArray, list[int]]] = {}
_reach: dict[int, tuple[Links, BoolArray]] = {}
_costs: dict[int, tuple[Links, FloatArray]] = {}
_layer_reach: dict[
    tuple[int, bool], tuple[Links, Reach, dict[tuple[int, int], tuple[CNN, PrivacyLimits, BoolArray, IntArray]]]
] = {}
#: Links objects whose matrices are kept (a world has one; mobility makes a new one per update).
_LINKS_KEPT = 8


def decision_table(cnn: CNN, limits: PrivacyLimits) -> tuple[IntArray, IntArray, list[int]]:
    """The kernel's layer table (:func:`~distsim.model.compiled.layer_table` plus on-source and ``Nf``,
    -1 when uncapped, clamped at 0 as :func:`~distsim.placement.qualify` reads it), the segment offsets
    and their list; cached per (CNN, limits)."""
    key = (id(cnn), id(limits))
    hit = _tables.get(key)
    if hit is None or hit[0] is not cnn or hit[1] is not limits:
        table, offsets = layer_table(cnn)
        extra = []
        for rule in (LayerRule.of(layer, limits) for layer in cnn.layers):
            extra.append((int(rule.on_source), -1 if rule.cap is None else max(rule.cap, 0)))
        full = np.hstack([table, np.array(extra, dtype=np.int64).reshape(len(table), 2)])
        # The CNN and the limits are kept alive by the cache, so their ids are never reused.
        hit = _tables[key] = (cnn, limits, np.ascontiguousarray(full), offsets, offsets.tolist())
    return hit[2], hit[3], hit[4]


def cost_matrix(links: Links, devices: int) -> FloatArray:
    """``[i, j]``: seconds per byte from device ``i`` to ``j`` over its route (``inf``: no route), as
    ``links.to_all(i)`` gives it; cached per links object, for kernels, which cannot ask for rows lazily."""
    hit = _costs.get(id(links))
    if hit is not None and hit[0] is links:
        return hit[1]
    matrix = np.ascontiguousarray(np.stack([links.to_all(i) for i in range(devices)]))
    matrix.flags.writeable = False
    while len(_costs) >= _LINKS_KEPT:  # oldest first: eviction only costs a rebuild, never a decision
        _costs.pop(next(iter(_costs)))
    _costs[id(links)] = (links, matrix)
    return matrix


def reach_matrix(links: Links, devices: int) -> BoolArray:
    """``[i, j]``: device ``i`` has a route to ``j`` (a finite :func:`cost_matrix` entry); cached per links
    object (a topology's mobility makes a new one per update)."""
    hit = _reach.get(id(links))
    if hit is not None and hit[0] is links:
        return hit[1]
    matrix = np.ascontiguousarray(np.isfinite(cost_matrix(links, devices)))
    matrix.flags.writeable = False
    while len(_reach) >= _LINKS_KEPT:
        _reach.pop(next(iter(_reach)))
    _reach[id(links)] = (links, matrix)
    return matrix


def layer_reach(
    links: Links, devices: int, participants: int, encrypted_links: bool, cnn: CNN, limits: PrivacyLimits
) -> tuple[BoolArray, IntArray]:
    """The reachability matrices the kernel judges layers by, stacked (``[0]``: the routes; ``[1]``, when a
    layer needs it: the relay-guarded routes :meth:`distsim.placement.Reach.for_rule` gives a capped layer
    over links in clear), and per layer the index of its own; cached per links object and CNN."""
    key = (id(links), encrypted_links)
    hit = _layer_reach.get(key)
    if hit is None or hit[0] is not links:
        while len(_layer_reach) >= _LINKS_KEPT:
            _layer_reach.pop(next(iter(_layer_reach)))
        hit = _layer_reach[key] = (links, Reach(links, participants, encrypted_links=encrypted_links), {})
    _, reach, per_cnn = hit
    got = per_cnn.get((id(cnn), id(limits)))
    if got is None or got[0] is not cnn or got[1] is not limits:
        views = [reach.for_rule(rule) for rule in layer_rules(cnn, limits)]
        index = np.array([0 if view is reach else 1 for view in views], dtype=np.int64)
        mats = [reach_matrix(links, devices)]
        if index.any():
            guarded = next(view for view in views if view is not reach)
            mats.append(reach_matrix(guarded.links, devices))
        got = per_cnn[(id(cnn), id(limits))] = (cnn, limits, np.ascontiguousarray(np.stack(mats)), index)
    return got[2], got[3]


def _place_compiled(
    kernel: Callable[..., int],
    cnn: CNN,
    limits: PrivacyLimits,
    request: Request,
    view: ClusterView,
    policy: UniformRuns | CyclicRuns,
) -> Decision:
    """The compiled twin's decision; a rejection is attributed here, from the state the kernel stopped in."""
    table, offsets, bounds = decision_table(cnn, limits)
    fleet = view.fleet
    d = fleet.participants
    comp, mem, bw = view.residuals()
    mesh = isinstance(view.links, FullMesh)
    if mesh:
        reach, index = _MESH_REACH, np.zeros(len(cnn.layers), dtype=np.int64)
    else:
        reach, index = layer_reach(view.links, fleet.size, d, view.world.encrypted_links, cnn, limits)
    out = np.empty(int(offsets[-1]), dtype=np.int64)
    held = np.zeros(max(d, 1), dtype=np.int64)
    res = np.zeros(8, dtype=np.int64)
    if isinstance(policy, UniformRuns):
        code, rng, pointer = _UNIFORM, policy.rng, np.zeros(1, dtype=np.int64)
    else:
        code, rng, pointer = _CYCLIC, _NO_DRAWS, np.array([policy.pointer], dtype=np.int64)
    args: tuple[Any, ...] = (table, offsets, comp, mem, bw, request.source, d, mesh, reach, index, code, rng, pointer)
    status = kernel(*args, out, held, res)
    if isinstance(policy, CyclicRuns):
        policy.pointer = int(pointer[0])
    if status == _PLACED:
        return view.make_placement(request, [out[a:b] for a, b in itertools.pairwise(bounds)])
    layer = cnn.layers[int(res[1])]
    if status == _SOURCE_FAILED:
        constraint = _SOURCE_CODES[int(res[3]) - 1]
        detail = f"layer {layer.name}: the source cannot take it ({constraint})"
        return Rejection(request.id, layer.index, layer.name, constraint, detail)
    failures = dict(zip(_ATTRIBUTED, (int(k) for k in res[3:8]), strict=True))
    constraint, text = no_participant_detail(layer.name, failures, d)
    return Rejection(request.id, layer.index, layer.name, constraint, text)


__all__ = [
    "UNBOUNDED",
    "CyclicRuns",
    "RunPolicy",
    "UniformRuns",
    "cost_matrix",
    "decision_table",
    "layer_reach",
    "reach_matrix",
    "run_place",
]
