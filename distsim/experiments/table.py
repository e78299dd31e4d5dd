"""The tidy results table: columns, CSV/Parquet writing and typed reading.

``results.csv`` has one row per run: ``point``, ``replication``, ``seed``, one
column per grid key (named by its dotted path; mapping and list values are
JSON-encoded), then every field of :class:`~distsim.engine.records.Summary`
but ``seed``. Booleans are ``true``/``false``, NaN is an empty cell, floats are
written in shortest round-trip form.
"""

from __future__ import annotations

import csv
import io
import json
import math
import typing
from collections.abc import Iterable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from distsim.engine.records import Summary
from distsim.errors import InputError
from distsim.io import MANIFEST, atomic_path, cell, verify_manifest, write_csv
from distsim.reading import MAX_RESULT_BYTES, read_text

#: Columns every results table starts with.
FIXED_COLUMNS = ("point", "replication", "seed")
#: File in a sweep's output directory describing the sweep.
SWEEP_MANIFEST = "sweep.json"

_SUMMARY_TYPES: dict[str, type] = {name: hint for name, hint in typing.get_type_hints(Summary).items()}


def summary_columns() -> list[str]:
    """Summary fields that become result columns (``seed`` is already a fixed column)."""
    return [f.name for f in fields(Summary) if f.name not in FIXED_COLUMNS]


def numeric_metrics() -> list[str]:
    """Summary fields that are numbers (aggregated per point)."""
    return [name for name in summary_columns() if _SUMMARY_TYPES[name] in (int, float)]


def result_columns(params: Iterable[str]) -> list[str]:
    """Column order of ``results.csv``."""
    return [*FIXED_COLUMNS, *params, *summary_columns()]


def write_csv_atomic(path: Path, columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> Path:
    """Write a CSV table aside, then move it into place."""
    return write_csv(path, columns, rows)


def _arrow_column(values: list[Any]) -> list[Any]:
    """One type per Parquet column: JSON text for structures, floats for mixed numbers, else text."""
    if any(isinstance(v, dict | list) for v in values):
        return [json.dumps(v) for v in values]
    if all(isinstance(v, bool) for v in values) or all(isinstance(v, str) for v in values):
        return values
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values if v is not None):
        if all(isinstance(v, int) for v in values):
            return values
        return [math.nan if v is None else float(v) for v in values]
    return [cell(v) for v in values]


def write_parquet_atomic(path: Path, columns: Sequence[str], rows: list[dict[str, Any]]) -> Path | None:
    """Write ``results.parquet`` when pyarrow is importable; returns the path or None."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return None
    table = pa.table({c: _arrow_column([row.get(c) for row in rows]) for c in columns})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return path


def _parse_param(text: str) -> Any:
    if text == "":
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _parse_summary(name: str, text: str) -> Any:
    kind = _SUMMARY_TYPES.get(name, str)
    if kind is bool:
        return text == "true"
    if kind is int:
        return int(text)
    if kind is float:
        return math.nan if text == "" else float(text)
    return text


def read_manifest(out_dir: str | Path) -> dict[str, Any]:
    """``sweep.json`` of a sweep output directory."""
    path = Path(out_dir) / SWEEP_MANIFEST
    if not path.is_file():
        raise InputError(
            f"not a sweep output directory (no {SWEEP_MANIFEST}); run 'distsim sweep' first", file=str(out_dir)
        )
    try:
        data = json.loads(read_text(path, what=SWEEP_MANIFEST))
    except InputError as exc:
        raise InputError(exc.detail, file=str(out_dir)) from None
    except ValueError as exc:
        raise InputError(f"cannot read {SWEEP_MANIFEST}: {exc}", file=str(out_dir)) from None
    if not isinstance(data, dict) or not isinstance(data.get("params"), list):
        raise InputError(f"malformed {SWEEP_MANIFEST}: expected a 'params' list", file=str(out_dir))
    return data


def verified_definition(out_dir: str | Path) -> dict[str, Any]:
    """``sweep.json`` of a finished sweep folder whose files match its manifest (one-line InputError otherwise).

    A folder without ``manifest.json`` has not finished (or was written by a
    distsim that wrote no sweep manifest): the error says how many of its runs
    are missing.
    """
    definition = read_manifest(out_dir)
    root = Path(out_dir)
    if not (root / MANIFEST).is_file():
        runs = definition.get("runs")
        missing = ""
        if isinstance(runs, list):
            absent = sum(1 for run in runs if not _run_done(root, run))
            # Every run done but no manifest: the sweep stopped while writing its tables.
            missing = f"{absent} of {len(runs)} runs missing; " if absent else "its tables were not completed; "
        raise InputError(
            f"the sweep has not finished ({missing}no {MANIFEST}); run 'distsim sweep' on its file again to resume",
            file=str(out_dir),
        )
    manifest = verify_manifest(root)
    if manifest.get("kind") != "sweep":
        raise InputError(f"{MANIFEST} does not describe a sweep", file=str(out_dir))
    return definition


def _run_done(root: Path, run: Any) -> bool:
    """Whether the run file named in a ``sweep.json`` entry exists and holds that run's key."""
    if not isinstance(run, dict) or not isinstance(run.get("file"), str):
        return False
    try:
        record = json.loads((root / run["file"]).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and record.get("key") == run.get("key")


def read_results(out_dir: str | Path, *, verify: bool = True) -> tuple[list[str], list[dict[str, Any]]]:
    """Parameter names and typed rows of ``<out_dir>/results.csv``.

    With ``verify`` (the default) the folder must be a finished sweep whose
    files match their manifest (:func:`verified_definition`).
    """
    definition = verified_definition(out_dir) if verify else read_manifest(out_dir)
    params = [str(p) for p in definition["params"]]
    path = Path(out_dir) / "results.csv"
    if not path.is_file():
        raise InputError(
            "no results.csv: the sweep has not finished; run 'distsim sweep' again to resume", file=str(out_dir)
        )
    reader = csv.DictReader(io.StringIO(read_text(path, limit=MAX_RESULT_BYTES, what="results.csv")))
    missing = [name for name in (*FIXED_COLUMNS, *params) if name not in (reader.fieldnames or ())]
    if missing:
        raise InputError(f"not a results table of this sweep: no column {missing[0]!r}", file=str(path), field="header")
    rows = []
    for line, raw in enumerate(reader, start=2):
        row: dict[str, Any] = {}
        try:
            for name, value in raw.items():
                if name is None or value is None:
                    raise ValueError("a row with more or fewer cells than the header")
                if name in FIXED_COLUMNS:
                    row[name] = int(value)
                elif name in params:
                    row[name] = _parse_param(value)
                else:
                    row[name] = _parse_summary(name, value)
        except ValueError as exc:
            raise InputError(
                f"malformed row (truncated or edited?): {exc}", file=str(path), field=f"line {line}"
            ) from None
        rows.append(row)
    return params, rows
