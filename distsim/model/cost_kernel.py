"""The compiled twin of :func:`distsim.model.cost.evaluate` on a full mesh (numba, cached on disk).

Imported only when the numba path is in force (:mod:`distsim.model.compiled`).
It walks the flat assignment once per layer and computes, with the same
floating-point operations in the same order as the Python function, every
number a :class:`~distsim.model.cost.PlacementCost` holds:

* per device: multiplications and weight bytes reserved, segments, bytes sent
  and received (integers, so any order gives the same sums);
* per layer: the compute time of each device's batch ``(count * c) / e_j``,
  its maximum, and the (sender, receiver) pairs of Eq. 6 in (sender, receiver)
  order with ``bytes * 8 / rho_sender + t_receiver``; the first maximum wins
  and ties with the compute maximum go to the pair, as in ``evaluate``;
* the request's latency, summed layer by layer in layer order.

Pairs with zero bytes are kept (as ``evaluate`` keeps them), self-sends dropped.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Columns of distsim.model.compiled.layer_table and its feed codes (numba needs them as literals).
_SEG, _MULTS, _WEIGHTS, _FEED, _UNIT, _PREV_CONV, _PREV_OUT = 0, 1, 2, 3, 4, 5, 6
_PARTIAL, _MAPS, _VECTOR, _GATHER = 1, 2, 3, 4


@njit(cache=True, nogil=True)
def _distinct_sorted(ids, count, devices):
    """Count ``ids`` per device into ``count`` (all zero on entry); the distinct ids, sorted, into ``devices``."""
    k = 0
    for j in ids:
        if count[j] == 0:
            devices[k] = j
            k += 1
        count[j] += 1
    devices[:k] = np.sort(devices[:k])
    return k


@njit(cache=True, nogil=True)
def _partial_sums(prev_dev, n_prev, cur_dev, n_cur, cur, unit, c, spb, speed, bandwidth, received, tx_s, rx_s):
    """PARTIAL_SUMS pairs: every sender of the conv layer to every receiver, in (sender, receiver) order.

    Returns the layer's ``(best total, its transfer, its compute, pairs, bytes)``;
    every pair's bytes are added to ``bandwidth`` and ``received``, its transfer
    time to ``tx_s`` (sender) and ``rx_s`` (receiver).
    """
    best, best_tx, best_rt, pairs, total = -np.inf, 0.0, 0.0, 0, 0
    for qs in range(n_prev):
        s = prev_dev[qs]
        for qr in range(n_cur):
            r = cur_dev[qr]
            if s == r:
                continue
            size = cur[r] * unit
            tx = size * spb[s]
            rt = (cur[r] * c) / speed[r]
            if pairs == 0 or tx + rt > best:
                best, best_tx, best_rt = tx + rt, tx, rt
            pairs += 1
            total += size
            bandwidth[s] += size
            received[r] += size
            tx_s[s] += tx
            rx_s[r] += tx
    return best, best_tx, best_rt, pairs, total


@njit(cache=True, nogil=True)
def _maps(held_by, placed, n, cur, unit, c, spb, speed, bandwidth, received, tx_s, rx_s):
    """MAPS pairs: map ``p`` from ``held_by[p]`` to ``placed[p]``, aggregated per pair in (sender, receiver)
    order; returns what :func:`_partial_sums` returns."""
    keys = np.empty(len(placed), np.int64)
    k = 0
    for p in range(len(placed)):
        if held_by[p] != placed[p]:
            keys[k] = held_by[p] * n + placed[p]
            k += 1
    order = np.sort(keys[:k])
    best, best_tx, best_rt, pairs, total = -np.inf, 0.0, 0.0, 0, 0
    q = 0
    while q < k:
        e = q
        while e < k and order[e] == order[q]:
            e += 1
        s, r = order[q] // n, order[q] % n
        size = (e - q) * unit
        tx = size * spb[s]
        rt = (cur[r] * c) / speed[r]
        if pairs == 0 or tx + rt > best:
            best, best_tx, best_rt = tx + rt, tx, rt
        pairs += 1
        total += size
        bandwidth[s] += size
        received[r] += size
        tx_s[s] += tx
        rx_s[r] += tx
        q = e
    return best, best_tx, best_rt, pairs, total


@njit(cache=True, nogil=True)
def _to_one(senders, sizes, r, cur, c, spb, speed, bandwidth, received, tx_s, rx_s):
    """VECTOR and GATHER pairs: each of ``senders`` (sorted) ships ``sizes`` bytes to the one receiver ``r``;
    returns what :func:`_partial_sums` returns."""
    best, best_tx, best_rt, pairs, total = -np.inf, 0.0, 0.0, 0, 0
    for q in range(len(senders)):
        s, size = senders[q], sizes[q]
        if s == r:
            continue
        tx = size * spb[s]
        rt = (cur[r] * c) / speed[r]
        if pairs == 0 or tx + rt > best:
            best, best_tx, best_rt = tx + rt, tx, rt
        pairs += 1
        total += size
        bandwidth[s] += size
        received[r] += size
        tx_s[s] += tx
        rx_s[r] += tx
    return best, best_tx, best_rt, pairs, total


@njit(cache=True, nogil=True)
def evaluate_mesh(table, offsets, flat, n, spb, speed):
    """Cost arrays of the flat assignment ``flat`` (layer ``l`` at ``offsets[l]:offsets[l+1]``) on a full mesh.

    ``spb``: seconds per byte of each device's radio; ``speed``: multiplications
    per second. Returns ``(latency_s, layer latency, layer compute, layer
    transfer, layer bytes, compute, memory, bandwidth, received, segments, tx_s,
    rx_s, shared bytes, devices used)``: ``tx_s`` / ``rx_s`` sum each pair's
    transfer time on its sender / receiver, s.
    """
    layers = table.shape[0]
    compute = np.zeros(n, np.int64)
    memory = np.zeros(n, np.int64)
    bandwidth = np.zeros(n, np.int64)
    received = np.zeros(n, np.int64)
    segments = np.zeros(n, np.int64)
    tx_s = np.zeros(n)
    rx_s = np.zeros(n)
    lat = np.zeros(layers)
    comp_l = np.zeros(layers)
    tran_l = np.zeros(layers)
    moved = np.zeros(layers, np.int64)
    cur = np.zeros(n, np.int64)
    prev = np.zeros(n, np.int64)
    cur_dev = np.empty(n, np.int64)
    prev_dev = np.empty(n, np.int64)
    n_prev = 0
    for layer in range(layers):
        a, b = offsets[layer], offsets[layer + 1]
        c, unit, feed = table[layer, _MULTS], table[layer, _UNIT], table[layer, _FEED]
        n_cur = _distinct_sorted(flat[a:b], cur, cur_dev)
        cmax = 0.0
        for q in range(n_cur):
            j = cur_dev[q]
            segments[j] += cur[j]
            compute[j] += cur[j] * c
            memory[j] += cur[j] * table[layer, _WEIGHTS]
            cmax = max(cmax, (cur[j] * c) / speed[j])
        lat[layer] = comp_l[layer] = cmax
        best, tx, rt, pairs, total = -np.inf, 0.0, 0.0, 0, 0
        if layer > 0 and feed == _PARTIAL:
            best, tx, rt, pairs, total = _partial_sums(
                prev_dev, n_prev, cur_dev, n_cur, cur, unit, c, spb, speed, bandwidth, received, tx_s, rx_s
            )
        elif layer > 0 and feed == _MAPS:
            held_by = flat[offsets[layer - 1] : a]
            best, tx, rt, pairs, total = _maps(
                held_by, flat[a:b], n, cur, unit, c, spb, speed, bandwidth, received, tx_s, rx_s
            )
        elif layer > 0 and feed != 0:  # VECTOR or GATHER
            if feed == _VECTOR:
                senders, sizes = flat[offsets[layer - 1] : offsets[layer - 1] + 1], np.full(1, unit, np.int64)
            elif table[layer, _PREV_CONV] == 1:
                senders, sizes = prev_dev[:n_prev], np.full(n_prev, table[layer, _PREV_OUT] * unit, np.int64)
            else:
                senders, sizes = prev_dev[:n_prev], prev[prev_dev[:n_prev]] * unit
            best, tx, rt, pairs, total = _to_one(
                senders, sizes, flat[a], cur, c, spb, speed, bandwidth, received, tx_s, rx_s
            )
        if pairs:
            moved[layer] = total
            if best >= cmax:  # a tie with the compute maximum goes to the pair
                lat[layer], tran_l[layer], comp_l[layer] = best, tx, rt
        # This layer's counts become the previous layer's; the old previous ones are cleared.
        for q in range(n_prev):
            prev[prev_dev[q]] = 0
        prev, cur = cur, prev
        prev_dev, cur_dev = cur_dev, prev_dev
        n_prev = n_cur
    latency = 0.0
    shared = 0
    for layer in range(layers):
        latency += lat[layer]
        shared += moved[layer]
    used = 0
    for j in range(n):
        if segments[j] > 0:
            used += 1
    return latency, lat, comp_l, tran_l, moved, compute, memory, bandwidth, received, segments, tx_s, rx_s, shared, used
