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
#: Per layer (index ``l - 1``), maps of its input each untrusted device received (length ``D``).
LayerCounts = Sequence[IntArray]


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


def received_maps(cnn: CNN, assignments: Sequence[IntArray], participants: int) -> list[IntArray]:
    """Per layer, input maps each participant received from ``assignments`` (the untrusted devices)."""
    out: list[IntArray] = []
    for layer, array in zip(cnn.layers, assignments, strict=True):
        held = np.bincount(array[array < participants], minlength=participants).astype(np.int64)
        if layer.feed is Feed.GATHER and layer.prev_kind is not LayerKind.FC:
            # The single segment of a first FC layer receives the whole previous output.
            held = held * layer.prev_out_maps
        out.append(held)
    return out


def exposure_of(cnn: CNN, limits: PrivacyLimits, table: SsimTable, counts: LayerCounts, colluders: int = 1) -> Exposure:
    """The worst coalition of ``colluders`` devices over every layer (see the module docstring).

    Ties between layers go to the earliest layer.
    """
    rows = {row.layer: row for row in table.for_cnn(cnn.name)}
    worst = Exposure.nothing()
    flagged = False
    for layer, limit, held in zip(cnn.layers, limits.layers, counts, strict=True):
        if not len(held) or int(held.max(initial=0)) == 0:
            continue
        row = rows.get(limit.governing_layer)
        if row is None:
            continue
        flagged = flagged or limit.extrapolated
        top = np.sort(held)[::-1][:colluders]
        pooled = int(top.sum())  # a layer's segments are distinct maps
        ssim, extrapolated = row_ssim(row, pooled)
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
