"""The compiled twin of the run-based baselines' placement (numba, cached on disk).

Imported only when the numba path is in force (:mod:`distsim.model.compiled`).
:func:`place_runs` places a request run by run exactly as
:func:`distsim.scheduling.baselines._runs.run_place` does in Python, on a full
mesh or over a topology (reachability as a boolean matrix): the same runs, the
same candidates, the same cuts where a sender's bandwidth runs out, the same
charges, and, for ``random``, the same calls on the same numpy generator
(numba's ``Generator.integers`` draws the same numbers as numpy's and advances
the same bit generator), so both paths give identical decisions and leave the
generator in the same state. Units: multiplications, bytes.

It returns :data:`PLACED` with the flat assignment in ``out``;
:data:`PARTICIPANT_FAILED` when no participant qualifies for the run starting
at segment ``res[2]`` of layer ``res[1]`` (0-based), with the participants
ruled out per first failing condition in ``res[3:8]`` (privacy, compute,
memory, bandwidth, unreachable: :func:`distsim.placement.attribute` judged
with the run's real senders, as the Python path does); or
:data:`SOURCE_FAILED` when the source cannot take a segment of a source-only
layer, ``res[3]`` being the first failing condition (1 compute, 2 memory,
3 bandwidth, 4 unreachable).
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Columns of the decision table (distsim.model.compiled.layer_table plus on-source and cap) and feed codes.
_SEG, _MULTS, _WEIGHTS, _FEED, _UNIT, _PREV_CONV, _PREV_OUT, _ON_SOURCE, _CAP = 0, 1, 2, 3, 4, 5, 6, 7, 8
_NONE, _PARTIAL, _MAPS, _VECTOR, _GATHER = 0, 1, 2, 3, 4
PLACED, PARTICIPANT_FAILED, SOURCE_FAILED = 0, 1, 2
#: Policy codes: ``UniformRuns`` (random) and ``CyclicRuns`` (round robin).
UNIFORM, CYCLIC = 0, 1
_UNBOUNDED = np.iinfo(np.int64).max


@njit(cache=True, nogil=True)
def _fixed_senders(table, layer, out, prev_at, prev_end, snd, sz, count):
    """Senders of every segment of a non-MAPS layer and their bytes per segment, sorted by id; how many.

    ``segment_senders``/``gather_senders`` of the reference: partial sums from
    every distinct holder, a vector from the first one, a gather from each
    holder (all its maps after a convolution, else one unit per segment held).
    """
    feed, unit = table[layer, _FEED], table[layer, _UNIT]
    if feed == _NONE or layer == 0:
        return 0
    if feed == _VECTOR:
        snd[0], sz[0] = out[prev_at], unit
        return 1
    k = 0
    for p in range(prev_at, prev_end):
        j = out[p]
        if count[j] == 0:
            snd[k] = j
            k += 1
        count[j] += 1
    snd[:k] = np.sort(snd[:k])
    for q in range(k):
        s = snd[q]
        if feed == _PARTIAL:
            sz[q] = unit
        elif table[layer, _PREV_CONV] == 1:
            sz[q] = table[layer, _PREV_OUT] * unit
        else:
            sz[q] = count[s] * unit
        count[s] = 0
    return k


@njit(cache=True, nogil=True)
def _room(c, m, cap, comp_j, mem_j, held_j):
    """``distsim.placement.room``: more segments one device may take under cond1 and cond4."""
    if comp_j < c or mem_j < m:
        return 0
    k = _UNBOUNDED
    if c > 0:
        k = min(k, comp_j // c)
    if m > 0:
        k = min(k, mem_j // m)
    if cap >= 0:
        k = min(k, cap - held_j)
    return max(k, 0)


@njit(cache=True, nogil=True)
def _uniform(cand, ncand, room, count, rng, seq, taken, seen, kept):
    """``UniformRuns.choose``: the same draws, the same kept ones (a device's first ``room`` draws)."""
    total = 0
    for k in range(ncand):
        room[k] = min(room[k], count)
        total += room[k]
        taken[k] = 0
    target = min(count, total)
    have = 0
    while have < target:
        need = target - have
        draws = rng.integers(0, ncand, 2 * need + 8)
        for k in range(ncand):
            seen[k] = 0
        got = 0
        for x in draws:
            # rank among equal draws of this batch (kept or not) + kept before the batch < room
            if got < need and seen[x] + taken[x] < room[x]:
                kept[got] = x
                got += 1
            seen[x] += 1
        for g in range(got):
            taken[kept[g]] += 1
            seq[have + g] = cand[kept[g]]
        have += got
    return have


@njit(cache=True, nogil=True)
def _cyclic(cand, ncand, room, count, pointer, seq):
    """``CyclicRuns.choose``: passes over the candidates from the pointer, each at most its room times."""
    first = np.searchsorted(cand[:ncand], pointer)
    if count == 1:
        for k in range(first, ncand):
            if room[k] > 0:
                seq[0] = cand[k]
                return 1
        for k in range(first):
            if room[k] > 0:
                seq[0] = cand[k]
                return 1
        return 0
    length, remaining, lap = 0, count, 0
    while remaining > 0:
        active = False
        for i in range(ncand):
            k = (first + i) % ncand
            if min(room[k], count) > lap:
                active = True
                if remaining > 0:
                    seq[length] = cand[k]
                    length += 1
                    remaining -= 1
        if not active:
            break
        lap += 1
    return length


@njit(cache=True, nogil=True)
def _qualify(c, m, cap, held, comp, mem, bw, d, snd, sz, ns, mesh, reach_ok, cand):
    """``distsim.placement.qualify`` for one segment fed by ``snd[:ns]``: the qualifying participants in
    ``cand`` (ascending), how many. ``reach_ok`` (topologies) is the AND of the senders' reach rows."""
    short, only = 0, -1
    for q in range(ns):
        if bw[snd[q]] < sz[q]:
            short += 1
            only = snd[q]
    ncand = 0
    if short > 1:
        return 0
    for j in range(d):
        if short == 1 and j != only:
            continue
        if cap >= 0 and held[j] >= cap:
            continue
        if comp[j] < c or mem[j] < m:
            continue
        if not mesh and not reach_ok[j]:
            continue
        cand[ncand] = j
        ncand += 1
    return ncand


@njit(cache=True, nogil=True)
def _failures(c, m, cap, held, comp, mem, bw, d, snd, sz, ns, mesh, reach_ok, res):
    """``distsim.placement.attribute`` when nobody qualifies: each participant counted once by its first
    failing condition (privacy, compute, memory, bandwidth, unreachable), into ``res[3:8]``."""
    short, only = 0, -1
    for q in range(ns):
        if bw[snd[q]] < sz[q]:
            short += 1
            only = snd[q]
    res[3:8] = 0
    for j in range(d):
        if cap >= 0 and held[j] >= cap:
            res[3] += 1
        elif comp[j] < c:
            res[4] += 1
        elif mem[j] < m:
            res[5] += 1
        elif short > 1 or (short == 1 and j != only):
            res[6] += 1
        elif not mesh and not reach_ok[j]:
            res[7] += 1


@njit(cache=True, nogil=True)
def _cut_fixed(seq, length, snd, sz, ns, bw):
    """``_cut_fixed``: prefix of ``seq`` every sender (``sz`` bytes per segment not on it) can feed."""
    keep = length
    for q in range(ns):
        if sz[q] <= 0:
            continue
        quota = bw[snd[q]] // sz[q]
        if quota >= length:
            continue
        shipped = 0
        for t in range(min(keep, length)):
            if seq[t] != snd[q]:
                shipped += 1
                if shipped > quota:
                    keep = t
                    break
    return keep


@njit(cache=True, nogil=True)
def _cut_maps(seq, length, out, holders_at, bw, unit, used):
    """``_cut``: prefix of ``seq`` whose map holders keep the bandwidth for the maps they ship."""
    keep = length
    for t in range(length):
        h = out[holders_at + t]
        if seq[t] != h:
            used[h] += 1
            quota = bw[h] // unit if unit > 0 else 0
            if used[h] > quota:
                keep = t
                break
    for t in range(min(keep + 1, length)):
        used[out[holders_at + t]] = 0
    return keep


@njit(cache=True, nogil=True)
def _source_layer(table, offsets, layer, comp, mem, bw, src, mesh, reach, out, snd, sz, count, res):
    """A source-only layer segment by segment (``source_failure`` then ``charge``); False on failure."""
    seg, c, m, unit, feed = (
        table[layer, _SEG], table[layer, _MULTS], table[layer, _WEIGHTS], table[layer, _UNIT], table[layer, _FEED],
    )  # fmt: skip
    base = offsets[layer]
    prev_at = offsets[layer - 1] if layer > 0 else 0
    ns = 0
    if feed != _MAPS:
        ns = _fixed_senders(table, layer, out, prev_at, base, snd, sz, count)
    for p in range(seg):
        if feed == _MAPS and layer > 0:
            snd[0], sz[0] = out[prev_at + p], unit
            ns = 1
        code = 0
        if comp[src] < c:
            code = 1
        elif mem[src] < m:
            code = 2
        else:
            for q in range(ns):
                if snd[q] != src and bw[snd[q]] < sz[q]:
                    code = 3
                    break
            if code == 0 and not mesh:
                for q in range(ns):
                    if snd[q] != src and sz[q] > 0 and not reach[snd[q], src]:
                        code = 4
                        break
        if code != 0:
            res[0], res[1], res[2], res[3] = SOURCE_FAILED, layer, p, code
            return False
        comp[src] -= c
        mem[src] -= m
        for q in range(ns):
            if snd[q] != src:
                bw[snd[q]] -= sz[q]
        out[base + p] = src
    return True


@njit(cache=True, nogil=True)
def _choose(policy, cand, ncand, room, count, rng, pointer, seq, taken, seen, kept):
    """The run's devices by the policy (``UniformRuns`` or ``CyclicRuns``); how many."""
    if policy == UNIFORM:
        return _uniform(cand, ncand, room, count, rng, seq, taken, seen, kept)
    return _cyclic(cand, ncand, room, count, pointer[0], seq)


@njit(cache=True, nogil=True)
def _rooms(c, m, cap, comp, mem, held, cand, ncand, room):
    """``distsim.placement.rooms`` of the candidates."""
    for k in range(ncand):
        room[k] = _room(c, m, cap, comp[cand[k]], mem[cand[k]], held[cand[k]])


@njit(cache=True, nogil=True)
def _charge(c, m, unit, maps, seq, keep, base, pos, prev_at, comp, mem, bw, held, out, snd, sz, ns):
    """Debit the placed prefix ``seq[:keep]`` and write it into ``out`` (the kernel's ``charge``)."""
    for t in range(keep):
        j = seq[t]
        comp[j] -= c
        mem[j] -= m
        held[j] += 1
        out[base + pos + t] = j
        if maps:
            h = out[prev_at + pos + t]
            if j != h:
                bw[h] -= unit
    if not maps:
        for q in range(ns):
            on_self = 0
            for t in range(keep):
                if seq[t] == snd[q]:
                    on_self += 1
            bw[snd[q]] -= (keep - on_self) * sz[q]


@njit(cache=True, nogil=True)
def _run(
    table,
    layer,
    pos,
    end,
    base,
    prev_at,
    maps,
    ns,
    comp,
    mem,
    bw,
    held,
    d,
    mesh,
    reach,
    out,
    policy,
    rng,
    pointer,
    snd,
    sz,
    reach_ok,
    cand,
    room,
    seq,
    taken,
    seen,
    kept,
    used,
    res,
):
    """Place the run from segment ``pos`` (``_Placer.run``); how many segments it placed, -1 if none qualify."""
    seg, c, m, unit, cap = (
        table[layer, _SEG], table[layer, _MULTS], table[layer, _WEIGHTS], table[layer, _UNIT], table[layer, _CAP],
    )  # fmt: skip
    span = seg - pos
    single = False
    if maps:
        h = out[prev_at + pos]
        if not mesh:  # over a topology the candidates are those the holder reaches
            for j in range(d):
                reach_ok[j] = unit <= 0 or reach[h, j]
        quota_h = bw[h] // unit if unit > 0 else 0
        batch = quota_h > 0
        span = end - pos if batch else 1
        exact = not (mesh and batch)  # on a full mesh, a holder with bandwidth is judged by the cut
        snd[0], sz[0] = h, unit
        ns = 1 if exact else 0
        single = exact and end - pos == 1
    ncand = _qualify(c, m, cap, held, comp, mem, bw, d, snd, sz, ns, mesh, reach_ok, cand)
    if ncand == 0:
        if maps:  # judged with the run's real sender, as the Python path attributes it
            snd[0], sz[0], ns = out[prev_at + pos], unit, 1
        _failures(c, m, cap, held, comp, mem, bw, d, snd, sz, ns, mesh, reach_ok, res)
        return -1
    if single:
        room[:ncand] = 1
        length = _choose(policy, cand, ncand, room, 1, rng, pointer, seq, taken, seen, kept)
        keep = 1
    else:
        _rooms(c, m, cap, comp, mem, held, cand, ncand, room)
        length = _choose(policy, cand, ncand, room, span, rng, pointer, seq, taken, seen, kept)
        if maps:
            keep = _cut_maps(seq, length, out, prev_at + pos, bw, unit, used)
        else:
            keep = _cut_fixed(seq, length, snd, sz, ns, bw)
    if maps:
        snd[0], sz[0], ns = out[prev_at + pos], unit, 1
    if keep == 0:
        # The first segment already needs a short sender: only that sender may take it.
        ncand = _qualify(c, m, cap, held, comp, mem, bw, d, snd, sz, ns, mesh, reach_ok, cand)
        if ncand == 0:
            _failures(c, m, cap, held, comp, mem, bw, d, snd, sz, ns, mesh, reach_ok, res)
            return -1
        _rooms(c, m, cap, comp, mem, held, cand, ncand, room)
        _choose(policy, cand, ncand, room, 1, rng, pointer, seq, taken, seen, kept)
        keep = 1
    pointer[0] = (seq[keep - 1] + 1) % d
    _charge(c, m, unit, maps, seq, keep, base, pos, prev_at, comp, mem, bw, held, out, snd, sz, ns)
    return keep


@njit(cache=True, nogil=True)
def place_runs(table, offsets, comp, mem, bw, src, d, mesh, reach, layer_reach, policy, rng, pointer, out, held, res):
    """Place a request run by run (see the module docstring); returns the status, also in ``res[0]``.

    ``comp``, ``mem``, ``bw`` (per device, mults and bytes) are scratch copies
    of the residuals, charged in place; ``reach[k, i, j]`` is True when device
    ``i`` has a route to ``j`` in the ``k``-th reachability, the one layer ``l``
    is judged by being ``layer_reach[l]`` (0 for the plain routes, source-only
    layers always; a relay-guarded one for capped layers over links in clear,
    as :meth:`distsim.placement.Reach.for_rule` gives it; all ignored when
    ``mesh``); ``pointer[0]`` is the
    round-robin pointer (updated); ``out`` receives the flat assignment.
    """
    n, most = len(comp), max(1, table[:, _SEG].max())
    snd, sz = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    count, used = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    width = max(d, 1)
    cand, room = np.empty(width, dtype=np.int64), np.empty(width, dtype=np.int64)
    taken, seen = np.empty(width, dtype=np.int64), np.empty(width, dtype=np.int64)
    reach_ok = np.ones(width, dtype=np.bool_)
    seq, kept = np.empty(most, dtype=np.int64), np.empty(2 * most + 8, dtype=np.int64)
    res[0] = PLACED
    for layer in range(table.shape[0]):
        if table[layer, _ON_SOURCE] == 1:
            if not _source_layer(table, offsets, layer, comp, mem, bw, src, mesh, reach[0], out, snd, sz, count, res):
                return res[0]
            continue
        seg, base = table[layer, _SEG], offsets[layer]
        here = reach[layer_reach[layer]]
        prev_at = offsets[layer - 1] if layer > 0 else 0
        maps = table[layer, _FEED] == _MAPS and layer > 0
        held[:d] = 0
        ns = 0
        if not maps:  # the same senders feed every segment
            ns = _fixed_senders(table, layer, out, prev_at, base, snd, sz, count)
            if not mesh:
                for j in range(d):
                    reach_ok[j] = True
                    for q in range(ns):
                        if sz[q] > 0 and not here[snd[q], j]:
                            reach_ok[j] = False
        pos = 0
        while pos < seg:
            end = seg
            if maps and not mesh:  # a topology's map layer runs per holder
                end = pos + 1
                while end < seg and out[prev_at + end] == out[prev_at + pos]:
                    end += 1
            keep = _run(
                table,
                layer,
                pos,
                end,
                base,
                prev_at,
                maps,
                ns,
                comp,
                mem,
                bw,
                held,
                d,
                mesh,
                here,
                out,
                policy,
                rng,
                pointer,
                snd,
                sz,
                reach_ok,
                cand,
                room,
                seq,
                taken,
                seen,
                kept,
                used,
                res,
            )
            if keep < 0:
                res[0], res[1], res[2] = PARTICIPANT_FAILED, layer, pos
                return res[0]
            pos += keep
    return res[0]
