"""Per-layer bounds of ``T_l`` that tighten the model without changing its optimum.

Both take the model (for its time units and links), the request's variables
and the layer's compute units per receiver; swapping them for kernel-based
bounds only needs the same signature.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

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

        def kth_send(k: int, j: int = j) -> float:
            # Sender i ships unit * n_prev[i]: the k-th smallest such time over the others.
            sends = sorted(
                tx * m
                for i in send
                if i != j and (tx := model.tx_units(unit, i, j)) is not None
                for m in range(1, ub_prev[i] + 1)
            )
            return float(sends[k - 1]) if len(sends) >= k else inf

        g = receiver_bound(
            layer,
            tc[j],
            model.upper(n_cur[j]),
            ub_prev.get(j, 0),
            seg_prev,
            partial(cheapest, j=j),
            kth_send,
        )
        values.extend(g.tolist())
    seg = layer.segments
    if len(values) < seg:
        return 0
    bound = sorted(values)[seg - 1]
    return int(bound) if math.isfinite(bound) else 0


def receiver_bound(
    layer: Layer,
    tc: int,
    ub: int,
    own_prev: int,
    seg_prev: int,
    cheapest: Callable[[int], float],
    kth_send: Callable[[int], float],
) -> npt.NDArray[np.float64]:
    """``g(n)`` for ``n = 1 .. ub``: the least ``T_l`` a receiver holding ``n`` segments forces, units.

    ``tc``: its units per segment; ``own_prev``: the most segments of ``l - 1`` it can
    hold; ``cheapest(bytes)``: the cheapest transfer of that many bytes to it from another
    device; ``kth_send(k)``: the ``k``-th smallest time another device needs to send it
    its maps of ``l - 1`` (FC gather from a non-conv layer). See :func:`layer_lower_bound`.
    """
    unit = layer.feed_unit_bytes
    others_needed = own_prev < seg_prev  # some device other than this one computed part of l - 1
    ns = np.arange(1, ub + 1, dtype=np.float64)
    g = tc * ns
    if layer.feed is Feed.PARTIAL_SUMS:
        if others_needed:
            g = g + cheapest(unit) * ns
    elif layer.feed is Feed.MAPS:
        g = g + np.where(ns > own_prev, cheapest(unit), 0.0)
    elif layer.feed is Feed.GATHER:
        if layer.prev_kind is LayerKind.CONV:
            if others_needed:
                g = g + cheapest(layer.prev_out_maps * unit)
        elif seg_prev > own_prev:
            # At least seg_prev - own_prev maps of l - 1 sit on other devices.
            g = g + kth_send(seg_prev - own_prev)
    elif others_needed:  # VECTOR
        g = g + cheapest(unit)
    return g


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
