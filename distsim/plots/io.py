"""Loading sweep outputs for plotting, choosing a plot kind, the builders of the sweep plot kinds."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from matplotlib.figure import Figure

from distsim.errors import InputError
from distsim.experiments.aggregate import aggregate
from distsim.experiments.table import read_manifest, read_results, verified_definition
from distsim.io import verify_manifest
from distsim.plots import style
from distsim.plots.cdf import latency_cdf
from distsim.plots.figures import TAU, fig3, single_metric, tradeoff
from distsim.plots.kinds import KINDS, PlotRequest
from distsim.plots.labels import axis_label, format_value
from distsim.plots.pareto_view import pareto
from distsim.plots.style import FigureOptions
from distsim.reading import MAX_RESULT_BYTES, read_text


def load_summary(out_dir: str | Path) -> tuple[list[str], list[dict[str, Any]]]:
    """Swept parameter names and per-point summary rows (mean, 95% CI) of a sweep output directory."""
    params, rows = read_results(out_dir)
    if not rows:
        raise InputError("results.csv has no rows", file=str(out_dir))
    return params, aggregate(rows, params)


def default_kind(params: Sequence[str]) -> str:
    """``tradeoff`` when τ is the only swept parameter, else ``fig3`` (metrics vs the first other parameter)."""
    return "tradeoff" if list(params) == [TAU] else "fig3"


def cdf_from_sweep(out_dir: str | Path, by: str | None = None) -> tuple[str, dict[str, npt.NDArray[np.float64]]]:
    """Per-request latencies of a sweep run with ``keep_latencies: true``, pooled per value of ``by``.

    ``by`` defaults to τ if swept, else ``scheduler.name`` if swept, else the
    first parameter; runs are pooled over the other parameters and replications.
    Only the runs of the sweep's current points are read (those ``sweep.json``
    lists, with their keys), in a folder whose files match its manifest; the
    value of ``by`` is the point's column (read from its resolved scenario).
    """
    manifest = verified_definition(out_dir)
    params = [str(p) for p in manifest["params"]]
    if not manifest.get("keep_latencies"):
        raise InputError(
            "the sweep kept no per-request latencies; set 'keep_latencies: true' in the sweep "
            "file and run it again, or plot run directories of 'distsim run'",
            file=str(out_dir),
        )
    if by is None:
        by = TAU if TAU in params else "scheduler.name" if "scheduler.name" in params else params[0]
    if by not in params:
        raise InputError(f"expected one of the swept parameters {', '.join(params)}, got {by!r}", field="--by")
    pooled: dict[str, list[float]] = {}
    runs, columns = manifest.get("runs"), manifest.get("columns")
    if not isinstance(runs, list) or not isinstance(columns, list):
        raise InputError("sweep.json lists no runs; run 'distsim sweep' on its file again", file=str(out_dir))
    for run in runs:
        path = Path(out_dir) / str(run.get("file") if isinstance(run, dict) else run)
        try:
            record = json.loads(read_text(path, limit=MAX_RESULT_BYTES, what="run file"))
            if record["key"] != run["key"]:
                raise ValueError("its key is not the one sweep.json lists")
            label = format_value(by, columns[int(run["point"])][by], with_symbol=True)
            pooled.setdefault(label, []).extend(float(v) for v in record.get("latencies_s", []))
        except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            raise InputError(f"malformed run file (truncated or foreign?): {exc!r}", file=str(path)) from None
    if not pooled:
        raise InputError("no run files under runs/", file=str(out_dir))
    return by, {label: np.asarray(values) for label, values in pooled.items()}


def cdf_from_run_dirs(dirs: Sequence[str | Path]) -> dict[str, npt.NDArray[np.float64]]:
    """Latencies of served requests from ``distsim run`` output directories (``requests.csv``), by directory name."""
    groups: dict[str, npt.NDArray[np.float64]] = {}
    for d in dirs:
        path = Path(d) / "requests.csv"
        if not path.is_file():
            raise InputError("not a run directory (no requests.csv)", file=str(d))
        reader = csv.DictReader(io.StringIO(read_text(path, limit=MAX_RESULT_BYTES, what="requests.csv")))
        if "latency_s" not in (reader.fieldnames or ()):
            raise InputError("not a requests table of distsim run: no column 'latency_s'", file=str(path))
        verify_manifest(d)
        try:
            values = [
                float(row["latency_s"]) for row in reader if row.get("dropped") != "true" and row.get("latency_s")
            ]
        except (ValueError, TypeError) as exc:
            raise InputError(f"malformed row (truncated or edited?): {exc}", file=str(path)) from None
        groups[Path(d).name] = np.asarray(values)
    return groups


def is_run_dir(path: str | Path) -> bool:
    """Whether ``path`` holds the output of ``distsim run`` (not of a sweep)."""
    return (Path(path) / "requests.csv").is_file() and not (Path(path) / "sweep.json").is_file()


def _sweep_summary(request: PlotRequest, kind: str) -> tuple[list[str], list[dict[str, Any]]]:
    if len(request.results) != 1:
        raise InputError(f"the {kind} plot takes one sweep output directory", field="RESULTS")
    params, summary = load_summary(request.results[0])
    x = request.opts.x
    if x is not None and x not in params:
        raise InputError(f"expected one of the swept parameters {', '.join(params)}, got {x!r}", field="--x")
    return params, summary


def build_fig3(request: PlotRequest) -> Figure:
    params, summary = _sweep_summary(request, "fig3")
    return fig3(summary, params, title=request.title, opts=request.opts)


def build_latency(request: PlotRequest) -> Figure:
    params, summary = _sweep_summary(request, "fig3-latency")
    return single_metric(summary, params, "total_latency_s", title=request.title, opts=request.opts)


def build_shared(request: PlotRequest) -> Figure:
    params, summary = _sweep_summary(request, "fig3-shared")
    return single_metric(summary, params, "shared_bytes", title=request.title, opts=request.opts)


def build_tradeoff(request: PlotRequest) -> Figure:
    params, summary = _sweep_summary(request, "tradeoff")
    if TAU not in params:
        raise InputError(f"the trade-off plot needs {TAU} among the swept parameters", field="--kind")
    return tradeoff(summary, params, title=request.title, opts=request.opts)


def build_pareto(request: PlotRequest) -> Figure:
    params, summary = _sweep_summary(request, "pareto")
    return pareto(summary, params, title=request.title, opts=request.opts)


def build_cdf(request: PlotRequest) -> Figure:
    results = request.results
    if all(is_run_dir(r) for r in results):
        return latency_cdf(cdf_from_run_dirs(results), title=request.title, opts=request.opts)
    if len(results) != 1:
        raise InputError("expected one sweep output directory, or only 'distsim run' directories", field="RESULTS")
    by, groups = cdf_from_sweep(results[0], request.by)
    params = [str(p) for p in read_manifest(results[0])["params"]]
    others = [p for p in params if p != by]
    pooled = (
        f"pooled over {', '.join(axis_label(p) for p in others)} and replications"
        if others
        else ("pooled over replications")
    )
    return latency_cdf(groups, title=request.title, by=by, opts=request.opts, pooled=pooled)


def make_figure(
    kind: str,
    results: Sequence[str | Path],
    *,
    x: str | None = None,
    by: str | None = None,
    title: str | None = None,
    opts: FigureOptions | None = None,
) -> Figure:
    """Build the figure of ``kind`` from sweep output directories (or, for ``cdf``, run directories)."""
    if kind not in KINDS:
        raise InputError(f"unknown plot kind {kind!r}; expected one of {', '.join(KINDS)}", field="--kind")
    opts = opts or FigureOptions()
    if x is not None:
        opts = replace(opts, x=x)
    request = PlotRequest([Path(r) for r in results], opts, by=by, title=title)
    return KINDS[kind].load()(request)


def save_figure(
    fig: Figure, out_dir: str | Path, stem: str, opts: FigureOptions | None = None, *, dpi: int | None = None
) -> list[Path]:
    """Write ``<stem>.<format>`` (PDF, SVG, PNG by default) into ``out_dir`` (:func:`.style.save_figure`)."""
    return style.save_figure(fig, out_dir, stem, opts, dpi=dpi)
