"""Run a sweep: every point x replication, in-process, in local worker processes or on Dask.

Each run is one :func:`distsim.run.simulate` call without output files, of
the point's resolved scenario (absolute file paths: a Dask worker started in
any directory reads the same files). The parent process (never a worker)
persists every finished run as ``<out>/runs/p<point>-r<replication>.json``,
written aside and moved into place, so an interrupted sweep loses at most the
runs in flight. On restart a run is skipped when a stored run has its resume
key (:mod:`distsim.experiments.resume`: the resolved scenario, the contents of
every referenced file, the distsim version, the seed and ``keep_latencies``),
wherever the stored run is (a point that moved in an edited grid is not run
again); every other run is run again and replaced, and
:attr:`SweepResult.stale` says why.

When every run is done the tidy tables are written atomically:
``results.csv`` (one row per run, sorted by point then replication, so the same
bytes whatever the job count; parameter columns read from each point's
resolved scenario), ``results.parquet`` when pyarrow is importable,
``summary.csv`` (mean and 95% CI per point, see
:mod:`distsim.experiments.aggregate`), then ``manifest.json``
(:mod:`distsim.experiments.folder`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
from collections.abc import Callable, Generator, Iterable
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from distsim.engine.records import Summary
from distsim.errors import InputError
from distsim.experiments import folder
from distsim.experiments.aggregate import aggregate, write_summary_csv
from distsim.experiments.folder import RUNS_DIR
from distsim.experiments.resume import FileHashes, Fingerprint, describe_stale, fingerprint, stale_reasons
from distsim.experiments.spec import Sweep
from distsim.experiments.table import (
    FIXED_COLUMNS,
    result_columns,
    write_csv_atomic,
    write_parquet_atomic,
)
from distsim.experiments.workers import run_local
from distsim.io import step, write_json
from distsim.progress import Progress


@dataclass(frozen=True)
class Task:
    """One run to do: everything a worker needs, picklable.

    Attributes:
        point: point index.
        replication: replication index, from 0.
        seed: run seed.
        params: grid key -> the point's value, read from its resolved scenario (:attr:`Point.columns`).
        scenario: the point's resolved scenario mapping (referenced files as absolute paths).
        base_dir: absolute directory relative scenario paths would resolve against (there are none left).
        keep_latencies: return the per-request latencies too.
        key: the resume key (:attr:`Fingerprint.key`).
        fingerprint: what the key hashes (:meth:`Fingerprint.as_record`), stored in the run file.
    """

    point: int
    replication: int
    seed: int
    params: dict[str, Any]
    scenario: dict[str, Any]
    base_dir: str
    keep_latencies: bool
    key: str
    fingerprint: dict[str, Any]

    @property
    def file_name(self) -> str:
        """Name of the run's file under ``runs/``."""
        return run_file_name(self.point, self.replication)


log = logging.getLogger(__name__)


def run_file_name(point: int, replication: int) -> str:
    """``p0003-r001.json``: sorts like (point, replication)."""
    return f"p{point:04d}-r{replication:03d}.json"


def make_tasks(sweep: Sweep) -> list[Task]:
    """Every point x replication, in (point, replication) order, each with its resume key.

    Every referenced file is read (and hashed) once here; one that cannot be
    read is a one-line :class:`InputError`.
    """
    tasks = []
    keep = sweep.spec.keep_latencies
    hashes = FileHashes()
    for point in sweep.points:
        try:
            first = fingerprint(point.scenario, 0, keep, hashes)
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror or exc}", file=str(exc.filename or sweep.file)) from None
        for rep in range(sweep.replications):
            seed = sweep.seed_of(rep)
            fp = Fingerprint(first.scenario_sha256, first.inputs, first.distsim_version, seed, keep)
            tasks.append(
                Task(
                    point.index,
                    rep,
                    seed,
                    point.columns,
                    point.scenario,
                    str(sweep.base_dir),
                    keep,
                    fp.key,
                    fp.as_record(),
                )
            )
    return tasks


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def run_task(task: Task) -> dict[str, Any]:
    """Simulate one run (in a worker); returns the JSON-ready run record."""
    from distsim.run import simulate
    from distsim.scenario import scenario_from_dict
    from distsim.world import build_world

    scenario = scenario_from_dict(task.scenario, base_dir=Path(task.base_dir))
    result = simulate(build_world(scenario), out_dir=None, keep_records=task.keep_latencies, seed=task.seed)
    record: dict[str, Any] = {
        "point": task.point,
        "replication": task.replication,
        "seed": task.seed,
        "key": task.key,
        "fingerprint": task.fingerprint,
        "params": task.params,
        "summary": {k: _finite(v) for k, v in asdict(result.summary).items()},
        "wall_s": result.wall_s,
    }
    if task.keep_latencies and result.records is not None:
        served = [r for r in result.records if not r.dropped]
        record["latencies_s"] = [r.latency_s for r in served]
        record["latency_cnns"] = [r.cnn for r in served]
    return record


def write_json_atomic(path: Path, data: Any) -> None:
    """Write strict compact JSON beside ``path`` then move it into place."""
    write_json(path, data, compact=True)


def read_run(path: Path) -> dict[str, Any] | None:
    """A run file's record, or None if unreadable (a torn file from another tool)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class SweepResult:
    """What a sweep produced.

    Attributes:
        out_dir: the output directory.
        rows: one row per run, sorted by (point, replication): the columns of ``results.csv``.
        summary: one row per point: the columns of ``summary.csv``.
        executed: runs simulated by this call (the rest were resumed from ``runs/``).
        skipped: runs found finished and not run again.
        files: the tables written.
        stale: why the runs that were stored but no longer matched were run again
            (``"2 privacy.ssim_table contents changed"``), or ``""`` when none was.
        stale_runs: how many stored runs no longer matched and were run again.
    """

    out_dir: Path
    rows: list[dict[str, Any]]
    summary: list[dict[str, Any]]
    executed: int
    skipped: int
    files: list[Path]
    stale: str = ""
    stale_runs: int = 0


def _execute_local(tasks: list[Task], jobs: int) -> Generator[dict[str, Any], None, None]:
    if not tasks:
        return
    if jobs <= 1:
        for task in tasks:
            yield run_task(task)
        return
    # Worker processes that die with this one and abandon their runs when the loop stops early.
    yield from run_local(run_task, tasks, jobs, order=_order)


def _order(record: dict[str, Any]) -> tuple[int, int]:
    return int(record["point"]), int(record["replication"])


def _execute_dask(tasks: list[Task], client: Any) -> Generator[dict[str, Any], None, None]:
    if not tasks:
        return
    from distributed import as_completed

    futures = [
        client.submit(run_task, task, pure=False, key=f"distsim-run-{task.key[:16]}-{task.point}-{task.replication}")
        for task in tasks
    ]
    try:
        for future in as_completed(futures):
            yield future.result()
    finally:
        client.cancel([f for f in futures if not f.done()])


#: Longest wait for a Dask scheduler to answer, s (connecting, then its first reply).
DASK_CONNECT_S = 10.0
_DASK_SCHEMES = ("tcp", "tls", "ws", "wss", "inproc", "ucx")


def check_dask_address(address: str) -> str:
    """``address`` if it reads as ``[scheme://]host:port`` with a known scheme and a port in 1..65535."""
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "tcp", address
    host, colon, port = rest.rpartition(":")
    if scheme not in _DASK_SCHEMES or (scheme != "inproc" and (not colon or not host or not port.isdigit())):
        raise InputError(f"expected a Dask scheduler address such as tcp://host:8786, got {address!r}", field="--dask")
    if scheme != "inproc" and not 1 <= int(port) <= 65535:
        raise InputError(f"expected a port in 1..65535, got {port} in {address!r}", field="--dask")
    return address if sep else f"tcp://{address}"


def _probe_dask(address: str, timeout_s: float) -> None:
    """Connect and ask the scheduler who it is, within ``timeout_s``; raise OSError/TimeoutError if it does not answer.

    ``Client(address, timeout=...)`` waits forever when the port answers TCP
    but does not speak Dask (an HTTP server, say), hence this bounded probe.
    """
    import asyncio

    from distributed.comm import connect

    async def probe() -> Any:
        comm = await connect(address, timeout=timeout_s)
        try:
            await comm.write({"op": "identity"})
            return await comm.read()
        finally:
            comm.abort()

    reply = asyncio.run(asyncio.wait_for(probe(), timeout_s))
    if not isinstance(reply, dict) or reply.get("type") != "Scheduler":
        raise OSError("the server there is not a Dask scheduler")


def connect_dask(address: str, *, timeout_s: float = DASK_CONNECT_S) -> Any:
    """A ``dask.distributed.Client`` connected to ``address`` (e.g. ``tcp://host:8786``).

    A malformed address, an unreachable one, or a port where something other
    than a Dask scheduler listens is one :class:`InputError` after at most
    about ``2 * timeout_s`` seconds, never a hang.
    """
    address = check_dask_address(address)
    try:
        from distributed import Client
    except ImportError:
        raise InputError(
            "Dask is not installed; install it with: pip install 'distsim[dask]'", field="--dask"
        ) from None
    try:
        _probe_dask(address, timeout_s)
        return Client(address, timeout=f"{timeout_s}s")
    except (OSError, TimeoutError, ValueError) as exc:
        why = str(exc) or f"no answer within {timeout_s:g} s (is it a Dask scheduler?)"
        raise InputError(f"cannot reach the Dask scheduler at {address}: {why}", field="--dask") from None


def run_sweep(
    sweep: Sweep,
    *,
    jobs: int | None = None,
    client: Any = None,
    dask_address: str | None = None,
    progress: bool | None = None,
    on_run: Callable[[dict[str, Any]], None] | None = None,
) -> SweepResult:
    """Run every unfinished point x replication of ``sweep`` and write the tables.

    Args:
        sweep: the loaded sweep.
        jobs: local worker processes (default ``os.cpu_count()``); 1 runs in this process.
        client: a ``dask.distributed.Client`` to submit runs to (wins over ``jobs``).
        dask_address: connect a client to this scheduler address (``tcp://host:8786``).
        progress: True/False: progress on stderr always/never; None (default): a bar on a
            terminal, a line every 30 s otherwise (:class:`distsim.progress.Progress`).
        on_run: called with each newly finished run record (after it is persisted).
    """
    if jobs is not None and jobs < 1:
        raise InputError(f"expected a job count >= 1, got {jobs}", field="--jobs")
    own_client = None
    if client is None and dask_address is not None:
        # Before anything is written: an unreachable scheduler leaves no half-made output folder.
        client = own_client = connect_dask(dask_address)
    tasks = make_tasks(sweep)
    runs_dir, changed = folder.begin(sweep, tasks)
    todo, reasons = plan(runs_dir, tasks)
    if changed or todo:
        folder.drop_figures(sweep.out_dir)
    stale = describe_stale(reasons)
    skipped = len(tasks) - len(todo)
    bar = Progress(len(tasks), skipped, unit="runs", desc=sweep.name, enabled=progress)
    log.info("%s: %d runs, %d already finished", sweep.name, len(tasks), skipped)
    if stale:
        log.info("%s: rerunning stale runs: %s", sweep.name, stale)
    executed = 0
    stream: Generator[dict[str, Any], None, None]
    if client is not None:
        stream = _execute_dask(todo, client)
    else:
        stream = _execute_local(todo, jobs if jobs is not None else (os.cpu_count() or 1))
    try:
        # closing(): an interrupt (Ctrl-C, SIGTERM in the CLI) or an error while persisting ends the
        # stream at once, which abandons the runs in flight; the runs persisted so far stay.
        with contextlib.closing(stream):
            for record in stream:
                write_json_atomic(runs_dir / run_file_name(record["point"], record["replication"]), record)
                executed += 1
                bar.advance()
                if on_run is not None:
                    on_run(record)
    finally:
        bar.close()
        if own_client is not None:
            own_client.close()
    return replace(_finish(sweep, tasks, executed, skipped), stale=stale, stale_runs=len(reasons))


def plan(runs_dir: Path, tasks: list[Task]) -> tuple[list[Task], list[list[str]]]:
    """The tasks to run, and for each stored run that no longer matches, why (:func:`.resume.stale_reasons`).

    A task is done when any stored run under ``runs_dir`` has its key; a stored
    run found under another file name (its point moved in an edited grid) is
    written under the task's name, with the task's point, replication and
    parameter columns. Every stored run is read before any is rewritten.
    """
    by_name: dict[str, dict[str, Any]] = {}
    by_key: dict[str, dict[str, Any]] = {}
    for path in sorted(runs_dir.glob("p*-r*.json")):
        record = read_run(path)
        if record is not None:
            by_name[path.name] = record
            if isinstance(record.get("key"), str):
                by_key.setdefault(record["key"], record)
    todo: list[Task] = []
    reasons: list[list[str]] = []
    for task in tasks:
        found = by_key.get(task.key)
        if found is None:
            todo.append(task)
            stored = by_name.get(task.file_name)
            if stored is not None:
                reasons.append(stale_reasons(stored, Fingerprint(**task.fingerprint)))
            continue
        moved = {**found, "point": task.point, "replication": task.replication, "params": task.params}
        if by_name.get(task.file_name) != moved:
            write_json_atomic(runs_dir / task.file_name, moved)
    return todo, reasons


def record_row(record: dict[str, Any], params: Iterable[str], columns: dict[str, Any] | None = None) -> dict[str, Any]:
    """A run record as one tidy row: point, replication, seed, the parameters, the summary fields.

    ``columns`` (the point's :attr:`~distsim.experiments.spec.Point.columns`)
    gives the parameter values; without it they come from the record.
    """
    row: dict[str, Any] = {"point": record["point"], "replication": record["replication"], "seed": record["seed"]}
    values = columns if columns is not None else record["params"]
    for name in params:
        row[name] = values[name]
    summary = record["summary"]
    for f in fields(Summary):
        if f.name in FIXED_COLUMNS:
            continue
        value = summary.get(f.name)
        row[f.name] = math.nan if value is None and f.type in ("float", float) else value
    return row


def _finish(sweep: Sweep, tasks: list[Task], executed: int, skipped: int) -> SweepResult:
    out = sweep.out_dir
    rows = []
    for task in tasks:
        record = read_run(out / RUNS_DIR / task.file_name)
        if record is None or record.get("key") != task.key:
            raise InputError(f"run {task.file_name} is missing or stale after the sweep", file=str(out))
        rows.append(record_row(record, sweep.params, task.params))
    columns = result_columns(sweep.params)
    files = [write_csv_atomic(out / "results.csv", columns, rows)]
    step("sweep: wrote results.csv")
    parquet = write_parquet_atomic(out / "results.parquet", columns, rows)
    if parquet is not None:
        files.append(parquet)
        step("sweep: wrote results.parquet")
    summary = aggregate(rows, sweep.params)
    files.append(write_summary_csv(out / "summary.csv", summary, sweep.params))
    step("sweep: wrote summary.csv")
    folder.finish(sweep, tasks, files)
    step("sweep: wrote manifest.json")
    return SweepResult(out, rows, summary, executed, skipped, files)
