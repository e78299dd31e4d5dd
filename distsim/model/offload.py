"""Offloading to a server: the camera runs a CNN up to a cut layer, a server runs the rest (closed form).

Used by the ``edge_cloud`` mechanism (after Osia et al.): the camera (the
request's source) computes layers ``1 .. cut``, optionally projects the cut
layer's output onto ``dims`` principal components (a ``dims x n`` matrix times
the ``n``-vector of the output: ``dims * n`` multiplications), sends the result
over an uplink of ``uplink_bps`` bits per second, and a server computes
layers ``cut + 1 .. L`` (after the PCA reconstruction, ``n * dims``
multiplications); the answer comes back within the round-trip time. Latency::

    camera compute + PCA + bytes * 8 / uplink_bps + rtt_s + reconstruction + server compute

Per layer (the :class:`~distsim.model.cost.LayerCost` rows): layers up to the
cut are compute on the camera (the PCA projection is added to the cut
layer), layer ``cut + 1`` carries the upload plus the round trip as its
transfer and the server's compute (with the reconstruction), later layers the
server's compute. Every compute term is ``mults / mults_per_s`` of the device
that runs it, as in Eq. 7. With ``cut == L`` nothing is offloaded.

What the request holds (the ledger's reservations): the camera's and the
server's multiplications and weight bytes (the PCA matrix on both), and the
upload's bytes on the camera's bandwidth budget (it sends them). The camera's
radio transmits, and the server's receives, for the upload time only
(``tx_s``/``rx_s``, which the energy meter charges); the round trip is
waiting, not sending.

Units: seconds, bytes, multiplications, bits per second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from distsim.model.cnn import BYTES_PER_VALUE, CNN
from distsim.model.cost import PlacementCost

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class ServerModel:
    """An edge or cloud server (device kind ``server``) as a scenario declares it (``servers.<name>``).

    Attributes:
        name: its device id in the fleet.
        mults_per_s: compute speed, multiplications per second.
        uplink_bps: camera-to-server data rate, bits per second.
        rtt_s: round-trip time between a camera and the server, seconds.
        memory_bytes: weight memory it may hold at once, bytes (None: no limit).
    """

    name: str
    mults_per_s: float
    uplink_bps: float
    rtt_s: float
    memory_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class OffloadPlan:
    """Where one CNN's layers run under an offloading mechanism.

    Attributes:
        cut: the last layer the camera computes (1-based; ``L`` offloads nothing).
        dims: values the cut layer's output is reduced to by PCA before the upload; None sends it whole.
        uplink_bps: camera-to-server data rate, bits per second.
        rtt_s: round-trip time between camera and server, seconds (charged once per request).
    """

    cut: int
    dims: int | None
    uplink_bps: float
    rtt_s: float

    def sent_values(self, cnn: CNN) -> int:
        """Values uploaded per request: ``dims``, or the cut layer's whole output; 0 when nothing is offloaded."""
        if self.cut >= cnn.depth:
            return 0
        return self.dims if self.dims is not None else cnn.layer(self.cut).neurons

    def pca_mults(self, cnn: CNN) -> int:
        """Multiplications of the PCA projection (camera), equal to those of the reconstruction (server)."""
        if self.dims is None or self.cut >= cnn.depth:
            return 0
        return self.dims * cnn.layer(self.cut).neurons


def offload_assignments(cnn: CNN, plan: OffloadPlan, source: int, server: int) -> list[IntArray]:
    """Per layer, the device of every segment: the camera up to the cut, the server after it."""
    return [
        np.full(layer.segments, source if layer.index <= plan.cut else server, dtype=np.int64) for layer in cnn.layers
    ]


def offload_cost(
    cnn: CNN, plan: OffloadPlan, source: int, server: int, mults_per_s: npt.NDArray[np.float64], devices: int
) -> PlacementCost:
    """The closed-form cost of running ``cnn`` by ``plan`` (see the module docstring).

    ``mults_per_s`` is every device's speed (indexed by id, ``devices`` of them).
    """
    pca = plan.pca_mults(cnn)
    sent_bytes = plan.sent_values(cnn) * BYTES_PER_VALUE
    depth = cnn.depth
    compute = np.zeros(devices, dtype=np.int64)
    memory = np.zeros(devices, dtype=np.int64)
    segments = np.zeros(devices, dtype=np.int64)
    layer_latency = np.zeros(depth)
    layer_compute = np.zeros(depth)
    layer_transfer = np.zeros(depth)
    layer_bytes = np.zeros(depth, dtype=np.int64)
    upload_s = sent_bytes * 8.0 / plan.uplink_bps
    for k, layer in enumerate(cnn.layers):
        device = source if layer.index <= plan.cut else server
        mults = layer.total_mults
        if layer.index == plan.cut:
            mults += pca  # projection on the camera
        transfer_s = 0.0
        if layer.index == plan.cut + 1:
            mults += pca  # reconstruction on the server
            transfer_s = upload_s + plan.rtt_s
            layer_bytes[k] = sent_bytes
        compute_s = mults / float(mults_per_s[device])
        compute[device] += mults
        memory[device] += layer.total_weight_bytes
        segments[device] += layer.segments
        layer_latency[k], layer_compute[k], layer_transfer[k] = transfer_s + compute_s, compute_s, transfer_s
    if pca:
        # The PCA matrix (dims x n values) sits on both ends.
        memory[source] += pca * BYTES_PER_VALUE
        memory[server] += pca * BYTES_PER_VALUE
    bandwidth = np.zeros(devices, dtype=np.int64)
    received = np.zeros(devices, dtype=np.int64)
    tx_s = np.zeros(devices)
    rx_s = np.zeros(devices)
    if sent_bytes:
        bandwidth[source] = sent_bytes
        received[server] = sent_bytes
        # The radios are busy for the upload itself (the round trip is waiting, not sending).
        tx_s[source] = upload_s
        rx_s[server] = upload_s
    return PlacementCost(
        latency_s=sum(layer_latency.tolist()),
        layer_latency_s=layer_latency,
        layer_compute_s=layer_compute,
        layer_transfer_s=layer_transfer,
        layer_bytes=layer_bytes,
        compute_mults=compute,
        memory_bytes=memory,
        bandwidth_bytes=bandwidth,
        shared_bytes=sent_bytes,
        devices_used=int((segments > 0).sum()),
        segments=segments,
        received_bytes=received,
        tx_s=tx_s,
        rx_s=rx_s,
    )
