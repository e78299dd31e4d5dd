"""Run a scenario: the Python API behind ``distsim run``.

>>> from distsim import load_scenario, simulate
>>> result = simulate(load_scenario("scenarios/quickstart.yaml"))
>>> result.summary.requests
40

``simulate`` keeps records in memory when no output directory is given; with
one, records stream to ``requests.csv`` in a staging folder that holds the
whole run (``devices.csv``, ``summary.json``, a self-contained
``scenario.yaml`` with copies of the files it references, and
``manifest.json`` with the SHA-256 of every file and the provenance); the
folder is then published in one atomic step (:func:`distsim.io.publish_dir`),
so a reader sees the previous run or this one, never a mix.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import asdict, astuple, dataclass, fields
from pathlib import Path
from typing import IO, Any

from distsim.engine.energy import ChargeSeries
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
from distsim.io import atomic_path, json_text, publish_dir, stage_dir, step, write_bytes, write_manifest, write_text
from distsim.progress import Progress
from distsim.provenance import package_versions, provenance
from distsim.scenario import Scenario, referenced_files, scenario_to_yaml, with_file_references
from distsim.world import World, build_world

#: Files every run folder holds (plus a copy of each file the scenario references).
OUTPUT_FILES = ("requests.csv", "devices.csv", "summary.json", "scenario.yaml", "manifest.json")
__all__ = ["OUTPUT_FILES", "RunResult", "package_versions", "simulate", "summary_json"]


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
        charge: with batteries, the charge left in every battery over time (``charge.csv``), else None.
    """

    summary: Summary
    devices: list[DeviceRecord]
    records: list[RequestRecord] | None
    out_dir: Path | None
    wall_s: float
    timeline: Timeline | None = None
    fleet: list[tuple[float, int]] | None = None
    charge: ChargeSeries | None = None

    def requests_frame(self) -> Any:
        """One row per request (the columns of ``requests.csv``) as a pandas DataFrame.

        From the records kept in memory, else read back from ``out_dir``;
        needs pandas (``pip install 'distsim[frames]'``).
        """
        from distsim.optional import pandas

        pd = pandas()
        columns = [f.name for f in fields(RequestRecord)]
        if self.records is not None:
            return pd.DataFrame([astuple(r) for r in self.records], columns=columns)
        if self.out_dir is not None:
            return pd.read_csv(self.out_dir / "requests.csv")
        raise ValueError("no records: simulate with keep_records=True or with an out_dir")

    def devices_frame(self) -> Any:
        """One row per device (the columns of ``devices.csv``) as a pandas DataFrame (needs pandas)."""
        from distsim.optional import pandas

        columns = [f.name for f in fields(DeviceRecord)]
        return pandas().DataFrame([astuple(d) for d in self.devices], columns=columns)


#: Written beside OUTPUT_FILES when the run has them: ``fleet.csv`` with churn or batteries,
#: ``charge.csv`` with batteries.
OPTIONAL_FILES = ("fleet.csv", "charge.csv")


def fleet_csv(series: list[tuple[float, int]]) -> str:
    """The fleet availability series as CSV: ``at`` (s), ``participants_up``."""
    return "at,participants_up\n" + "".join(f"{at!r},{up}\n" for at, up in series)


log = logging.getLogger(__name__)


def summary_json(summary: Summary) -> str:
    """The summary as strict JSON (NaN and infinities written as null, see :mod:`distsim.io`)."""
    return json_text(asdict(summary))


def simulate(
    scenario: Scenario | World,
    *,
    out_dir: str | Path | None = None,
    seed: int | None = None,
    keep_records: bool | None = None,
    file: str | None = None,
    trace: bool = False,
    placements: str | Path | None = None,
    progress: bool | None = False,
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
        progress: show finished requests with an ETA on stderr (:class:`distsim.progress.Progress`):
            False (default) never; None a bar on a terminal, a line every 30 s otherwise; True always.
    """
    if placements is not None:
        return _with_placements(Path(placements), scenario, out_dir, seed, keep_records, file, trace, progress)
    world = scenario if isinstance(scenario, World) else build_world(scenario, file=file)
    keep = out_dir is None if keep_records is None else keep_records
    if out_dir is None:
        return _simulate(world, MemorySink() if keep else _LatencyOnlySink(), seed, None, trace, file, progress)
    target = Path(out_dir)
    staging = stage_dir(target)
    try:
        sink = CsvSink(staging / "requests.csv")
        try:
            result = _simulate(world, sink, seed, staging, trace, file, progress)
        finally:
            sink.close()
        publish_dir(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return RunResult(
        result.summary, result.devices, None, target, result.wall_s, result.timeline, result.fleet, result.charge
    )


def _with_placements(
    target: Path,
    scenario: Scenario | World,
    out_dir: str | Path | None,
    seed: int | None,
    keep_records: bool | None,
    file: str | None,
    trace: bool,
    progress: bool | None = False,
) -> RunResult:
    """:func:`simulate` with the placements written through a staged file, renamed in only when complete."""
    try:
        with atomic_path(target) as tmp, open(tmp, "w", encoding="utf-8") as handle:
            _PLACEMENTS.append(handle)
            try:
                result = simulate(
                    scenario,
                    out_dir=out_dir,
                    seed=seed,
                    keep_records=keep_records,
                    file=file,
                    trace=trace,
                    progress=progress,
                )
            finally:
                _PLACEMENTS.remove(handle)
    except OSError as exc:
        raise InputError(f"cannot write the placements: {exc.strerror or exc}", file=str(target)) from None
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


class _Counting:
    """A sink that forwards every record and advances a progress bar (one unit per finished request)."""

    def __init__(self, inner: RecordSink, bar: Progress) -> None:
        self.inner, self.bar = inner, bar

    def add(self, record: RequestRecord) -> None:
        self.inner.add(record)
        self.bar.advance()

    def latencies(self) -> Any:
        return self.inner.latencies()

    def close(self) -> None:
        self.inner.close()


def _simulate(
    world: World,
    sink: RecordSink,
    seed: int | None,
    staging: Path | None,
    trace: bool = False,
    file: str | None = None,
    progress: bool | None = False,
) -> RunResult:
    started = time.perf_counter()
    bar = Progress(world.scenario.workload.requests, unit="requests", desc=world.scenario.name, enabled=progress)
    sim = Simulation(
        world,
        sink if progress is False else _Counting(sink, bar),
        seed=seed,
        trace=trace,
        placements=_PLACEMENTS[-1] if _PLACEMENTS else None,
    )
    try:
        summary = sim.run()
    finally:
        bar.close()
    wall = time.perf_counter() - started
    log.info("%s: %d requests simulated in %.2f s", world.scenario.name, summary.requests, wall)
    devices = sim.device_records()
    fleet = None if sim.dynamics is None else list(sim.dynamics.series)
    charge = None if sim.dynamics is None else sim.dynamics.charge_series()
    if staging is not None:
        step("wrote requests.csv")
        _write_outputs(staging, world, sim.seed, summary, devices, wall, file, fleet, charge)
    records = sink.records if isinstance(sink, MemorySink) else None
    return RunResult(summary, devices, records, None, wall, sim.timeline, fleet, charge)


def copied_name(field: str, source: Path) -> str:
    """File name a referenced input gets in a run folder: ``privacy.ssim_table`` -> ``privacy.ssim_table.csv``."""
    return field + source.suffix


def _write_outputs(
    staging: Path,
    world: World,
    seed: int,
    summary: Summary,
    devices: list[DeviceRecord],
    wall: float,
    file: str | None,
    fleet: list[tuple[float, int]] | None = None,
    charge: ChargeSeries | None = None,
) -> None:
    """Everything but ``requests.csv`` (already streamed) into the staging folder, the manifest last."""
    scenario = world.scenario
    write_text(staging / "devices.csv", rows_to_csv(DeviceRecord, list(devices)))
    if fleet is not None:
        write_text(staging / "fleet.csv", fleet_csv(fleet))
    if charge is not None:
        write_text(staging / "charge.csv", charge.csv())
    step("wrote devices.csv")
    write_text(staging / "summary.json", summary_json(summary))
    step("wrote summary.json")
    # Self-contained: every file the scenario references is copied beside scenario.yaml,
    # which names the copy by a relative path (resolved against scenario.yaml's folder).
    references = referenced_files(scenario)
    copies: dict[str, str] = {}
    for field, source in references.items():
        name = copied_name(field, source)
        try:
            write_bytes(staging / name, source.read_bytes())
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror or exc}", file=str(source), field=field) from None
        copies[field] = name
    effective = with_file_references(
        scenario.model_copy(update={"simulation": scenario.simulation.model_copy(update={"seed": seed})}), copies
    )
    write_text(staging / "scenario.yaml", scenario_to_yaml(effective))
    step("wrote scenario.yaml")
    inputs: dict[str, str | Path] = dict(references)
    if file is not None and Path(file).is_file():
        inputs["scenario"] = file
    manifest = {
        "kind": "run",
        "scenario": scenario.name,
        # False when simulation.max_wall_s stopped the run: the files hold what had finished.
        "complete": summary.complete,
        **provenance(seed, inputs),
        "wall_s": wall,
        "columns": {
            "requests.csv": [f.name for f in fields(RequestRecord)],
            "devices.csv": [f.name for f in fields(DeviceRecord)],
        },
    }
    write_manifest(staging, manifest)
    step("wrote manifest.json")
