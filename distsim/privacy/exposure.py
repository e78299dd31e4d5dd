"""Exposure: the SSIM an attacker reaches from the feature maps untrusted devices received.

For every layer ``l`` of a placement and every untrusted device (participants;
never the request's own camera), ``counts[l-1][j]`` is how many input maps of
layer ``l`` device ``j`` received (one per segment it computes; a first FC layer
receives the whole previous output). The maps of layer ``l``'s input are
governed by the SSIM table row the limits use (the deepest measured layer at or
before ``l - 1``). A device's SSIM at ``n`` maps is read from that row:

* counts between measured ones round **up** to the next measured count, and
  an attacker holding ``n`` maps can use any subset of them, so the value is
  the largest SSIM measured at any count up to that one (the row's running
  maximum; on Table I, which rises with the count, this is the value at the
  rounded count);
* beyond the largest measured count, the row's largest value (its full-map
  entry when the full map count is measured) and the value is marked
  **extrapolated**.

With ``c`` colluders, a coalition pools its maps of a layer (distinct maps
add up, at most the layer's input maps); the worst coalition of ``c`` devices
for a layer is the ``c`` devices holding the most of its maps (the SSIM is
non-decreasing in the count), and the request's exposure is the worst layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from distsim.model.cnn import CNN, Feed, LayerKind
from distsim.model.privacy import PrivacyLimits, SsimRow, SsimTable

IntArray = npt.NDArray[np.int64]
#: Per layer (index ``l - 1``), maps of its input each untrusted device received (length ``D``): a
#: sequence of rows, or one 2-D array with a row per layer (what :func:`received_maps` returns).
LayerCounts = Sequence[IntArray] | IntArray


@dataclass(frozen=True, slots=True)
class Exposure:
    """What one served request exposed.

    Attributes:
        ssim: worst SSIM a coalition of ``colluders`` untrusted devices reaches (0 when none saw a map).
        layer: name of the layer whose input maps give it ('' when none).
        maps: maps the worst coalition pooled at that layer.
        extrapolated: True when that value, or the limit of a layer some device
            received maps of, is not backed by a measurement.
    """

    ssim: float
    layer: str
    maps: int
    extrapolated: bool

    @staticmethod
    def nothing() -> Exposure:
        """No untrusted device saw anything."""
        return Exposure(0.0, "", 0, False)


def row_ssim(row: SsimRow, count: int) -> tuple[float, bool]:
    """SSIM an attacker reaches holding ``count`` maps governed by ``row``, and whether it is extrapolated."""
    if count <= 0:
        return 0.0, False
    best = 0.0
    for n, s in zip(row.counts, row.ssim, strict=True):
        best = max(best, s)
        if n >= count:
            return best, False
    return best, True


#: id(row) -> (row, row_ssim at 0 .. the largest measured count, row_ssim beyond it), filled on first use.
_ROW_VALUES: dict[int, tuple[SsimRow, list[tuple[float, bool]], tuple[float, bool]]] = {}


def _row_values(row: SsimRow) -> tuple[list[tuple[float, bool]], tuple[float, bool]]:
    """:func:`row_ssim` of ``row`` at every count up to its largest measured one, and beyond it (cached).

    Beyond the largest measured count ``row_ssim`` never returns early, so
    one value stands for every larger count.
    """
    hit = _ROW_VALUES.get(id(row))
    if hit is None or hit[0] is not row:
        largest = max(row.counts, default=0)
        # The row is kept alive by the cache, so its id is never reused for another one.
        hit = _ROW_VALUES[id(row)] = (row, [row_ssim(row, n) for n in range(largest + 1)], row_ssim(row, largest + 1))
    return hit[1], hit[2]


def received_maps(cnn: CNN, assignments: Sequence[IntArray], participants: int) -> IntArray:
    """Per layer (row ``l - 1``), input maps each participant received from ``assignments`` (the untrusted devices)."""
    layers = cnn.layers
    if not layers:
        return np.zeros((0, participants), dtype=np.int64)
    # One bincount over every (layer, participant) pair; its rows are the per-layer counts.
    flat = np.concatenate([np.asarray(a) for a in assignments])
    layer_of = np.repeat(np.arange(len(layers), dtype=np.int64), [len(a) for a in assignments])
    untrusted = flat < participants
    held = (
        np.bincount(layer_of[untrusted] * participants + flat[untrusted], minlength=len(layers) * participants)
        .astype(np.int64, copy=False)
        .reshape(len(layers), participants)
    )
    for index, layer in enumerate(layers):
        if layer.feed is Feed.GATHER and layer.prev_kind is not LayerKind.FC:
            # The single segment of a first FC layer receives the whole previous output.
            held[index] *= layer.prev_out_maps
    return held


def _pooled(counts: LayerCounts, colluders: int) -> tuple[list[int], list[int]]:
    """Per layer, the most maps one device holds and the maps the ``colluders`` top holders pool (integers)."""
    if isinstance(counts, np.ndarray) and counts.ndim == 2:
        matrix = counts
    else:
        widths = {len(held) for held in counts}
        if len(widths) != 1:  # ragged rows (or none): one layer at a time
            most = [int(held.max(initial=0)) for held in counts]
            return most, [int(np.sort(held)[::-1][:colluders].sum()) for held in counts]
        matrix = np.stack(list(counts))
    width = matrix.shape[1]
    if width == 0:
        return [0] * len(matrix), [0] * len(matrix)
    most = matrix.max(axis=1)
    if colluders == 1:
        pooled = most
    elif colluders >= width:
        pooled = matrix.sum(axis=1)
    else:  # the sum of the top ``colluders`` of each row, whatever their order
        pooled = np.partition(matrix, width - colluders, axis=1)[:, width - colluders :].sum(axis=1)
    return most.tolist(), pooled.tolist()


def exposure_of(cnn: CNN, limits: PrivacyLimits, table: SsimTable, counts: LayerCounts, colluders: int = 1) -> Exposure:
    """The worst coalition of ``colluders`` devices over every layer (see the module docstring).

    Ties between layers go to the earliest layer.
    """
    rows = {row.layer: row for row in table.for_cnn(cnn.name)}
    worst = Exposure.nothing()
    flagged = False
    most, pooled_maps = _pooled(counts, colluders)
    for layer, limit, top, pooled in zip(cnn.layers, limits.layers, most, pooled_maps, strict=True):
        if top == 0:
            continue
        row = rows.get(limit.governing_layer)
        if row is None:
            continue
        flagged = flagged or limit.extrapolated
        # row_ssim(row, pooled), read from its cached values (a layer's segments are distinct maps).
        values, beyond = _row_values(row)
        ssim, extrapolated = values[pooled] if pooled < len(values) else beyond
        if ssim > worst.ssim:
            worst = Exposure(ssim, layer.name, pooled, extrapolated or limit.extrapolated)
    return Exposure(worst.ssim, worst.layer, worst.maps, worst.extrapolated or flagged)


def relayed_maps(
    cnn: CNN, assignments: Sequence[IntArray], links: object, participants: int, devices: int
) -> list[dict[int, int]]:
    """Per layer, input maps each participant *forwarded* without computing them: ``{device: maps}``.

    Over a topology (links with ``route``) a transfer from ``i`` to ``j`` crosses
    the devices between them on its route; each sees the maps it carries: one
    per segment for a map or partial-sum feed (a partial sum of map ``p`` is
    counted as map ``p``: several of them, or the last, rebuild it), the
    whole previous output for a first FC layer, the vector between FC layers.
    Only participants count (cameras are the operator's own). Empty on a full
    mesh.
    """
    from distsim.model.cost import layer_transfers

    route = getattr(links, "route", None)
    out: list[dict[int, int]] = [{} for _ in cnn.layers]
    if route is None:
        return out
    prev: IntArray | None = None
    for index, (layer, cur) in enumerate(zip(cnn.layers, assignments, strict=True)):
        if prev is not None:
            flows = layer_transfers(layer, prev, cur, devices)
            seen: dict[int, set[int]] = {}
            whole: dict[int, int] = {}
            for i, j in zip(flows.senders.tolist(), flows.receivers.tolist(), strict=True):
                path = route(i, j)
                hops = [r for r in (path[1:-1] if path else ()) if r < participants]
                if not hops:
                    continue
                if layer.feed is Feed.GATHER and layer.prev_kind is not LayerKind.FC:
                    for r in hops:
                        whole[r] = layer.prev_out_maps
                    continue
                if layer.feed is Feed.MAPS:
                    maps = np.flatnonzero((prev == i) & (cur == j)).tolist()
                else:
                    maps = np.flatnonzero(cur == j).tolist()
                for r in hops:
                    seen.setdefault(r, set()).update(maps)
            counts = {r: len(p) for r, p in seen.items()}
            for r, k in whole.items():
                counts[r] = max(counts.get(r, 0), k)
            out[index] = counts
        prev = cur
    return out
