"""Flat, documented output rows and where they go.

:class:`RequestRecord` is one row per request (``requests.csv``),
:class:`DeviceRecord` one row per device (``devices.csv``), :class:`Summary`
the run-level results (``summary.json``). Records stream to
a sink as requests finish, so memory does not grow with the run.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from functools import cache
from operator import attrgetter
from pathlib import Path
from typing import IO, Protocol

import numpy as np
import numpy.typing as npt

from distsim.io import CsvWriter


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request, as it ended.

    Attributes:
        request_id: 0-based, in arrival order.
        source: device id of its camera (``s0`` ..).
        cnn: CNN name.
        arrival_at: first arrival instant, s.
        start_at: instant its placement succeeded, s (NaN if dropped).
        finish_at: instant its inference completed, s (drop instant if dropped).
        latency_s: ``finish_at - arrival_at`` for served requests (NaN if dropped).
        queue_s: ``start_at - arrival_at``: time spent being rejected and retried, s.
        compute_s: compute time on the critical path of its service, s.
        transfer_s: transfer time on the critical path of its service, s.
        wait_s: time its work waited behind other requests' work, s (0 in ``analytic``).
        attempts: placement attempts made.
        rejected: True if the first attempt was rejected.
        dropped: True if it was never served.
        drop_reason: ``fleet_too_small``, ``unreachable`` or ``max_attempts`` ('' if served).
        last_rejection: reason of the last rejection, ``constraint@layer`` ('' if none).
        shared_bytes: bytes exchanged between distinct devices for it.
        devices_used: distinct devices that computed at least one of its segments.
        exposure_ssim: worst SSIM a coalition of ``privacy.colluders`` untrusted devices
            reaches from the maps they received (docs/privacy.md; NaN if dropped).
        exposure_layer: layer whose input maps give ``exposure_ssim`` ('' if none or dropped).
        exposure_extrapolated: True when ``exposure_ssim`` or a limit it depends on is not
            backed by a measurement (beyond the table's counts, or a ``finest`` limit).
        accuracy_pct: top-1 accuracy the privacy mechanism leaves, percent (NaN where unknown).
        energy_compute_j: energy its service drew above idle for computing, all attempts, J (docs/energy.md).
        energy_radio_j: energy its service drew above idle for transmitting and receiving, all attempts, J.
        restarts: times its service was restarted after a device it used went down (docs/dynamics.md).
        failed: True if it ended as failed (a device it used went down, ``churn.policy: fail``).
        failure: why it failed, ``down:<device>`` or ``battery:<device>`` ('' if it did not).
    """

    request_id: int
    source: str
    cnn: str
    arrival_at: float
    start_at: float
    finish_at: float
    latency_s: float
    queue_s: float
    compute_s: float
    transfer_s: float
    wait_s: float
    attempts: int
    rejected: bool
    dropped: bool
    drop_reason: str
    last_rejection: str
    shared_bytes: int
    devices_used: int
    exposure_ssim: float = math.nan
    exposure_layer: str = ""
    exposure_extrapolated: bool = False
    accuracy_pct: float = math.nan
    energy_compute_j: float = 0.0
    energy_radio_j: float = 0.0
    restarts: int = 0
    failed: bool = False
    failure: str = ""


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """One device's totals over the run.

    Attributes:
        device: id (``p0`` .. participants, ``s0`` .. sources).
        role: ``participant`` or ``source``.
        type: device type.
        radio: radio technology.
        segments: segments it computed.
        requests: requests it computed at least one segment of.
        busy_s: time computing, s (sum of its compute times).
        utilisation: ``busy_s`` over the run's makespan.
        sent_bytes: bytes it sent to other devices.
        received_bytes: bytes it received from other devices.
        energy_j: energy it drew over the run, idle included, J (docs/energy.md).
        idle_energy_j: the part drawn at idle power while up, J.
        compute_energy_j: the part drawn above idle while computing, J.
        radio_energy_j: the part drawn above idle while transmitting or receiving, J.
        up_s: time it was up (in the fleet) during the run, s.
        battery_left_wh: charge left at the end, Wh (NaN: mains powered or batteries off).
        died_at: instant its battery emptied, s (NaN if it did not).
    """

    device: str
    role: str
    type: str
    radio: str
    segments: int
    requests: int
    busy_s: float
    utilisation: float
    sent_bytes: int
    received_bytes: int
    energy_j: float = 0.0
    idle_energy_j: float = 0.0
    compute_energy_j: float = 0.0
    radio_energy_j: float = 0.0
    up_s: float = 0.0
    battery_left_wh: float = float("nan")
    died_at: float = float("nan")


@dataclass(frozen=True, slots=True)
class Summary:
    """Run-level results (``summary.json``).

    Attributes:
        scenario: scenario name.
        seed: run seed.
        scheduler: scheduler name.
        timing: timing model name.
        max_ssim: tolerated SSIM ``tau``.
        participants: ``D``.
        requests: requests that arrived.
        served: requests completed.
        dropped: requests never served.
        dropped_fleet_too_small: dropped at once: no idle fleet could hold them.
        dropped_max_attempts: dropped after the last retry.
        rejected_first_attempt: requests whose first attempt was rejected.
        rejection_rate: ``rejected_first_attempt / requests``.
        load_rejection_rate: first-attempt rejections other than ``fleet_too_small``, over requests.
        attempts_mean: mean placement attempts per request.
        latency_mean_s, latency_p50_s, latency_p95_s, latency_p99_s, latency_max_s:
            over served requests, from first arrival to completion (percentiles:
            linear interpolation, numpy's default), s; NaN if none served.
        total_latency_s: sum of served latencies (the paper's "total latency"), s.
        queue_mean_s: mean time served requests spent being retried, s.
        shared_bytes: bytes exchanged between distinct devices, all requests.
        shared_bytes_per_request: ``shared_bytes / served`` (0 if none served).
        throughput_per_s: served requests per second between first arrival and last completion.
        makespan_s: instant the last request ended, s.
        extrapolated_limits: True if some limit comes from the ``finest`` policy, not the table.
        mechanism: privacy mechanism (``privacy.mechanism``).
        colluders: devices an attacker pools when exposure is measured (``privacy.colluders``).
        exposure_mean, exposure_max: of ``exposure_ssim`` over served requests (NaN if none served).
        exposure_above_tau_share: share of served requests whose ``exposure_ssim`` exceeds ``max_ssim``.
        exposure_attack: the attack whose SSIM scale ``exposure_*`` use (``blackbox_map_subsets``
            for Table I, ``whitebox_noisy_output`` for ``dp_noise``; docs/privacy.md).
        accuracy_mean_pct: mean ``accuracy_pct`` of served requests where the mechanism knows it (NaN otherwise).
        dropped_unreachable: dropped at once: even on an idle fleet their maps reach no device that may take them.
        complete: False when ``simulation.max_wall_s`` stopped the run before every request ended
            (then ``requests - served - dropped`` requests were in flight, and later arrivals
            never happened).
        failed: requests that ended as failed (a device they used went down under ``churn.policy: fail``).
        restarts: attempts restarted after a device failure (``churn.policy: restart``).
        energy_j: energy every device drew over the run (idle included), J.
        energy_requests_j: energy drawn above idle by all requests' service (served, failed and restarted), J.
        energy_per_served_j: energy drawn above idle by served requests, over ``served`` (NaN if none), J.
        battery_deaths: participants whose battery emptied during the run.
        first_death_at: instant of the first battery death, s (NaN if none).
        lifetime_at: instant ``energy.lifetime_fraction`` of the battery-powered participants
            had died, s (NaN if not reached).
        availability_mean: time-average fraction of participants up over ``[0, makespan_s]`` (1 without churn).
    """

    scenario: str
    seed: int
    scheduler: str
    timing: str
    max_ssim: float
    participants: int
    requests: int
    served: int
    dropped: int
    dropped_fleet_too_small: int
    dropped_max_attempts: int
    rejected_first_attempt: int
    rejection_rate: float
    load_rejection_rate: float
    attempts_mean: float
    latency_mean_s: float
    latency_p50_s: float
    latency_p95_s: float
    latency_p99_s: float
    latency_max_s: float
    total_latency_s: float
    queue_mean_s: float
    shared_bytes: int
    shared_bytes_per_request: float
    throughput_per_s: float
    makespan_s: float
    extrapolated_limits: bool
    mechanism: str = "feature_split"
    colluders: int = 1
    exposure_mean: float = math.nan
    exposure_max: float = math.nan
    exposure_above_tau_share: float = 0.0
    dropped_unreachable: int = 0
    exposure_attack: str = "blackbox_map_subsets"
    accuracy_mean_pct: float = math.nan
    complete: bool = True
    failed: int = 0
    restarts: int = 0
    energy_j: float = 0.0
    energy_requests_j: float = 0.0
    energy_per_served_j: float = math.nan
    battery_deaths: int = 0
    first_death_at: float = math.nan
    lifetime_at: float = math.nan
    availability_mean: float = 1.0


def header(record_type: type) -> list[str]:
    """Column names of a record type."""
    return [f.name for f in fields(record_type)]


@cache
def _values(record_type: type) -> Callable[[object], tuple[object, ...]]:
    """A record's field values in column order (records hold scalars: no deep copy as ``astuple`` makes)."""
    names = header(record_type)
    get = attrgetter(*names)
    return get if len(names) > 1 else lambda row: (get(row),)


def write_rows(handle: IO[str], record_type: type, rows: list[object]) -> None:
    """Write records as CSV with a header (cells as :func:`distsim.io.cell` formats them)."""
    writer = CsvWriter(handle, header(record_type))
    values = _values(record_type)
    for row in rows:
        writer.row(values(row))


class RecordSink(Protocol):
    """Where request records go as requests end."""

    def add(self, record: RequestRecord) -> None:
        """Take one record."""
        ...

    def latencies(self) -> npt.NDArray[np.float64]:
        """Latencies of served requests, s (read back once at the end of the run)."""
        ...

    def close(self) -> None:
        """Flush and release resources."""
        ...


class MemorySink:
    """Keeps records in a list (notebooks, sweeps, tests)."""

    def __init__(self) -> None:
        self.records: list[RequestRecord] = []

    def add(self, record: RequestRecord) -> None:
        self.records.append(record)

    def latencies(self) -> npt.NDArray[np.float64]:
        return np.array([r.latency_s for r in self.records if not (r.dropped or r.failed)], dtype=np.float64)

    def close(self) -> None:
        pass


class CsvSink:
    """Streams records to a CSV file; memory stays flat however long the run."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] = open(path, "w", newline="", encoding="utf-8")  # noqa: SIM115
        self._writer = CsvWriter(self._handle, header(RequestRecord))
        self._latency_col = header(RequestRecord).index("latency_s")
        self._values = _values(RequestRecord)

    def add(self, record: RequestRecord) -> None:
        self._writer.row(self._values(record))

    def latencies(self) -> npt.NDArray[np.float64]:
        self._handle.flush()
        values: list[float] = []
        with open(self.path, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            next(reader)
            for row in reader:
                cell = row[self._latency_col]
                if cell:
                    values.append(float(cell))
        return np.array(values, dtype=np.float64)

    def close(self) -> None:
        if not self._handle.closed:
            self._handle.close()


def rows_to_csv(record_type: type, rows: list[object]) -> str:
    """CSV text of records (header included)."""
    buffer = io.StringIO()
    write_rows(buffer, record_type, rows)
    return buffer.getvalue()
