"""The compiled twin of the ``layerwise`` decision (numba, cached on disk).

Imported only when the numba path is in force (:mod:`distsim.model.compiled`).
:func:`place_layerwise` makes :class:`~distsim.scheduling.baselines.layerwise.Layerwise`'s
choices with the same floating-point operations in the same order: per
layer, every candidate's transfer time ``size * sec_per_byte(sender, j)``
(0 on the device holding the previous layer) plus ``total_mults / speed_j``,
the qualifying candidate of least time winning, ties to the lowest id. It
returns 0 with the device of every layer in ``best``, or 1 when no candidate
qualifies for layer ``res[1]`` (0-based), leaving the residuals as they were
before that layer and the previous layer's device in ``res[2]``, for the
Python path to attribute. Units: multiplications, bytes, seconds.
"""

from __future__ import annotations

import numpy as np
from numba import njit

PLACED, NOT_PLACED = 0, 1


@njit(cache=True, nogil=True)
def _cost(mesh, spb, cost, sender, j):
    """Seconds per byte from ``sender`` to ``j`` (``Links.to_all(sender)[j]``)."""
    if mesh:
        return 0.0 if j == sender else spb[sender]
    return cost[sender, j]


@njit(cache=True, nogil=True)
def place_layerwise(segments, mults, weights, sizes, comp, mem, bw, src, d, mesh, spb, cost, speed, best, res):
    """Each layer whole on the qualifying candidate that finishes it first (see the module docstring).

    ``segments``, ``mults``, ``weights`` (per segment) and ``sizes`` (bytes the
    previous layer's device sends to another) are per layer; ``comp``, ``mem``,
    ``bw`` are scratch residuals, charged in place; ``cost`` is the topology's
    seconds-per-byte matrix (ignored when ``mesh``, where ``spb`` is).
    """
    layers = len(segments)
    sender = -1
    for layer in range(layers):
        need_c, need_m = segments[layer] * mults[layer], segments[layer] * weights[layer]
        size = sizes[layer]
        first, last = (src, src + 1) if layer == 0 or layer == layers - 1 else (0, d)
        chosen, best_t = -1, np.inf
        for j in range(first, last):
            if comp[j] < need_c or mem[j] < need_m:
                continue
            tx = 0.0
            if size > 0 and j != sender:
                if bw[sender] < size:
                    continue
                tx = size * _cost(mesh, spb, cost, sender, j)
                if not np.isfinite(tx):
                    continue
            t = tx + need_c / speed[j]
            if t < best_t:
                chosen, best_t = j, t
        if chosen < 0:
            res[0], res[1], res[2] = NOT_PLACED, layer, sender
            return NOT_PLACED
        comp[chosen] -= need_c
        mem[chosen] -= need_m
        if size > 0 and chosen != sender:
            bw[sender] -= size
        best[layer] = chosen
        sender = chosen
    res[0] = PLACED
    return PLACED
