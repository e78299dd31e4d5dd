"""Devices, fleets and links (SPEC section 1).

A :class:`Fleet` is the static description of every device of a run, as
parallel numpy arrays indexed by device id. Participants come first (ids
``0 .. D-1``), then sources (ids ``D .. D+S-1``): ties between participants
break by lowest id, and sources never compete for segments.

Units: ``mults_per_s`` multiplications per second, ``*_bytes`` bytes,
``rate_bps`` bits per second (1 Mb = 1e6 bits), ``*_s`` seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Radio:
    """A radio technology: name and data rate ``rho`` in bits per second."""

    name: str
    rate_bps: float
    description: str = ""


@dataclass(frozen=True, slots=True)
class DeviceType:
    """A device model with its budgets.

    Attributes:
        name: catalogue key, e.g. ``rpi3``.
        mults_per_s: compute speed ``e`` (multiplications per second).
        memory_bytes: memory budget ``m`` (bytes).
        radio: the radio it carries.
        compute_budget_mults: compute budget ``c`` (multiplications it may have
            reserved at once).
        bandwidth_budget_bytes: bandwidth budget ``b`` (bytes it may have
            reserved for sending at once).
    """

    name: str
    mults_per_s: float
    memory_bytes: int
    radio: Radio
    compute_budget_mults: int
    bandwidth_budget_bytes: int
    description: str = ""


@dataclass(frozen=True, slots=True)
class Fleet:
    """Every device of a run as parallel arrays indexed by device id.

    Attributes:
        names: device ids as text (``p0`` .., ``s0`` ..).
        types: device type name of each device.
        participants: ``D``; ids ``< D`` are participants, the rest sources.
        mults_per_s: ``e`` per device (float, multiplications / s).
        rate_bps: ``rho`` per device (float, bits / s).
        compute_budget_mults, memory_bytes, bandwidth_budget_bytes: full budgets.
        source_cnn: CNN name of each source (index ``i - D``).
        servers: how many of the last ids are servers (device kind ``server``, after the sources;
            only a mechanism that offloads, ``edge_cloud``, adds one).
    """

    names: tuple[str, ...]
    types: tuple[str, ...]
    radios: tuple[str, ...]
    participants: int
    mults_per_s: FloatArray
    rate_bps: FloatArray
    compute_budget_mults: IntArray
    memory_bytes: IntArray
    bandwidth_budget_bytes: IntArray
    source_cnn: tuple[str, ...]
    servers: int = 0

    @property
    def size(self) -> int:
        """Number of devices, participants and sources."""
        return len(self.names)

    @property
    def sources(self) -> range:
        """Device ids of the sources."""
        return range(self.participants, self.size - self.servers)

    @property
    def sec_per_byte(self) -> FloatArray:
        """Seconds to send one byte from each device on a direct link (8 / rho)."""
        return 8.0 / self.rate_bps


def build_fleet(
    participant_types: list[DeviceType],
    source_types: list[DeviceType],
    source_cnns: list[str],
    servers: list[tuple[str, DeviceType]] | None = None,
) -> Fleet:
    """Assemble a :class:`Fleet`: participants in the given order, then sources, then ``servers`` (name, type)."""
    servers = servers or []
    everyone = participant_types + source_types + [kind for _, kind in servers]
    d = len(participant_types)
    names = tuple(
        [f"p{i}" for i in range(d)] + [f"s{i}" for i in range(len(source_types))] + [name for name, _ in servers]
    )
    return Fleet(
        names=names,
        types=tuple(t.name for t in everyone),
        radios=tuple(t.radio.name for t in everyone),
        participants=d,
        mults_per_s=np.array([t.mults_per_s for t in everyone], dtype=np.float64),
        rate_bps=np.array([t.radio.rate_bps for t in everyone], dtype=np.float64),
        compute_budget_mults=np.array([t.compute_budget_mults for t in everyone], dtype=np.int64),
        memory_bytes=np.array([t.memory_bytes for t in everyone], dtype=np.int64),
        bandwidth_budget_bytes=np.array([t.bandwidth_budget_bytes for t in everyone], dtype=np.int64),
        source_cnn=tuple(source_cnns),
        servers=len(servers),
    )


class Links(Protocol):
    """Transfer cost between devices: seconds per byte from ``i`` to ``j``.

    ``sec_per_byte(i, j)`` is 0 when ``i == j`` and ``inf`` when ``j`` is
    unreachable from ``i``. Implementations are vectorised over receivers.
    """

    def to_all(self, sender: int) -> FloatArray:
        """Seconds per byte from ``sender`` to every device (0 to itself)."""
        ...

    def pair(self, sender: int, receiver: int) -> float:
        """Seconds per byte from ``sender`` to ``receiver``."""
        ...

    def pairs(self, senders: IntArray, receivers: IntArray) -> FloatArray:
        """Seconds per byte for each (sender, receiver) pair of two parallel arrays."""
        ...

    def max_weighted(self, senders: IntArray, weights: IntArray) -> FloatArray:
        """For every receiver ``j``: ``max_{i in senders, i != j} weights_i * sec_per_byte(i, j)`` (0 if none)."""
        ...


class RowLinks:
    """The ``Links`` protocol over cached per-sender rows of seconds per byte.

    A subclass gives ``_n`` (devices) and ``_row(sender)`` (a read-only row of
    ``_n`` seconds per byte, ``inf`` where unreachable); the protocol's methods
    are written here once (:class:`~distsim.placement.TrustedRoutes`; the
    topology keeps its own, tuned for its routes).
    """

    _n: int

    def _row(self, sender: int) -> FloatArray:
        raise NotImplementedError

    def to_all(self, sender: int) -> FloatArray:
        return self._row(sender).copy()

    def pair(self, sender: int, receiver: int) -> float:
        return float(self._row(sender)[receiver])

    def pairs(self, senders: IntArray, receivers: IntArray) -> FloatArray:
        out = np.empty(len(senders))
        for k, (i, j) in enumerate(zip(senders.tolist(), receivers.tolist(), strict=True)):
            out[k] = self._row(i)[j]
        return out

    def max_weighted(self, senders: IntArray, weights: IntArray) -> FloatArray:
        out = np.zeros(self._n)
        for i, w in zip(senders.tolist(), weights.tolist(), strict=True):
            if w > 0:  # 0 bytes cost nothing even over a missing route (0 * inf would be NaN)
                np.maximum(out, w * self._row(i), out=out)
        return out


class FullMesh:
    """Every device reaches every other directly (the paper's assumption).

    Sending ``O`` bytes from ``i`` takes ``O * 8 / rho_i`` seconds whoever
    receives them.
    """

    def __init__(self, fleet: Fleet) -> None:
        self._spb = fleet.sec_per_byte
        self._n = fleet.size

    @property
    def sec_per_byte(self) -> FloatArray:
        """Seconds per byte each device sends at (to any other device), as the compiled kernels read it."""
        return self._spb

    def to_all(self, sender: int) -> FloatArray:
        out = np.full(self._n, self._spb[sender])
        out[sender] = 0.0
        return out

    def pair(self, sender: int, receiver: int) -> float:
        return 0.0 if sender == receiver else float(self._spb[sender])

    def pairs(self, senders: IntArray, receivers: IntArray) -> FloatArray:
        return np.where(senders == receivers, 0.0, self._spb[senders])

    def max_weighted(self, senders: IntArray, weights: IntArray) -> FloatArray:
        out = np.zeros(self._n)
        if len(senders) == 0:
            return out
        values = weights * self._spb[senders]
        best = int(np.argmax(values))
        out[:] = values[best]
        # The slowest sender does not send to itself: it sees the runner-up.
        if len(senders) > 1:
            out[senders[best]] = np.max(np.delete(values, best))
        else:
            out[senders[best]] = 0.0
        return out
