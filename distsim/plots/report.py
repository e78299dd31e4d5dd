"""``distsim report RESULTS``: one self-contained HTML page for a run or a sweep.

The page holds a summary table, every figure of the results inline as SVG
(text drawn as paths, so no font is needed), and the provenance: distsim and
package versions, seeds, the scenario or sweep file, and SHA-256 hashes of
the input and result files (from the manifest when it records them, else
computed here). It has no script, no stylesheet or image from elsewhere and
no link that needs a network: it opens from disk in any browser.

>>> from distsim.plots.report import write_report
>>> write_report("results/fig3-ab")            # doctest: +SKIP
PosixPath('results/fig3-ab/report.html')
"""

from __future__ import annotations

import contextlib
import csv
import html
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from distsim.errors import InputError
from distsim.io import sha256_file
from distsim.plots.labels import METRICS, axis_label, format_value, quantity
from distsim.plots.style import FigureOptions, svg_text, write_atomic

#: Metrics of the sweep summary table, in column order.
SWEEP_COLUMNS = (
    "total_latency_s",
    "latency_mean_s",
    "latency_p95_s",
    "shared_bytes",
    "rejection_rate",
    "dropped",
    "throughput_per_s",
)

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:60em;padding:0 1em;
color:#222;line-height:1.4}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
th,td{border:1px solid #ccc;padding:.2em .5em;text-align:right}th{background:#f3f3f3}
td.l,th.l{text-align:left}
figure{margin:1em 0}figure svg{max-width:100%;height:auto}
figcaption{font-size:.85em;color:#444}
pre{background:#f6f6f6;padding:.6em;overflow-x:auto;font-size:.8em}
code{font-size:.9em}
"""


def _fmt(value: Any, scale: float = 1.0) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value * scale:g}" if scale != 1.0 else str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "–"
        v = value * scale
        return f"{v:.4g}" if abs(v) < 1e5 else f"{v:,.0f}"
    return html.escape(str(value))


def _mean_ci(mean: Any, half: Any, scale: float) -> str:
    """``mean ± half`` with the half-width to 2 significant digits and the mean to the same decimal place."""
    try:
        m, h = float(mean) * scale, float(half) * scale
    except (TypeError, ValueError):
        return _fmt(mean, scale)
    if not math.isfinite(m):
        return "–"
    if not math.isfinite(h):
        return f"{m:.4g}"
    if h <= 1e-9 * max(abs(m), 1e-300):
        return f"{m:.4g} ± 0"
    digits = max(0, 1 - math.floor(math.log10(h)))
    return f"{m:.{digits}f} ± {h:.{digits}f}" if digits <= 6 else f"{m:.3g} ± {h:.2g}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], left: int = 0) -> str:
    """An HTML table; the first ``left`` columns are left-aligned. Cells are already escaped."""
    head = "".join(f'<th class="l">{h}</th>' if k < left else f"<th>{h}</th>" for k, h in enumerate(header))
    body = "".join(
        "<tr>" + "".join(f'<td class="l">{c}</td>' if k < left else f"<td>{c}</td>" for k, c in enumerate(r)) + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure_html(fig: Figure, caption: str) -> str:
    return f"<figure>{svg_text(fig)}<figcaption>{html.escape(caption)}</figcaption></figure>"


def _hashes(root: Path, names: Sequence[str], manifest: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(file, sha256, source) for the files the manifest hashes, else for ``names`` found under ``root``."""
    recorded: dict[str, str] = {}
    for key in ("sha256", "hashes", "files_sha256", "files", "inputs"):
        block = manifest.get(key)
        if isinstance(block, dict):
            for name, value in block.items():
                # distsim.io's manifest: ``files: {name: {sha256, bytes}}``, ``inputs: {field: {path, sha256}}``.
                if isinstance(value, dict):
                    name, value = str(value.get("path", name)), value.get("sha256")
                if isinstance(value, str) and len(value) == 64:
                    recorded[str(name)] = value
    out = [(name, digest, "manifest") for name, digest in sorted(recorded.items())]
    for name in names:
        path = root / name
        if name not in recorded and path.is_file():
            out.append((name, sha256_file(path), "computed now"))
    return out


def _provenance(rows: Sequence[tuple[str, str]], hashes: Sequence[tuple[str, str, str]]) -> str:
    parts = [_table(["what", "value"], [(html.escape(k), html.escape(v)) for k, v in rows], left=2)]
    if hashes:
        parts.append("<p>SHA-256 of inputs and results:</p>")
        parts.append(
            _table(
                ["file", "SHA-256", "from"],
                [(html.escape(f), f"<code>{d}</code>", html.escape(s)) for f, d, s in hashes],
                left=3,
            )
        )
    return "".join(parts)


def _git_text(git: Any) -> str:
    if isinstance(git, dict) and git.get("commit"):
        return f"{git['commit']}{' (dirty: tracked files differed)' if git.get('dirty') else ''}"
    return "not recorded (not run from a git checkout)"


def _versions_text(versions: Any) -> str:
    if isinstance(versions, dict):
        return ", ".join(f"{k} {v}" for k, v in versions.items())
    return str(versions) if versions else "not recorded"


def _page(title: str, sections: Sequence[tuple[str, str]]) -> str:
    body = "".join(f"<h2>{html.escape(h)}</h2>{content}" for h, content in sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>\n"
    )


def _current_versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for name in ("distsim", "numpy", "simpy", "matplotlib", "pydantic", "ortools"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def sweep_report(out_dir: str | Path, opts: FigureOptions | None = None) -> str:
    """The HTML page of a sweep output directory (a finished sweep whose files match its manifest)."""
    from distsim.experiments.table import read_manifest
    from distsim.io import read_manifest as read_folder_manifest
    from distsim.plots.figures import fig3, tradeoff
    from distsim.plots.io import build_cdf, load_summary
    from distsim.plots.kinds import PlotRequest
    from distsim.plots.pareto_view import pareto

    root = Path(out_dir)
    opts = opts or FigureOptions()
    params, summary = load_summary(root)  # refuses an unfinished folder or one that does not match its manifest
    manifest = read_manifest(root)
    recorded = read_folder_manifest(root)
    metrics = [m for m in SWEEP_COLUMNS if f"{m}_mean" in summary[0]]
    header = [html.escape(axis_label(p, opts.labels)) for p in params] + ["runs"]
    header += [html.escape(quantity(m).axis_label()) + " mean ± 95%" for m in metrics]
    rows = []
    for r in summary:
        cells = [html.escape(format_value(p, r[p])) for p in params] + [str(r.get("n_runs", ""))]
        for m in metrics:
            scale = METRICS[m].scale
            mean, half = r.get(f"{m}_mean"), r.get(f"{m}_ci95")
            cells.append(_mean_ci(mean, half, scale))
        rows.append(cells)
    figures = []
    figures.append(_figure_html(fig3(summary, params, opts=opts), "Total latency and shared data (kind fig3)."))
    if "privacy.max_ssim" in params and len(params) > 1:
        figures.append(_figure_html(tradeoff(summary, params, opts=opts), "Per-request trade-off (kind tradeoff)."))
    figures.append(_figure_html(pareto(summary, params, opts=opts), "Latency vs shared data (kind pareto)."))
    if manifest.get("keep_latencies"):
        cdf = build_cdf(PlotRequest([root], opts))
        figures.append(_figure_html(cdf, "Per-request latency CDF (kind cdf)."))
    files = ["sweep.json", "results.csv", "summary.csv"]
    sweep_file = manifest.get("file")
    prov = [
        ("sweep", str(manifest.get("name", root.name))),
        ("description", str(manifest.get("description", ""))),
        ("sweep file", str(sweep_file or "not recorded")),
        ("grid", json.dumps(manifest.get("grid", {}), separators=(", ", ": "))),
        ("replications", str(manifest.get("replications", ""))),
        ("sweep seed", str(manifest.get("seed", ""))),
        ("replication seeds", ", ".join(str(s) for s in manifest.get("seeds", []))),
        ("git commit (recorded)", _git_text(recorded.get("git"))),
        ("versions (recorded)", _versions_text(recorded.get("versions"))),
        ("versions (drawing this page)", _versions_text(_current_versions())),
    ]
    listed: dict[str, Any] = recorded["files"]  # io.read_manifest checked it is a mapping
    run_files = [name for name in listed if name.startswith("runs/")]
    # One row per table and input; the run files only counted (a sweep may have thousands).
    shown = {**recorded, "files": {k: v for k, v in listed.items() if k not in run_files}}
    hashes = _hashes(root, files, shown)
    if run_files:
        hashes.append((f"runs/ ({len(run_files)} run files)", "listed in manifest.json", "manifest"))
    sections = [
        (
            "Summary",
            f"<p>{len(summary)} points × {manifest.get('replications', '?')} replications.</p>"
            + _table(header, rows, left=len(params)),
        ),
        ("Figures", "".join(figures)),
        ("Provenance", _provenance(prov, hashes)),
    ]
    return _page(f"distsim sweep report: {manifest.get('name', root.name)}", sections)


def run_report(out_dir: str | Path, opts: FigureOptions | None = None) -> str:
    """The HTML page of a ``distsim run`` output directory."""
    from distsim.plots.cdf import latency_cdf
    from distsim.plots.io import cdf_from_run_dirs

    root = Path(out_dir)
    opts = opts or FigureOptions()
    from distsim.io import verify_manifest

    try:
        # A folder whose files do not match their manifest (mixed from two runs, edited) is refused.
        manifest = verify_manifest(root)
        summary = json.loads((root / "summary.json").read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(f"not a run directory (no {Path(str(exc.filename)).name})", file=str(root)) from None
    except ValueError as exc:
        raise InputError(f"cannot read the run's JSON: {exc}", file=str(root)) from None
    rows = []
    for key, value in summary.items():
        q = METRICS.get(key)
        label = q.axis_label() if q else key.replace("_", " ")
        rows.append((html.escape(label), _fmt(value, q.scale if q else 1.0)))
    figures = []
    groups = cdf_from_run_dirs([root])
    if any(len(v) for v in groups.values()):
        figures.append(_figure_html(latency_cdf(groups, opts=opts), "Per-request latency CDF of served requests."))
    devices = _devices_table(root / "devices.csv")
    prov = [
        ("scenario", str(manifest.get("scenario", ""))),
        ("seed", str(manifest.get("seed", ""))),
        ("versions (recorded)", _versions_text(manifest.get("versions"))),
        ("versions (drawing this page)", _versions_text(_current_versions())),
    ]
    files = [str(f) for f in manifest.get("files", [])] or ["requests.csv", "devices.csv", "summary.json"]
    hashes = _hashes(root, [f for f in files if f != "manifest.json"] + ["manifest.json"], manifest)
    scenario_text = (root / "scenario.yaml").read_text(encoding="utf-8") if (root / "scenario.yaml").is_file() else ""
    sections = [
        ("Summary", _table(["metric", "value"], rows, left=1)),
        ("Figures", "".join(figures) or "<p>No request was served: nothing to plot.</p>"),
        ("Busiest devices", devices),
        (
            "Provenance",
            _provenance(prov, hashes)
            + (f"<p>Scenario as run:</p><pre>{html.escape(scenario_text)}</pre>" if scenario_text else ""),
        ),
    ]
    return _page(f"distsim run report: {manifest.get('scenario', root.name)}", sections)


def _devices_table(path: Path, limit: int = 15) -> str:
    if not path.is_file():
        return "<p>No devices.csv.</p>"
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return "<p>No devices.</p>"
    key = "busy_s" if "busy_s" in rows[0] else next(iter(rows[0]))
    with contextlib.suppress(ValueError):
        rows.sort(key=lambda r: -float(r.get(key) or 0.0))
    columns = list(rows[0])
    body = [[html.escape(r[c]) for c in columns] for r in rows[:limit]]
    note = f"<p>The {min(limit, len(rows))} of {len(rows)} devices with the largest {html.escape(key)}.</p>"
    return note + _table([html.escape(c) for c in columns], body, left=2)


def write_report(results: str | Path, out: str | Path | None = None, opts: FigureOptions | None = None) -> Path:
    """Write the report of a sweep or run directory to ``out`` (default ``RESULTS/report.html``) atomically."""
    from distsim.plots.io import is_run_dir
    from distsim.plots.style import styled

    root = Path(results)
    opts = opts or FigureOptions()
    if (root / "sweep.json").is_file():
        kind = "sweep"
    elif is_run_dir(root):
        kind = "run"
    else:
        raise InputError(
            "expected a sweep output directory (sweep.json) or a run directory (requests.csv)", file=str(root)
        )
    with styled(opts):
        text = sweep_report(root, opts) if kind == "sweep" else run_report(root, opts)
    target = Path(out) if out else root / "report.html"

    def write(tmp: str) -> None:
        Path(tmp).write_text(text, encoding="utf-8")

    return write_atomic(target, write)
