"""Cost of a placement: traffic (Eq. 6), compute time (Eq. 7), latency (Eq. 5).

A placement of one request is, per layer ``l``, an integer array mapping each
segment ``p`` to the device that computes it. From it this module derives the
bytes every device sends to every other one, the time of every layer and the
resources the request holds. Schedulers, the validator, the engine and the
tests all evaluate placements here, so there is one cost model.

Units: seconds, bytes, multiplications.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from distsim.model.cnn import CNN, Feed, Layer, LayerKind
from distsim.model.compiled import layer_segments, layer_table, load_kernel
from distsim.model.devices import Fleet, FullMesh, Links

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


def _sorted_pairs(senders: IntArray, receivers: IntArray, sizes: IntArray) -> Transfers:
    """Like :func:`_pairs` for pairs already unique and sorted by (sender, receiver): drop self-sends only."""
    keep = senders != receivers
    if keep.all():
        return Transfers(senders, receivers, sizes)
    return Transfers(senders[keep], receivers[keep], sizes[keep])


def layer_transfers(layer: Layer, prev: IntArray | None, cur: IntArray, n: int) -> Transfers:
    """Bytes each device sends each other device so that ``layer`` can run (Eq. 6).

    ``prev`` is the placement of layer ``l - 1`` (None for layer 1), ``cur`` that
    of ``l``; ``n`` is the number of devices.
    """
    if layer.feed is Feed.NONE or prev is None:
        return Transfers.empty()
    return _transfers(layer, prev, cur, n, np.bincount(prev, minlength=n), np.bincount(cur, minlength=n))


def _transfers(
    layer: Layer, prev: IntArray, cur: IntArray, n: int, prev_counts: IntArray, cur_counts: IntArray
) -> Transfers:
    """:func:`layer_transfers` given the segments per device of ``prev`` and ``cur`` (``bincount``s)."""
    unit = layer.feed_unit_bytes
    if layer.feed is Feed.NONE:
        return Transfers.empty()
    if layer.feed is Feed.PARTIAL_SUMS:
        # Every device that computed part of the conv layer sends its partial
        # sum of each map the receiver handles. Senders and receivers are
        # sorted and unique, so the pairs come out sorted and unique.
        senders = np.flatnonzero(prev_counts).astype(np.int64, copy=False)
        receivers = np.flatnonzero(cur_counts)
        s = np.repeat(senders, len(receivers))
        r = np.empty((len(senders), len(receivers)), dtype=np.int64)
        r[:] = receivers
        pair_sizes = np.empty((len(senders), len(receivers)), dtype=np.int64)
        pair_sizes[:] = cur_counts[receivers] * unit
        return _sorted_pairs(s, r.ravel(), pair_sizes.ravel())
    if layer.feed is Feed.MAPS:
        keep = prev != cur
        if not keep.any():
            return Transfers.empty()
        keys, per_pair = np.unique(prev[keep].astype(np.int64) * n + cur[keep], return_counts=True)
        return Transfers(keys // n, keys % n, per_pair.astype(np.int64) * unit)
    if layer.feed is Feed.VECTOR:
        return _pairs(prev[:1].astype(np.int64), cur[:1].astype(np.int64), np.array([unit], dtype=np.int64), n)
    # GATHER: the single FC segment needs the whole previous output.
    receiver = int(cur[0])
    senders = np.flatnonzero(prev_counts)
    if layer.prev_kind is LayerKind.CONV:
        sizes = np.full(len(senders), layer.prev_out_maps * unit, dtype=np.int64)
    else:
        sizes = prev_counts[senders] * unit
    senders = senders.astype(np.int64, copy=False)
    return _sorted_pairs(senders, np.full(len(senders), receiver, dtype=np.int64), sizes.astype(np.int64, copy=False))


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
        out[np.bincount(prev, minlength=n) > 0] = layer.prev_out_maps * layer.feed_unit_bytes
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

    Per-layer numbers are parallel arrays (one entry per layer, in layer
    order); :attr:`layers` gives them as :class:`LayerCost` rows.

    Attributes:
        latency_s: Eq. 5 latency of the request, seconds.
        layer_latency_s: each layer's Eq. 5 term, s (:attr:`LayerCost.latency_s`).
        layer_compute_s: compute part of each layer's critical pair, s.
        layer_transfer_s: transfer part of each layer's critical pair, s.
        layer_bytes: bytes moved between distinct devices into each layer.
        compute_mults: multiplications reserved per device.
        memory_bytes: weight memory reserved per device.
        bandwidth_bytes: bytes each device sends (bandwidth reserved).
        shared_bytes: bytes exchanged between distinct devices.
        devices_used: number of distinct devices computing at least one segment.
        segments: segments each device computes, all layers together.
        received_bytes: bytes each device receives from other devices.
        tx_s: per device, the transfer times (Eq. 6: bytes x the links' seconds per byte of the
            pair) of the transfers it sends, s, summed layer by layer in (sender, receiver) order.
        rx_s: per device, the same transfer times of the transfers it receives, s. On a full
            mesh every transfer is one hop, so these are its radio's busy times; over a
            topology a transfer's time is its route's.
    """

    latency_s: float
    layer_latency_s: FloatArray
    layer_compute_s: FloatArray
    layer_transfer_s: FloatArray
    layer_bytes: IntArray
    compute_mults: IntArray
    memory_bytes: IntArray
    bandwidth_bytes: IntArray
    shared_bytes: int
    devices_used: int
    segments: IntArray
    received_bytes: IntArray
    tx_s: FloatArray
    rx_s: FloatArray

    @property
    def layers(self) -> tuple[LayerCost, ...]:
        """Per-layer timing as rows (built on each access from the per-layer arrays)."""
        return tuple(
            map(
                LayerCost,
                self.layer_latency_s.tolist(),
                self.layer_compute_s.tolist(),
                self.layer_transfer_s.tolist(),
                self.layer_bytes.tolist(),
            )
        )


def evaluate(
    cnn: CNN,
    assignments: Sequence[IntArray],
    fleet: Fleet,
    links: Links,
) -> PlacementCost:
    """Cost of computing ``cnn`` with ``assignments[l-1][p]`` = device of segment ``p`` of layer ``l``.

    On a full mesh the compiled twin (:mod:`distsim.model.cost_kernel`) computes
    the same numbers when the numba path is in force (:mod:`distsim.model.compiled`);
    this function is its specification.
    """
    n = fleet.size
    layers = cnn.layers
    if len(assignments) != len(layers):
        raise ValueError(f"{cnn.name}: {len(assignments)} layer assignments for {len(layers)} layers")
    # Segments per (layer, device) in one bincount; compute and memory are exact integer products.
    flat = np.concatenate([np.asarray(a) for a in assignments]) if layers else np.zeros(0, dtype=np.int64)
    if len(flat) and (int(flat.min()) < 0 or int(flat.max()) >= n):
        raise ValueError(f"{cnn.name}: device ids must lie in 0..{n - 1}")
    lengths = [len(a) for a in assignments]
    if layers and isinstance(links, FullMesh) and lengths == layer_segments(cnn):
        kernel = load_kernel("distsim.model.cost_kernel", "evaluate_mesh", len(flat))
        if kernel is not None:
            return _evaluated(cnn, kernel, flat, fleet, links)
    return _evaluate_python(cnn, assignments, flat, lengths, fleet, links)


def evaluate_flat(cnn: CNN, flat: IntArray, fleet: Fleet, links: Links) -> PlacementCost:
    """:func:`evaluate` of a flat assignment: layer ``l``'s segments at ``layer_table(cnn)[1][l-1:l+1]``.

    For schedulers that build the flat array themselves (the compiled
    DistPrivacy decision): it skips the per-layer arrays on a full mesh. Every
    id must lie in ``0 .. fleet.size - 1`` and ``len(flat)`` must be the CNN's
    segment count (checked).
    """
    _, offsets = layer_table(cnn)
    if len(flat) != int(offsets[-1]):
        raise ValueError(f"{cnn.name}: {len(flat)} segment devices for {int(offsets[-1])} segments")
    if len(flat) and (int(flat.min()) < 0 or int(flat.max()) >= fleet.size):
        raise ValueError(f"{cnn.name}: device ids must lie in 0..{fleet.size - 1}")
    if cnn.layers and isinstance(links, FullMesh):
        kernel = load_kernel("distsim.model.cost_kernel", "evaluate_mesh", len(flat))
        if kernel is not None:
            return _evaluated(cnn, kernel, flat, fleet, links)
    bounds = offsets.tolist()
    assignments = [flat[a:b] for a, b in itertools.pairwise(bounds)]
    return _evaluate_python(cnn, assignments, flat, layer_segments(cnn), fleet, links)


def _evaluate_python(
    cnn: CNN, assignments: Sequence[IntArray], flat: IntArray, lengths: list[int], fleet: Fleet, links: Links
) -> PlacementCost:
    """:func:`evaluate` on the Python path, given the assignments concatenated (``flat``) and their lengths."""
    n = fleet.size
    layers = cnn.layers
    layer_of = np.repeat(np.arange(len(layers), dtype=np.int64), lengths)
    counts = np.bincount(layer_of * n + flat, minlength=len(layers) * n).reshape(len(layers), n)
    mults = np.array([layer.segment_mults for layer in layers], dtype=np.int64)
    weights = np.array([layer.segment_weight_bytes for layer in layers], dtype=np.int64)
    segments = counts.sum(axis=0)
    # Only the devices computing some segment need columns: the others reserve
    # nothing and their compute time, 0, never exceeds a used device's (>= 0).
    used = np.flatnonzero(segments)
    sub = counts[:, used]
    compute = np.zeros(n, dtype=np.int64)
    compute[used] = mults @ sub
    memory = np.zeros(n, dtype=np.int64)
    memory[used] = weights @ sub
    t_compute = (sub * mults[:, None]) / fleet.mults_per_s[used]
    compute_max = t_compute.max(axis=1) if len(used) else np.zeros(len(layers))
    column = np.zeros(n, dtype=np.int64)
    column[used] = np.arange(len(used))
    flows_all: list[Transfers] = []
    flow_layers: list[int] = []
    prev: IntArray | None = None
    for index, (layer, cur) in enumerate(zip(layers, assignments, strict=True)):
        # The segments per device of every layer are the rows of ``counts``.
        flows = Transfers.empty() if prev is None else _transfers(layer, prev, cur, n, counts[index - 1], counts[index])
        if len(flows.senders):
            flows_all.append(flows)
            flow_layers.append(index)
        prev = cur
    # Per layer: latency = max(max compute time, max over its pairs of transfer + receiver's
    # compute), the critical pair being the first maximum in (sender, receiver) order and a tie
    # with compute going to the pair. All layers' pairs are costed in one pass of elementwise
    # operations (the same floats a per-layer pass gives); the maxima and first arg-maxima come
    # per layer from reduceat.
    latency_l = compute_max.tolist()
    compute_l = list(latency_l)
    transfer_l = [0.0] * len(layers)
    moved_l = [0] * len(layers)
    bandwidth = np.zeros(n, dtype=np.int64)
    received = np.zeros(n, dtype=np.int64)
    tx_s = np.zeros(n)
    rx_s = np.zeros(n)
    if flows_all:
        lengths = [len(f.senders) for f in flows_all]
        starts = np.zeros(len(lengths), dtype=np.int64)
        np.cumsum(lengths[:-1], out=starts[1:])
        senders = np.concatenate([f.senders for f in flows_all])
        receivers = np.concatenate([f.receivers for f in flows_all])
        sizes = np.concatenate([f.bytes for f in flows_all])
        rows = np.repeat(np.array(flow_layers, dtype=np.int64), lengths)
        tx = sizes * links.pairs(senders, receivers)
        receiver_t = t_compute[rows, column[receivers]]
        totals = tx + receiver_t
        best = np.maximum.reduceat(totals, starts)
        # First index of each layer's maximum (NaN maxima never win the comparison below, as in a per-layer argmax).
        order = np.arange(len(totals))
        first = np.minimum.reduceat(np.where(totals == np.repeat(best, lengths), order, len(totals)), starts)
        wins = np.flatnonzero(best >= compute_max[flow_layers])
        critical = first[wins]
        for k, lat, tr, cp in zip(
            wins.tolist(), best[wins].tolist(), tx[critical].tolist(), receiver_t[critical].tolist(), strict=True
        ):
            index = flow_layers[k]
            latency_l[index], transfer_l[index], compute_l[index] = lat, tr, cp
        for index, moved in zip(flow_layers, np.add.reduceat(sizes, starts).tolist(), strict=True):
            moved_l[index] = moved
        np.add.at(bandwidth, senders, sizes)
        np.add.at(received, receivers, sizes)
        # One add per transfer in (layer, sender, receiver) order: the floats energy accounting sums.
        np.add.at(tx_s, senders, tx)
        np.add.at(rx_s, receivers, tx)
    # Summed layer by layer, in layer order (the floating-point order Eq. 5 is defined with here).
    total_latency = 0.0
    for latency in latency_l:
        total_latency += latency
    shared = sum(moved_l)
    return PlacementCost(
        latency_s=total_latency,
        layer_latency_s=np.array(latency_l, dtype=np.float64),
        layer_compute_s=np.array(compute_l, dtype=np.float64),
        layer_transfer_s=np.array(transfer_l, dtype=np.float64),
        layer_bytes=np.array(moved_l, dtype=np.int64),
        compute_mults=compute,
        memory_bytes=memory,
        bandwidth_bytes=bandwidth,
        shared_bytes=shared,
        devices_used=int((segments > 0).sum()),
        segments=segments,
        received_bytes=received,
        tx_s=tx_s,
        rx_s=rx_s,
    )


def _evaluated(cnn: CNN, kernel: Callable[..., Any], flat: IntArray, fleet: Fleet, links: FullMesh) -> PlacementCost:
    """:func:`evaluate` by the compiled kernel (:mod:`distsim.model.cost_kernel`): the same numbers."""
    table, offsets = layer_table(cnn)
    (latency, lat, comp_l, tran_l, moved, compute, memory, bandwidth, received, segments, tx_s, rx_s, shared, used) = (
        kernel(table, offsets, flat.astype(np.int64, copy=False), fleet.size, links.sec_per_byte, fleet.mults_per_s)
    )
    return PlacementCost(
        latency_s=latency,
        layer_latency_s=lat,
        layer_compute_s=comp_l,
        layer_transfer_s=tran_l,
        layer_bytes=moved,
        compute_mults=compute,
        memory_bytes=memory,
        bandwidth_bytes=bandwidth,
        shared_bytes=shared,
        devices_used=used,
        segments=segments,
        received_bytes=received,
        tx_s=tx_s,
        rx_s=rx_s,
    )
