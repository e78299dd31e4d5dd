"""Cost of a placement: traffic (Eq. 6), compute time (Eq. 7), latency (Eq. 5).

A placement of one request is, per layer ``l``, an integer array mapping each
segment ``p`` to the device that computes it. From it this module derives the
bytes every device sends to every other one, the time of every layer and the
resources the request holds. Schedulers, the validator, the engine and the
tests all evaluate placements here, so there is one cost model.

Units: seconds, bytes, multiplications.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from distsim.model.cnn import CNN, Feed, Layer, LayerKind
from distsim.model.devices import Fleet, Links

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Transfers:
    """Traffic into one layer: parallel arrays, one entry per (sender, receiver) pair.

    Only pairs with ``sender != receiver`` and a positive byte count appear;
    pairs are sorted by (sender, receiver).
    """

    senders: IntArray
    receivers: IntArray
    bytes: IntArray

    @staticmethod
    def empty() -> Transfers:
        """No traffic."""
        none = np.zeros(0, dtype=np.int64)
        return Transfers(none, none, none)


def _pairs(senders: IntArray, receivers: IntArray, sizes: IntArray, n: int) -> Transfers:
    """Aggregate (sender, receiver, bytes) triples per pair, dropping self-sends."""
    keep = senders != receivers
    senders, receivers, sizes = senders[keep], receivers[keep], sizes[keep]
    if len(senders) == 0:
        return Transfers.empty()
    keys = senders.astype(np.int64) * n + receivers
    unique, inverse = np.unique(keys, return_inverse=True)
    totals = np.bincount(inverse, weights=sizes.astype(np.float64)).astype(np.int64)
    # Exact integer totals: weights are integers far below 2**53.
    return Transfers(unique // n, unique % n, totals)


def layer_transfers(layer: Layer, prev: IntArray | None, cur: IntArray, n: int) -> Transfers:
    """Bytes each device sends each other device so that ``layer`` can run (Eq. 6).

    ``prev`` is the placement of layer ``l - 1`` (None for layer 1), ``cur`` that
    of ``l``; ``n`` is the number of devices.
    """
    unit = layer.feed_unit_bytes
    if layer.feed is Feed.NONE or prev is None:
        return Transfers.empty()
    if layer.feed is Feed.PARTIAL_SUMS:
        # Every device that computed part of the conv layer sends its partial
        # sum of each map the receiver handles.
        senders = np.unique(prev)
        counts = np.bincount(cur, minlength=n)
        receivers = np.flatnonzero(counts)
        s = np.repeat(senders, len(receivers))
        r = np.tile(receivers, len(senders))
        return _pairs(s, r, counts[r] * unit, n)
    if layer.feed is Feed.MAPS:
        return _pairs(prev.astype(np.int64), cur.astype(np.int64), np.full(len(cur), unit, dtype=np.int64), n)
    if layer.feed is Feed.VECTOR:
        return _pairs(prev[:1].astype(np.int64), cur[:1].astype(np.int64), np.array([unit], dtype=np.int64), n)
    # GATHER: the single FC segment needs the whole previous output.
    receiver = int(cur[0])
    if layer.prev_kind is LayerKind.CONV:
        senders = np.unique(prev)
        sizes = np.full(len(senders), layer.prev_out_maps * unit, dtype=np.int64)
    else:
        counts = np.bincount(prev, minlength=n)
        senders = np.flatnonzero(counts)
        sizes = counts[senders] * unit
    return _pairs(senders.astype(np.int64), np.full(len(senders), receiver, dtype=np.int64), sizes, n)


def segment_feed_bytes(layer: Layer) -> int:
    """Bytes one sender ships for one segment of ``layer`` (``O^{l-1,p}_{i,j}``).

    For ``PARTIAL_SUMS`` every sender ships this; for ``MAPS`` only the holder of
    the map; for ``GATHER`` see :func:`gather_bytes`.
    """
    return layer.feed_unit_bytes


def gather_bytes(layer: Layer, prev: IntArray, n: int) -> IntArray:
    """Bytes each device sends to the single segment of a ``GATHER`` layer."""
    if layer.prev_kind is LayerKind.CONV:
        out = np.zeros(n, dtype=np.int64)
        out[np.unique(prev)] = layer.prev_out_maps * layer.feed_unit_bytes
        return out
    return np.bincount(prev, minlength=n).astype(np.int64) * layer.feed_unit_bytes


@dataclass(frozen=True, slots=True)
class LayerCost:
    """Timing of one layer under the analytic model (Eq. 5 term).

    Attributes:
        latency_s: ``max_{i,j} (O_{i,j}^{l-1} / rho_i + t_c^{l,j})``.
        compute_s: compute part of the critical (sender, receiver) pair, s.
        transfer_s: transfer part of the critical pair, s
            (``latency_s == compute_s + transfer_s`` up to rounding).
        bytes: bytes moved between distinct devices into this layer.
    """

    latency_s: float
    compute_s: float
    transfer_s: float
    bytes: int


@dataclass(frozen=True, slots=True)
class PlacementCost:
    """What a placement costs and holds.

    Attributes:
        latency_s: Eq. 5 latency of the request, seconds.
        layers: per-layer timing.
        compute_mults: multiplications reserved per device.
        memory_bytes: weight memory reserved per device.
        bandwidth_bytes: bytes each device sends (bandwidth reserved).
        maps_per_layer: for each layer, segments per device (``bincount``).
        shared_bytes: bytes exchanged between distinct devices.
        devices_used: number of distinct devices computing at least one segment.
    """

    latency_s: float
    layers: tuple[LayerCost, ...]
    compute_mults: IntArray
    memory_bytes: IntArray
    bandwidth_bytes: IntArray
    shared_bytes: int
    devices_used: int


def evaluate(
    cnn: CNN,
    assignments: Sequence[IntArray],
    fleet: Fleet,
    links: Links,
) -> PlacementCost:
    """Cost of computing ``cnn`` with ``assignments[l-1][p]`` = device of segment ``p`` of layer ``l``."""
    n = fleet.size
    compute = np.zeros(n, dtype=np.int64)
    memory = np.zeros(n, dtype=np.int64)
    bandwidth = np.zeros(n, dtype=np.int64)
    used = np.zeros(n, dtype=bool)
    layer_costs = []
    total_latency = 0.0
    shared = 0
    prev: IntArray | None = None
    for layer, cur in zip(cnn.layers, assignments, strict=True):
        counts = np.bincount(cur, minlength=n)
        compute += counts * layer.segment_mults
        memory += counts * layer.segment_weight_bytes
        used |= counts > 0
        t_compute = (counts * layer.segment_mults) / fleet.mults_per_s
        flows = layer_transfers(layer, prev, cur, n)
        compute_part = float(t_compute.max())
        transfer_part = 0.0
        latency = compute_part
        if len(flows.senders):
            np.add.at(bandwidth, flows.senders, flows.bytes)
            tx = flows.bytes * links.pairs(flows.senders, flows.receivers)
            totals = tx + t_compute[flows.receivers]
            critical = int(np.argmax(totals))
            if totals[critical] >= latency:
                latency = float(totals[critical])
                transfer_part = float(tx[critical])
                compute_part = float(t_compute[flows.receivers[critical]])
        moved = int(flows.bytes.sum())
        shared += moved
        total_latency += latency
        layer_costs.append(LayerCost(latency, compute_part, transfer_part, moved))
        prev = cur
    return PlacementCost(
        latency_s=total_latency,
        layers=tuple(layer_costs),
        compute_mults=compute,
        memory_bytes=memory,
        bandwidth_bytes=bandwidth,
        shared_bytes=shared,
        devices_used=int(used.sum()),
    )
