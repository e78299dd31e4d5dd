"""A sweep's output folder: what it must hold, when it is finished, how it is checked.

A finished sweep folder holds ``sweep.json`` (the sweep's definition: grid,
parameter columns per point, seeds, and the run file and resume key of every
point x replication), ``runs/*.json`` (one record per run), the tables
(``results.csv``, ``summary.csv``, ``results.parquet`` when pyarrow is
installed) and, written last, ``manifest.json``: the provenance (distsim
version, git commit, dependency versions, sweep seed and run seeds, SHA-256 of
every input file: the sweep file, the base scenario, every referenced SSIM
table) and the SHA-256 of every file of the current sweep, in the format of
:func:`distsim.io.write_manifest` (the same as a run folder's).

The manifest marks a folder as finished, so a reader never takes a folder
mixed from two sweep definitions, or tables from before an edit, for results:
at every instant the folder either has a manifest that matches every listed
file, or none (tests kill the sweep at every step through
:data:`distsim.io.step_hook`). :func:`begin` (at the start of every
``distsim sweep``) first checks an existing manifest (a folder whose files do
not match it is refused: it was edited or mixed), then removes it and the
tables before anything changes, so an interrupted or edited sweep never
leaves tables that look current. Readers (:func:`~distsim.experiments.table.verified_definition`, used by
``plot``, ``report`` and :func:`~distsim.experiments.load_table`) refuse a
folder without a manifest, saying how many runs are missing, and one whose
files do not match their manifest.

When the definition changed or runs are to be run, the figures and report
that ``distsim plot`` and ``distsim report`` wrote into the folder (``plots/``,
``report.html``) are removed too: they describe results no longer there.

Run files of points no longer in the grid may stay under ``runs/``; they are
not listed in ``sweep.json`` or the manifest and no table, plot or report reads
them.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from distsim.errors import InputError
from distsim.experiments.table import SWEEP_MANIFEST
from distsim.io import MANIFEST, step, verify_manifest, write_json, write_manifest
from distsim.provenance import provenance
from distsim.scenario import referenced_files, scenario_from_dict

if TYPE_CHECKING:
    from distsim.experiments.runner import Task
    from distsim.experiments.spec import Sweep

RUNS_DIR = "runs"
#: The tables a finished sweep writes (``results.parquet`` only with pyarrow).
TABLES = ("results.csv", "results.parquet", "summary.csv")


def begin(sweep: Sweep, tasks: Sequence[Task]) -> tuple[Path, bool]:
    """Prepare ``sweep.out_dir`` for (re)running ``tasks``: its ``runs/`` folder, and whether the definition changed.

    Refuses (one-line :class:`InputError`) a folder whose ``manifest.json``
    does not match its files or describes something other than a sweep; then
    removes the manifest and the tables and writes the new ``sweep.json``
    (the definition changed when its bytes differ from the previous one's).
    """
    out = sweep.out_dir
    check_existing(out)
    runs_dir = out / RUNS_DIR
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
        # The manifest first: from here on the folder reads as unfinished, never as a stale finished sweep.
        (out / MANIFEST).unlink(missing_ok=True)
        step("sweep: removed manifest.json")
        for name in TABLES:
            (out / name).unlink(missing_ok=True)
        step("sweep: removed the tables")
    except OSError as exc:
        raise InputError(f"cannot create the output directory: {exc.strerror or exc}", file=str(out)) from None
    try:
        before = (out / SWEEP_MANIFEST).read_bytes()
    except OSError:
        before = b""
    after = write_json(out / SWEEP_MANIFEST, definition(sweep, tasks)).read_bytes()
    step("sweep: wrote sweep.json")
    return runs_dir, before != after


#: What ``distsim plot`` and ``distsim report`` write into a sweep folder by default.
FIGURES = ("plots", "report.html")


def drop_figures(out: Path) -> None:
    """Remove the figures and report of the previous results (they would describe results no longer there).

    Called when a sweep's definition changed or runs are about to be run, like a
    run folder's rerun replacing its ``plots/``.
    """
    for name in FIGURES:
        path = out / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def check_existing(out: Path) -> None:
    """Refuse (one-line :class:`InputError`) a folder with a manifest that its files do not match, or not a sweep's."""
    if (out / MANIFEST).is_file():
        manifest = verify_manifest(out)
        if manifest.get("kind") != "sweep":
            raise InputError(
                f"holds the output of 'distsim {manifest.get('kind', '?')}', not of a sweep; choose another folder",
                file=str(out),
            )


def definition(sweep: Sweep, tasks: Sequence[Task]) -> dict[str, Any]:
    """The content of ``sweep.json``."""
    return {
        "name": sweep.name,
        "file": sweep.file,
        "description": sweep.spec.description,
        "params": list(sweep.params),
        "grid": sweep.spec.grid,
        "replications": sweep.replications,
        "seed": sweep.spec.seed,
        "seeds": [sweep.seed_of(r) for r in range(sweep.replications)],
        "keep_latencies": sweep.spec.keep_latencies,
        "points": len(sweep.points),
        "columns": [point.columns for point in sweep.points],
        "runs": [
            {"file": f"{RUNS_DIR}/{t.file_name}", "point": t.point, "replication": t.replication, "key": t.key}
            for t in tasks
        ],
    }


def sweep_inputs(sweep: Sweep) -> dict[str, str | Path]:
    """Every input file of the sweep by role: ``sweep``, ``base``, then each referenced file by field path.

    A field whose points reference several files gets roles ``FIELD#1``, ``FIELD#2``... in point order.
    """
    inputs: dict[str, str | Path] = {}
    if sweep.file is not None and Path(sweep.file).is_file():
        inputs["sweep"] = Path(sweep.file)
    if sweep.base_file is not None:
        inputs["base"] = sweep.base_file
    by_field: dict[str, list[Path]] = {}
    for point in sweep.points:
        for field, path in referenced_files(scenario_from_dict(point.scenario)).items():
            seen = by_field.setdefault(field, [])
            if path not in seen:
                seen.append(path)
    for field, paths in by_field.items():
        for k, path in enumerate(paths, start=1):
            inputs[field if len(paths) == 1 else f"{field}#{k}"] = path
    return inputs


def finish(sweep: Sweep, tasks: Sequence[Task], tables: Sequence[Path]) -> Path:
    """Write ``manifest.json`` (provenance and the SHA-256 of every file of the sweep), last.

    Refuses when a referenced input file changed while the sweep ran (its runs
    would be keyed by contents they did not read); the next run reruns them.
    """
    out = sweep.out_dir
    prov = provenance(sweep.spec.seed, sweep_inputs(sweep))
    used = {digest for task in tasks for digest in task.fingerprint["inputs"].values()}
    recorded = {entry["sha256"] for role, entry in prov["inputs"].items() if role not in ("sweep", "base")}
    if used != recorded:
        raise InputError(
            "a referenced input file changed while the sweep ran; run 'distsim sweep' again to rerun what it affects",
            file=str(out),
        )
    names = [SWEEP_MANIFEST, *(p.relative_to(out).as_posix() for p in tables), *_run_files(tasks)]
    data = {
        "kind": "sweep",
        "sweep": sweep.name,
        **prov,
        "seeds": [sweep.seed_of(r) for r in range(sweep.replications)],
    }
    return write_manifest(out, data, names)


def _run_files(tasks: Sequence[Task]) -> list[str]:
    return [f"{RUNS_DIR}/{t.file_name}" for t in tasks]
