"""Run a scenario: the Python API behind ``distsim run``.

>>> from distsim import load_scenario, simulate
>>> result = simulate(load_scenario("scenarios/quickstart.yaml"))
>>> result.summary.requests
40

``simulate`` keeps records in memory when no output directory is given; with
one, records stream to ``requests.csv`` and every file appears atomically
(written aside, then moved into place), beside the resolved scenario and a
manifest of the seed and package versions.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, fields
from importlib import metadata
from pathlib import Path
from typing import IO, Any

from distsim.engine.records import (
    CsvSink,
    DeviceRecord,
    MemorySink,
    RecordSink,
    RequestRecord,
    Summary,
    rows_to_csv,
)
from distsim.engine.simulation import Simulation
from distsim.engine.trace import Timeline
from distsim.errors import InputError
from distsim.scenario import Scenario, scenario_to_yaml
from distsim.world import World, build_world

OUTPUT_FILES = ("requests.csv", "devices.csv", "summary.json", "scenario.yaml", "manifest.json")


@dataclass(frozen=True)
class RunResult:
    """What a run produced.

    Attributes:
        summary: run-level metrics.
        devices: per-device totals.
        records: per-request rows when kept in memory (no output directory), else None.
        out_dir: where files were written, or None.
        wall_s: wall-clock duration of the simulation, s.
        timeline: busy spans and queue lengths per device when traced (``trace=True``), else None.
        fleet: with churn or batteries, ``(instant s, participants up)`` at 0 and after every change
            (written as ``fleet.csv``), else None.
    """

    summary: Summary
    devices: list[DeviceRecord]
    records: list[RequestRecord] | None
    out_dir: Path | None
    wall_s: float
    timeline: Timeline | None = None
    fleet: list[tuple[float, int]] | None = None


#: Written beside OUTPUT_FILES when the run has them: ``fleet.csv`` with churn or batteries.
OPTIONAL_FILES = ("fleet.csv",)


def fleet_csv(series: list[tuple[float, int]]) -> str:
    """The fleet availability series as CSV: ``at`` (s), ``participants_up``."""
    return "at,participants_up\n" + "".join(f"{at!r},{up}\n" for at, up in series)


def package_versions() -> dict[str, str]:
    """Versions of distsim, Python and the runtime dependencies."""
    out = {"python": platform.python_version()}
    for name in ("distsim", "simpy", "numpy", "networkx", "pydantic", "pyyaml", "matplotlib", "ortools"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def summary_json(summary: Summary) -> str:
    """The summary as JSON (NaN written as null)."""
    data = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(summary).items()}
    return json.dumps(data, indent=2) + "\n"


def simulate(
    scenario: Scenario | World,
    *,
    out_dir: str | Path | None = None,
    seed: int | None = None,
    keep_records: bool | None = None,
    file: str | None = None,
    trace: bool = False,
    placements: str | Path | None = None,
) -> RunResult:
    """Simulate a scenario (or an already built world).

    Args:
        scenario: the validated scenario, or a :class:`~distsim.world.World`.
        out_dir: write results there (atomically); None writes nothing.
        seed: overrides ``simulation.seed``.
        keep_records: keep per-request records in memory (default: when ``out_dir`` is None).
        file: scenario file name, for error messages.
        trace: record a per-device timeline (``contention`` timing only), returned as ``timeline``.
        placements: write one JSON line per served request (segments and relays per layer,
            docs/privacy.md) to this file: staged beside it, renamed into place when the run ends.
    """
    if placements is not None:
        return _with_placements(Path(placements), scenario, out_dir, seed, keep_records, file, trace)
    world = scenario if isinstance(scenario, World) else build_world(scenario, file=file)
    keep = out_dir is None if keep_records is None else keep_records
    if out_dir is None:
        return _simulate(world, MemorySink() if keep else _LatencyOnlySink(), seed, None, trace)
    target = Path(out_dir)
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=parent))
    except OSError as exc:
        raise InputError(f"cannot create the output directory: {exc.strerror or exc}", file=str(target)) from None
    try:
        sink = CsvSink(staging / "requests.csv")
        try:
            result = _simulate(world, sink, seed, staging, trace)
        finally:
            sink.close()
        _publish(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return RunResult(result.summary, result.devices, None, target, result.wall_s, result.timeline, result.fleet)


def _with_placements(
    target: Path,
    scenario: Scenario | World,
    out_dir: str | Path | None,
    seed: int | None,
    keep_records: bool | None,
    file: str | None,
    trace: bool,
) -> RunResult:
    """:func:`simulate` with the placements written through a staged file, renamed in only when complete."""
    try:
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed and renamed below)
            "w", encoding="utf-8", dir=target.parent, prefix=f".{target.name}.", suffix=".tmp", delete=False
        )
    except OSError as exc:
        raise InputError(f"cannot write the placements: {exc.strerror or exc}", file=str(target)) from None
    try:
        with handle:
            _PLACEMENTS.append(handle)
            try:
                result = simulate(
                    scenario, out_dir=out_dir, seed=seed, keep_records=keep_records, file=file, trace=trace
                )
            finally:
                _PLACEMENTS.remove(handle)
        os.replace(handle.name, target)
    finally:
        Path(handle.name).unlink(missing_ok=True)
    return result


#: The open placements file of the run in progress, if any (set by :func:`_with_placements`).
_PLACEMENTS: list[IO[str]] = []


class _LatencyOnlySink:
    """Keeps only latencies (8 bytes per request) when records are not wanted."""

    def __init__(self) -> None:
        self._latencies: list[float] = []

    def add(self, record: RequestRecord) -> None:
        if not (record.dropped or record.failed):
            self._latencies.append(record.latency_s)

    def latencies(self) -> Any:
        import numpy as np

        return np.array(self._latencies, dtype=np.float64)

    def close(self) -> None:
        pass


def _simulate(world: World, sink: RecordSink, seed: int | None, staging: Path | None, trace: bool = False) -> RunResult:
    started = time.perf_counter()
    sim = Simulation(world, sink, seed=seed, trace=trace, placements=_PLACEMENTS[-1] if _PLACEMENTS else None)
    summary = sim.run()
    wall = time.perf_counter() - started
    devices = sim.device_records()
    fleet = None if sim.dynamics is None else list(sim.dynamics.series)
    if staging is not None:
        scenario = world.scenario
        (staging / "devices.csv").write_text(rows_to_csv(DeviceRecord, list(devices)), encoding="utf-8")
        if fleet is not None:
            (staging / "fleet.csv").write_text(fleet_csv(fleet), encoding="utf-8")
        (staging / "summary.json").write_text(summary_json(summary), encoding="utf-8")
        effective = scenario.model_copy(
            update={"simulation": scenario.simulation.model_copy(update={"seed": sim.seed})}
        )
        (staging / "scenario.yaml").write_text(scenario_to_yaml(effective), encoding="utf-8")
        manifest = {
            "scenario": scenario.name,
            "seed": sim.seed,
            # False when simulation.max_wall_s stopped the run: the files hold what had finished.
            "complete": summary.complete,
            "versions": package_versions(),
            "wall_s": wall,
            "files": list(OUTPUT_FILES) + ([] if fleet is None else ["fleet.csv"]),
            "columns": {
                "requests.csv": [f.name for f in fields(RequestRecord)],
                "devices.csv": [f.name for f in fields(DeviceRecord)],
            },
        }
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    records = sink.records if isinstance(sink, MemorySink) else None
    return RunResult(summary, devices, records, None, wall, sim.timeline, fleet)


def _publish(staging: Path, target: Path) -> None:
    """Move finished files into ``target``: each appears whole or not at all."""
    if not target.exists():
        try:
            os.replace(staging, target)
            staging.mkdir()  # the caller's cleanup expects the folder
            return
        except OSError:
            pass
    try:
        target.mkdir(parents=True, exist_ok=True)
        for name in OUTPUT_FILES:
            os.replace(staging / name, target / name)
        for name in OPTIONAL_FILES:
            if (staging / name).exists():
                os.replace(staging / name, target / name)
    except OSError as exc:
        raise InputError(f"cannot write results: {exc.strerror or exc}", file=str(target)) from None
