"""The compiled twin of the DistPrivacy decision on a full mesh (numba, cached on disk).

Imported only when the numba path is in force (:mod:`distsim.model.compiled`).
It places the same runs as :class:`~distsim.scheduling.distprivacy.DistPrivacy`
with the same floating-point operations in the same order:

* ``t(j) = tx(j) + c / e_j`` with ``tx(j)`` the largest ``bytes_i * 8 / rho_i``
  over the senders ``i != j`` (``FullMesh.max_weighted``), ``alpha * t(j)``,
  and ``nrm(j) = alpha * t(j) + beta / b_j`` (``inf`` when ``b_j <= 0``);
* per run: a sender short of bandwidth leaves only itself qualifying (two
  leave nobody); otherwise the qualifying participant (cond1 and cond4) of
  least ``nrm`` wins, ties to the lowest id, and the lowest qualifying id when
  every ``nrm`` is ``inf``;
* the run is as long as ``min(left, c_j // c, m_j // m, Nf - held_j,
  b_i // O_i for the senders i != j)``; the senders' bandwidth and ``beta / b``,
  then the device's compute, memory and map count are charged.

With compiled loops an argmin over the participants costs less than most
of the Python path's shortcuts: a run scans the candidates' ``nrm``, kept in
an array in which a run recomputes only the entries it changed (its senders'
and its device's), unless the holder of a map wins outright (below).
It returns 0 when the request is placed (the flat assignment in ``out``);
when it is not, where it stopped and the residuals there, from which the
Python side attributes the rejection with the placement kernel's own rules
(:meth:`DistPrivacy._compiled_rejection`); or a case it leaves to the Python
path (a map fed with zero bytes, a fleet without participants).
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Columns of distsim.model.compiled.layer_table, its feed codes, and the extra columns of the decision table.
_SEG, _MULTS, _WEIGHTS, _FEED, _UNIT, _PREV_CONV, _PREV_OUT, _ON_SOURCE, _CAP = 0, 1, 2, 3, 4, 5, 6, 7, 8
_NONE, _PARTIAL, _MAPS, _VECTOR, _GATHER = 0, 1, 2, 3, 4
#: :func:`decide_mesh`'s outcomes.
PLACED, NO_PARTICIPANT, SOURCE_SHORT, TO_PYTHON = 0, 1, 2, 3


@njit(cache=True, nogil=True)
def _senders(table, layer, out, prev_at, prev_end, count, snd, sz):
    """Who sends to every segment of a non-MAPS ``layer`` and how many bytes each, by device id; how many."""
    feed, unit = table[layer, _FEED], table[layer, _UNIT]
    if feed == _NONE or layer == 0 or unit == 0:
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
    ns = 0
    for q in range(k):
        s = snd[q]
        if feed == _PARTIAL:
            size = unit
        elif table[layer, _PREV_CONV] == 1:
            size = table[layer, _PREV_OUT] * unit
        else:
            size = count[s] * unit
        count[s] = 0
        if size > 0:
            snd[ns], sz[ns] = s, size
            ns += 1
    return ns


@njit(cache=True, nogil=True)
def _spread(snd, sz, ns, spb):
    """``FullMesh.max_weighted`` of the senders as ``(slowest sender, what it sees, what everyone else sees)``:
    everyone waits for the slowest sender's ``bytes * 8 / rho`` (first maximum), which itself waits for the
    runner-up (0 when it is the only sender)."""
    if ns == 0:
        return -1, 0.0, 0.0
    best = 0
    top = sz[0] * spb[snd[0]]
    for k in range(1, ns):
        v = sz[k] * spb[snd[k]]
        if v > top:
            best, top = k, v
    runner, have = 0.0, False
    for k in range(ns):
        if k != best:
            v = sz[k] * spb[snd[k]]
            if not have or v > runner:
                runner, have = v, True
    return snd[best], runner, top


@njit(cache=True, nogil=True)
def _charge_senders(snd, sz, ns, j, k, d, bw, inv, beta):
    """Each sender but ``j`` ships ``k`` segments' bytes: its bandwidth and ``beta / b`` follow."""
    for q in range(ns):
        s = snd[q]
        if s != j:
            bw[s] -= k * sz[q]
            if s < d:
                inv[s] = beta / bw[s] if bw[s] > 0 else np.inf


@njit(cache=True, nogil=True)
def _nrm(i, base, ct, inv, slow, tx_slow, tx_other, alpha):
    """``nrm(i)`` of participant ``i`` for the current feed, ``inf`` when it does not qualify (cond1, cond4)."""
    if not base[i]:
        return np.inf
    return alpha * ((tx_slow if i == slow else tx_other) + ct[i]) + inv[i]


@njit(cache=True, nogil=True)
def _choose(snd, sz, ns, d, bw, base, nrm):
    """The qualifying participant of least ``nrm`` for the next segment (ties: lowest id), or -1 if none.

    ``nrm`` holds :func:`_nrm` of every participant (``inf`` where one does not qualify).
    """
    short, n_short = -1, 0
    for k in range(ns):
        if bw[snd[k]] < sz[k]:
            short, n_short = snd[k], n_short + 1
    if n_short > 1:
        return -1
    if n_short == 1:
        # Only a short sender itself qualifies: it does not send to itself.
        return short if short < d and base[short] else -1
    j, least = -1, np.inf
    for i in range(d):
        if nrm[i] < least:
            j, least = i, nrm[i]
    if j >= 0:
        return j
    for i in range(d):  # every qualifying nrm inf: the lowest qualifying id
        if base[i]:
            return i
    return -1


@njit(cache=True, nogil=True)
def _place_runs(
    table, layer, pos, end, snd, sz, ns, d, comp, mem, bw, inv, base, held, ct, bound, spb, alpha, beta, out, nrm
):
    """Place segments ``pos .. end-1``, all fed ``sz[k]`` bytes by ``snd[k]`` (k < ns), run by run; -1 when
    placed, else the segment nobody may take (the residuals and ``held`` as they stand then).

    ``bound = (least c / e_j, least qualifying beta / b_j)`` when the layer
    started: both only grow, and rounding is monotone, so
    ``alpha * (tx + bound[0]) + bound[1]`` bounds the ``nrm`` of every
    candidate paying ``tx`` from below. A lone sender that is a participant
    (a MAPS run's holder) pays nothing itself; when its ``nrm`` is below that
    bound for the others it is the argmin without a scan (strictly below, so
    ties still go through the scan and its lowest-id rule).

    ``nrm`` (scratch, one entry per participant) is filled at the first scan
    and then kept exact: a run changes only ``beta / b`` of its senders and
    whether its device still qualifies, so only those entries are recomputed.
    """
    c, m, cap = table[layer, _MULTS], table[layer, _WEIGHTS], table[layer, _CAP]
    slow, tx_slow, tx_other = _spread(snd, sz, ns, spb)
    holder = snd[0] if ns == 1 and snd[0] < d else -1
    floor = alpha * (tx_other + bound[0]) + bound[1]
    filled = False
    while pos < end:
        if holder >= 0 and base[holder] and alpha * (tx_slow + ct[holder]) + inv[holder] < floor:
            j = holder
        else:
            if not filled:
                for i in range(d):
                    nrm[i] = _nrm(i, base, ct, inv, slow, tx_slow, tx_other, alpha)
                filled = True
            j = _choose(snd, sz, ns, d, bw, base, nrm)
            if j < 0:
                return pos
        k = end - pos
        if c > 0:
            k = min(k, comp[j] // c)
        if m > 0:
            k = min(k, mem[j] // m)
        if cap >= 0:
            k = min(k, cap - held[j])
        for q in range(ns):
            if snd[q] != j:
                k = min(k, bw[snd[q]] // sz[q])
        _charge_senders(snd, sz, ns, j, k, d, bw, inv, beta)
        out[pos : pos + k] = j
        comp[j] -= k * c
        mem[j] -= k * m
        held[j] += k
        if not ((c == 0 or comp[j] >= c) and (m == 0 or mem[j] >= m) and (cap < 0 or held[j] < cap)):
            base[j] = False
        if filled:
            nrm[j] = _nrm(j, base, ct, inv, slow, tx_slow, tx_other, alpha)
            for q in range(ns):
                s = snd[q]
                if s != j and s < d:
                    nrm[s] = _nrm(s, base, ct, inv, slow, tx_slow, tx_other, alpha)
        pos += k
    return -1


@njit(cache=True, nogil=True)
def _on_source(table, layer, a, b, prev_at, maps, snd, sz, ns, src, d, comp, mem, bw, inv, beta, out):
    """Place a source-only layer on ``src`` segment by segment; -1, or the segment where the source or a sender
    falls short (the residuals as they stand then)."""
    c, m, unit = table[layer, _MULTS], table[layer, _WEIGHTS], table[layer, _UNIT]
    for p in range(a, b):
        if maps:
            snd[0], sz[0], ns = out[prev_at + p - a], unit, 1
        if comp[src] < c or mem[src] < m:
            return p
        for q in range(ns):
            if snd[q] != src and bw[snd[q]] < sz[q]:
                return p
        comp[src] -= c
        mem[src] -= m
        _charge_senders(snd, sz, ns, src, 1, d, bw, inv, beta)
        out[p] = src
    return -1


@njit(cache=True, nogil=True)
def decide_mesh(table, offsets, comp, mem, bw, src, d, spb, compute_s, alpha, beta, out, held, stop):
    """One DistPrivacy decision on a full mesh; ``comp``, ``mem``, ``bw`` are scratch residuals (charged).

    ``table``: :func:`distsim.model.compiled.layer_table` plus two columns, on
    the source (1/0) and the cap ``Nf`` (-1 when uncapped); ``compute_s``:
    ``c / e_j``, the compute time of one segment of layer ``l`` (row) on
    participant ``j`` (column), s, as the Python path divides it. Returns
    :data:`PLACED` with the device of every segment in ``out`` (flat, layer
    ``l`` at ``offsets[l]``); :data:`NO_PARTICIPANT` or :data:`SOURCE_SHORT`
    with ``stop = (layer, segment)``, the first segment (flat) no participant,
    or the source of a source-only layer, may take, ``comp``, ``mem``, ``bw``
    and ``held`` (the layer's segments per participant, scratch of length
    ``d``) as they stand there; or :data:`TO_PYTHON` (cases left to the Python path).
    """
    n = comp.shape[0]
    inv = np.empty(d)
    for j in range(d):
        inv[j] = beta / bw[j] if bw[j] > 0 else np.inf
    base = np.zeros(d, np.bool_)
    nrm = np.empty(d)
    count = np.zeros(n, np.int64)
    snd = np.empty(n, np.int64)
    sz = np.empty(n, np.int64)
    for layer in range(table.shape[0]):
        a, b = offsets[layer], offsets[layer + 1]
        c, m, cap = table[layer, _MULTS], table[layer, _WEIGHTS], table[layer, _CAP]
        feed, unit = table[layer, _FEED], table[layer, _UNIT]
        prev_at = offsets[layer - 1] if layer > 0 else 0
        maps = feed == _MAPS and layer > 0
        if maps and unit == 0:
            return TO_PYTHON  # never in a built CNN
        ns = 0 if maps else _senders(table, layer, out, prev_at, a, count, snd, sz)
        if table[layer, _ON_SOURCE] == 1:
            at = _on_source(table, layer, a, b, prev_at, maps, snd, sz, ns, src, d, comp, mem, bw, inv, beta, out)
            if at >= 0:
                stop[0], stop[1] = layer, at
                return SOURCE_SHORT
            continue
        ct = compute_s[layer]
        ct_min, inv_min = np.inf, np.inf
        for j in range(d):
            held[j] = 0
            base[j] = comp[j] >= c and mem[j] >= m and not (cap >= 0 and cap <= 0)
            ct_min = min(ct_min, ct[j])
            if base[j]:
                inv_min = min(inv_min, inv[j])
        bound = (ct_min, inv_min)
        if not maps:
            if d == 0 and b > a:
                return TO_PYTHON
            at = _place_runs(
                table,
                layer,
                a,
                b,
                snd,
                sz,
                ns,
                d,
                comp,
                mem,
                bw,
                inv,
                base,
                held,
                ct,
                bound,
                spb,
                alpha,
                beta,
                out,
                nrm,
            )
            if at >= 0:
                stop[0], stop[1] = layer, at
                return NO_PARTICIPANT
            continue
        # MAPS: consecutive segments whose map comes from the same device share a feed, one run each.
        p = a
        while p < b:
            h = out[prev_at + p - a]
            q = p + 1
            while q < b and out[prev_at + q - a] == h:
                q += 1
            snd[0], sz[0] = h, unit
            if d == 0:
                return TO_PYTHON
            at = _place_runs(
                table, layer, p, q, snd, sz, 1, d, comp, mem, bw, inv, base, held, ct, bound, spb, alpha, beta, out, nrm
            )
            if at >= 0:
                stop[0], stop[1] = layer, at
                return NO_PARTICIPANT
            p = q
    return PLACED
