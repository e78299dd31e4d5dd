"""Per-layer bounds of ``T_l`` that tighten the model without changing its optimum.

Both take the model (for its time units and links), the request's variables
and the layer's compute units per receiver; swapping them for kernel-based
bounds only needs the same signature.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from distsim.model.cnn import Feed, Layer, LayerKind

if TYPE_CHECKING:
    from distsim.scheduling.exact.model import Model, RequestVars


def ceil_units(seconds: float, unit: float) -> int:
    """``seconds`` in whole time units of ``unit`` s, rounded up (0 for non-positive)."""
    return math.ceil(seconds / unit - 1e-9) if seconds > 0 else 0


def floor_units(seconds: float, unit: float) -> int:
    """``seconds`` in whole time units of ``unit`` s, rounded down, never above the exact quotient.

    The quotient is shrunk by a relative 1e-12 first, so a float division that lands just
    above a whole number cannot round up past the true value.
    """
    return math.floor(seconds / unit * (1.0 - 1e-12)) if seconds > 0 else 0


def layer_lower_bound(model: Model, rv: RequestVars, layer: Layer, tc: dict[int, int]) -> int:
    """A valid lower bound of ``T_l`` in units: layer ``l`` relaxed on its own.

    Every receiver ``j`` holding ``n`` segments forces ``T_l >= g_j(n)`` with
    ``g_j`` nondecreasing: ``tc_j * n`` plus the least transfer ``j`` cannot
    avoid (partial sums: ``w_j * n`` with ``w_j`` the cheapest other sender
    when ``j`` cannot have computed all of ``l - 1``; maps: the cheapest
    incoming map once ``n`` exceeds what ``j`` can hold of ``l - 1``; FC: the
    cheapest feed from devices other than ``j``). Spreading ``P`` segments to
    minimise ``max_j g_j(n_j)`` gives the ``P``-th smallest of all ``g_j(n)``
    (``1 <= n <= ub(n_j)``), since each ``g_j`` is nondecreasing. The sum of
    these bounds is often the optimum itself (LeNet), which CP-SAT's linear
    relaxation alone does not see: it spreads segments fractionally.
    """
    l0 = layer.index - 1
    recv, n_cur = rv.receivers[l0], rv.n[l0]
    send, n_prev = rv.receivers[l0 - 1], rv.n[l0 - 1]
    ub_prev = {i: model.upper(n_prev[i]) for i in send}
    seg_prev = rv.cnn.layers[l0 - 1].segments
    unit = layer.feed_unit_bytes
    inf = math.inf

    def cheapest(size: int, j: int) -> float:
        costs = [tx for i in send if i != j and (tx := model.tx_units(size, i, j)) is not None]
        return float(min(costs)) if costs else inf

    values: list[float] = []
    for j in recv:
        ub_j = model.upper(n_cur[j])
        others_needed = ub_prev.get(j, 0) < seg_prev  # some device other than j computed part of l - 1
        ns = np.arange(1, ub_j + 1, dtype=np.float64)
        g = tc[j] * ns
        if layer.feed is Feed.PARTIAL_SUMS:
            if others_needed:
                g = g + cheapest(unit, j) * ns
        elif layer.feed is Feed.MAPS:
            g = g + np.where(ns > ub_prev.get(j, 0), cheapest(unit, j), 0.0)
        elif layer.feed is Feed.GATHER:
            if layer.prev_kind is LayerKind.CONV:
                if others_needed:
                    g = g + cheapest(layer.prev_out_maps * unit, j)
            else:
                # At least k maps of l - 1 sit on other devices; sender i ships unit * n_prev[i].
                k = seg_prev - ub_prev.get(j, 0)
                if k > 0:
                    sends = [
                        tx * m
                        for i in send
                        if i != j and (tx := model.tx_units(unit, i, j)) is not None
                        for m in range(1, ub_prev[i] + 1)
                    ]
                    g = g + (float(sorted(sends)[k - 1]) if len(sends) >= k else inf)
        elif others_needed:  # VECTOR
            g = g + cheapest(unit, j)
        values.extend(g.tolist())
    seg = layer.segments
    if len(values) < seg:
        return 0
    bound = sorted(values)[seg - 1]
    return int(bound) if math.isfinite(bound) else 0


def layer_upper_bound(model: Model, rv: RequestVars, layer: Layer, tc: dict[int, int]) -> int:
    """A safe upper bound of ``T_l`` in units (the worst pair at full load)."""
    l0 = layer.index - 1
    send = rv.receivers[l0 - 1]
    worst_spb = 0.0
    for i in send:
        row = model.spb[i, :]
        finite = row[np.isfinite(row)]
        worst_spb = max(worst_spb, float(finite.max()) if len(finite) else 0.0)
    max_n_prev = max((model.upper(rv.n[l0 - 1][i]) for i in send), default=1)
    traffic = layer.feed_unit_bytes * max(layer.segments, max_n_prev, layer.prev_out_maps)
    tx = ceil_units(traffic * worst_spb, model.unit)
    comp = max(tc[j] * model.upper(rv.n[l0][j]) for j in rv.receivers[l0])
    return tx + comp + 2 * (layer.segments + max_n_prev) + 1
