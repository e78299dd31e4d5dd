"""Observability of a ``contention`` run: busy spans, queue lengths, exports.

A :class:`Timeline` is handed to the contention timing model (see
:meth:`distsim.engine.contention.ContentionTiming.attach`); it records

* a :class:`Span` for every piece of work: a segment batch on one CPU core,
  or one request's hold of a radio (the transfers it sent during the hold);
* a :class:`Sample` whenever a resource's state changes: how many cores or
  radios are busy and how many requests queue for it (sampled on events, so
  the series is exact between samples: a step function).

Exports: a Chrome trace (``traceEvents`` JSON, opens in https://ui.perfetto.dev
and ``chrome://tracing``: one process per device, one thread per CPU core plus
one for the radio, counter tracks for queue lengths), the time series as CSV
and per-device utilisation. Files are written aside and moved into place.

Units: seconds (Chrome traces use microseconds, converted on export).
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Any

from distsim.io import compact_json, csv_text, write_text

#: Thread id of the radio track in Chrome traces (CPU cores use 0, 1, ...).
RADIO_TID = 1000


@dataclass(frozen=True, slots=True)
class Span:
    """One piece of work on one resource.

    Attributes:
        device: device id.
        lane: ``cpu`` or ``radio``.
        slot: CPU core index (0 for the radio).
        start_at: instant the work started (resource granted), s.
        end_at: instant it ended, s.
        request_id: request the work belongs to.
        layer: 1-based layer index.
        layer_name: layer name.
        sent_bytes: bytes sent during a radio hold (0 for CPU work).
        mults: multiplications of a CPU batch (0 for radio holds).
    """

    device: int
    lane: str
    slot: int
    start_at: float
    end_at: float
    request_id: int
    layer: int
    layer_name: str
    sent_bytes: int
    mults: int


@dataclass(frozen=True, slots=True)
class Sample:
    """State of one resource from instant ``at`` until the next sample of it.

    Attributes:
        at: instant, s.
        device: device name.
        lane: ``cpu`` or ``radio``.
        busy: cores (CPU) or radios (0 or 1) in use.
        queued: requests waiting for the resource.
    """

    at: float
    device: str
    lane: str
    busy: int
    queued: int


@dataclass(frozen=True, slots=True)
class Utilisation:
    """Time-averaged use of one resource over ``[0, until]``.

    Attributes:
        device: device name.
        lane: ``cpu`` or ``radio``.
        capacity: cores (CPU) or 1 (radio).
        busy_s: integral of busy units over time, s (core-seconds for CPUs).
        utilisation: ``busy_s / (capacity * until)``.
        queue_mean: time-averaged queue length.
        queue_max: longest queue seen.
    """

    device: str
    lane: str
    capacity: int
    busy_s: float
    utilisation: float
    queue_mean: float
    queue_max: int


class Timeline:
    """Spans and resource samples of one run (kept in memory: enable it for runs you want to look at).

    Args:
        names: device names by id.
        types: device types by id.
        cores: CPU cores by id.
    """

    def __init__(self, names: tuple[str, ...], types: tuple[str, ...], cores: tuple[int, ...]) -> None:
        self.names = names
        self.types = types
        self.cores = cores
        self.spans: list[Span] = []
        self.samples: list[Sample] = []
        self._last: dict[tuple[int, str], tuple[int, int]] = {}

    # -- recording (called by the timing model) --------------------------
    def span(self, span: Span) -> None:
        """Record finished work."""
        self.spans.append(span)

    def sample(self, at: float, device: int, lane: str, busy: int, queued: int) -> None:
        """Record a resource's state at ``at`` (skipped when unchanged)."""
        key = (device, lane)
        if self._last.get(key) == (busy, queued):
            return
        self._last[key] = (busy, queued)
        self.samples.append(Sample(at, self.names[device], lane, busy, queued))

    # -- analysis ------------------------------------------------------------
    @property
    def end_at(self) -> float:
        """Instant the last recorded work ended, s (0 if none)."""
        return max((s.end_at for s in self.spans), default=0.0)

    def utilisation(self, until: float | None = None) -> list[Utilisation]:
        """Per device and lane (CPU, radio), time-averaged use over ``[0, until]`` (default: :attr:`end_at`)."""
        horizon = self.end_at if until is None else until
        index = {name: i for i, name in enumerate(self.names)}
        state: dict[tuple[str, str], tuple[float, int, int]] = {}
        busy: dict[tuple[str, str], float] = {}
        queue: dict[tuple[str, str], float] = {}
        peak: dict[tuple[str, str], int] = {}
        for s in self.samples:
            key = (s.device, s.lane)
            if key in state:
                at, b, q = state[key]
                dt = max(0.0, min(s.at, horizon) - min(at, horizon))
                busy[key] = busy.get(key, 0.0) + b * dt
                queue[key] = queue.get(key, 0.0) + q * dt
            state[key] = (s.at, s.busy, s.queued)
            peak[key] = max(peak.get(key, 0), s.queued)
        for key, (at, b, q) in state.items():
            dt = max(0.0, horizon - min(at, horizon))
            busy[key] = busy.get(key, 0.0) + b * dt
            queue[key] = queue.get(key, 0.0) + q * dt
        out = []
        for name in self.names:
            for lane in ("cpu", "radio"):
                key = (name, lane)
                capacity = self.cores[index[name]] if lane == "cpu" else 1
                busy_s = busy.get(key, 0.0)
                out.append(
                    Utilisation(
                        device=name,
                        lane=lane,
                        capacity=capacity,
                        busy_s=busy_s,
                        utilisation=busy_s / (capacity * horizon) if horizon > 0 else 0.0,
                        queue_mean=queue.get(key, 0.0) / horizon if horizon > 0 else 0.0,
                        queue_max=peak.get(key, 0),
                    )
                )
        return out

    # -- exports -------------------------------------------------------------
    def chrome_trace(self) -> dict[str, Any]:
        """The timeline as a Chrome trace object (``traceEvents``; times in microseconds)."""
        events: list[dict[str, Any]] = []
        for i, name in enumerate(self.names):
            events.append(
                {"name": "process_name", "ph": "M", "pid": i, "tid": 0, "args": {"name": f"{name} ({self.types[i]})"}}
            )
            events.append({"name": "process_sort_index", "ph": "M", "pid": i, "tid": 0, "args": {"sort_index": i}})
            for core in range(self.cores[i]):
                events.append({"name": "thread_name", "ph": "M", "pid": i, "tid": core, "args": {"name": f"cpu{core}"}})
            events.append({"name": "thread_name", "ph": "M", "pid": i, "tid": RADIO_TID, "args": {"name": "radio"}})
        for s in sorted(self.spans, key=lambda s: (s.start_at, s.device, s.lane, s.slot, s.request_id)):
            cpu = s.lane == "cpu"
            events.append(
                {
                    "name": f"r{s.request_id} {s.layer_name}",
                    "cat": "compute" if cpu else "transfer",
                    "ph": "X",
                    "ts": s.start_at * 1e6,
                    "dur": (s.end_at - s.start_at) * 1e6,
                    "pid": s.device,
                    "tid": s.slot if cpu else RADIO_TID,
                    "args": {
                        "request": s.request_id,
                        "layer": s.layer,
                        **({"mults": s.mults} if cpu else {"bytes": s.sent_bytes}),
                    },
                }
            )
        index = {name: i for i, name in enumerate(self.names)}
        for q in self.samples:
            events.append(
                {
                    "name": f"{q.lane} queue",
                    "ph": "C",
                    "ts": q.at * 1e6,
                    "pid": index[q.device],
                    "args": {"queued": q.queued},
                }
            )
        return {
            "traceEvents": events,
            "displayTimeUnit": "ms",
            "otherData": {"generator": "distsim", "time_unit_of_ts": "microseconds"},
        }

    def series_csv(self) -> str:
        """The samples as CSV (``at,device,lane,busy,queued``)."""
        return csv_text([f.name for f in fields(Sample)], (astuple(s) for s in self.samples))

    def utilisation_csv(self, until: float | None = None) -> str:
        """:meth:`utilisation` as CSV."""
        return csv_text([f.name for f in fields(Utilisation)], (astuple(u) for u in self.utilisation(until)))

    def write_chrome_trace(self, path: str | Path) -> Path:
        """Write :meth:`chrome_trace` to ``path`` atomically; return the path."""
        return _write(path, compact_json(self.chrome_trace()))

    def write_series(self, path: str | Path) -> Path:
        """Write :meth:`series_csv` to ``path`` atomically; return the path."""
        return _write(path, self.series_csv())


def _write(path: str | Path, text: str) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    return write_text(target, text)
