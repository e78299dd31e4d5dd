"""Figures of sweep results: the paper's Figure 3 panels, the latency-privacy trade-off (Pareto, CDF: own modules).

Every function takes the per-point summary rows of
:func:`distsim.experiments.aggregate.aggregate` (``<metric>_mean``,
``<metric>_ci95``, ``n_runs``, one column per swept parameter) and returns a
:class:`matplotlib.figure.Figure` built without pyplot, in the style of
:mod:`distsim.plots.style` (pass :class:`~distsim.plots.style.FigureOptions`).

Encodings, the same in every figure:

* x axis: ``opts.x``, else the numeric swept parameter with most values
  (:func:`default_x`). A numeric x draws one line per series with a band for
  the 95% interval; a categorical x (device mixes, CNN lists, scheduler
  names) draws grouped points with error bars, never lines.
* series: one per combination of the other *varying* parameters, styled by
  :func:`~distsim.plots.style.series_style`; the legend sits outside the data
  and its title names the grouped parameters. Series equal within 1% in every
  panel are drawn once, with all their names in the legend entry and a note;
  points of different series that would hide each other are offset sideways.
* intervals: :mod:`distsim.plots.uncertainty` (never below zero for
  non-negative metrics, positive on log axes); the notes under the panels name
  the method and the number of replications.
* first-attempt rejections and drops: a table panel (series x value), not
  annotations on the data.
* log axes only where the plotted values span more than two orders of
  magnitude, with labels on decades only.

Over 600 lines because every figure kind draws through the shared encodings
above (series, merging, dodging, the table panel, legend and notes), which are
read and changed together; the per-kind builders are short. The Pareto
labelling (:func:`place_labels`, :func:`pareto`) is the first part to move out
if the file grows.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import NullLocator
from matplotlib.transforms import Bbox

from distsim.plots.axes import clean_log_axis, log_worthy, numeric_x_axis
from distsim.plots.labels import (
    METRICS,
    PARAMETERS,
    axis_label,
    format_value,
    legend_title,
    quantity,
    series_text,
)
from distsim.plots.style import FigureOptions, add_notes, series_style, styled
from distsim.plots.uncertainty import METHOD, intervals

TAU = "privacy.max_ssim"

#: Kept for callers of the old API: parameter name -> axis label.
PARAM_LABELS: dict[str, str] = {name: q.axis_label() for name, q in PARAMETERS.items()}

#: Relative tolerance under which two series count as the same.
SAME_REL = 0.01


def param_label(name: str, opts: FigureOptions | None = None) -> str:
    """Axis label of a swept parameter."""
    return axis_label(name, opts.labels if opts else None)


def metric_label(metric: str, opts: FigureOptions | None = None) -> str:
    """Axis label (with unit) of a summary metric."""
    return axis_label(metric, opts.labels if opts else None)


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _is_numeric(values: Sequence[Any]) -> bool:
    return bool(values) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _ordered_unique(values: Sequence[Any]) -> list[Any]:
    seen: dict[str, Any] = {}
    for v in values:
        seen.setdefault(_key(v), v)
    return list(seen.values())


def _in_point_order(summary: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(summary, key=lambda r: int(r["point"]))


def varying(summary: Sequence[Mapping[str, Any]], params: Sequence[str]) -> list[str]:
    """The parameters taking more than one value in ``summary``, in sweep order."""
    return [p for p in params if len({_key(row[p]) for row in summary}) > 1]


def default_x(params: Sequence[str], summary: Sequence[Mapping[str, Any]] = ()) -> str:
    """The x axis: the numeric parameter with most distinct values (ties: sweep order).

    Without a varying numeric parameter, the categorical one with most values;
    without any varying parameter, the first one.
    """
    if not params:
        raise ValueError("no swept parameters")
    rows = list(summary)
    best: tuple[int, int, int] | None = None
    chosen = params[0]
    for k, p in enumerate(params):
        values = _ordered_unique([row[p] for row in rows]) if rows else []
        if len(values) < 2:
            continue
        score = (1 if _is_numeric(values) else 0, len(values), -k)
        if best is None or score > best:
            best, chosen = score, p
    return chosen


def x_positions(summary: Sequence[Mapping[str, Any]], x: str) -> tuple[bool, list[Any]]:
    """Whether ``x`` is numeric, and its distinct values in point order (categories)."""
    values = [row[x] for row in _in_point_order(summary)]
    return _is_numeric(values), _ordered_unique(values)


@dataclass
class Series:
    """Rows of one combination of the non-x parameters, in point order."""

    names: list[str]
    values: list[list[Any]]  # one value list per merged member
    rows: list[Mapping[str, Any]]
    style: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        texts = [series_text(self.names, v) for v in self.values]
        if len(texts) > 1 and len(self.names) == 1:
            # "D = 120, 240, 480": the symbol once.
            first = texts[0]
            head = first.split(" = ")[0] if " = " in first else ""
            if head and all(t.startswith(head + " = ") for t in texts):
                return f"{head} = " + ", ".join(t[len(head) + 3 :] for t in texts)
        return "; ".join(texts)


def split_series(summary: Sequence[Mapping[str, Any]], params: Sequence[str], x: str) -> list[Series]:
    """Rows grouped by every parameter except ``x`` (first-appearance order), each group in point order.

    Parameters with one value in the whole table stay out of legend texts.
    """
    others = [p for p in params if p != x]
    names = [p for p in varying(summary, others)]
    groups: dict[str, Series] = {}
    for row in _in_point_order(summary):
        key = _key([row[p] for p in others])
        if key not in groups:
            groups[key] = Series(names, [[row[p] for p in names]], [])
        groups[key].rows.append(row)
    out = list(groups.values())
    for i, s in enumerate(out):
        s.style = series_style(i)
    return out


def _value(row: Mapping[str, Any], metric: str, suffix: str = "mean") -> float:
    v = row.get(f"{metric}_{suffix}", math.nan)
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _nothing_served(row: Mapping[str, Any]) -> bool:
    return _value(row, "served") <= 0.0


def _same(a: float, b: float) -> bool:
    if math.isnan(a) and math.isnan(b):
        return True
    return abs(a - b) <= SAME_REL * max(abs(a), abs(b)) + 1e-12


def merge_coinciding(series: list[Series], metrics: Sequence[str]) -> tuple[list[Series], list[str]]:
    """Series whose means of every metric agree within 1% at every x, merged into one (notes say which)."""
    out: list[Series] = []
    notes: list[str] = []
    for s in series:
        for t in out:
            if len(t.rows) == len(s.rows) and all(
                _same(_value(a, m), _value(b, m)) for a, b in zip(t.rows, s.rows, strict=True) for m in metrics
            ):
                t.values.extend(s.values)
                break
        else:
            out.append(Series(s.names, [list(v) for v in s.values], s.rows))
    for i, s in enumerate(out):
        s.style = series_style(i)
        if len(s.values) > 1:
            notes.append(f"{s.label}: equal within 1% in every panel, drawn as one series.")
    return out, notes


@dataclass
class PanelInfo:
    """What a panel left out (for the notes)."""

    missing: list[str] = field(default_factory=list)
    domain: str = "nonneg"


def plot_metric(
    ax: Axes,
    summary: Sequence[Mapping[str, Any]],
    params: Sequence[str],
    x: str,
    metric: str,
    *,
    series: list[Series] | None = None,
    opts: FigureOptions | None = None,
) -> PanelInfo:
    """Mean of ``metric`` vs parameter ``x``, one series per combination of the other parameters.

    Numeric ``x``: lines with 95% interval bands. Categorical ``x``: points at
    positions 0, 1, ... with their text as tick labels, series side by side,
    95% intervals as error bars.
    """
    opts = opts or FigureOptions()
    series = series if series is not None else split_series(summary, params, x)
    q = quantity(metric, opts.labels)
    numeric, categories = x_positions(summary, x)
    pos = {_key(v): k for k, v in enumerate(categories)}
    info = PanelInfo(domain=q.domain)
    all_y: list[float] = []
    drawn: list[tuple[list[Any], np.ndarray, np.ndarray]] = []
    n = len(series)
    width = 0.7 / max(n, 1)
    for i, s in enumerate(series):
        rows = s.rows
        ys = np.array([math.nan if _nothing_served(r) else _value(r, metric) for r in rows]) * q.scale
        halves = np.array([_value(r, metric, "ci95") for r in rows]) * q.scale
        lo, hi = intervals(
            ys / q.scale if q.domain == "fraction" else ys,
            halves / q.scale if q.domain == "fraction" else halves,
            q.domain,
        )
        if q.domain == "fraction":
            lo, hi = lo * q.scale, hi * q.scale
        for r, y in zip(rows, ys, strict=True):
            if not math.isfinite(y):
                info.missing.append(f"{s.label}, {format_value(x, r[x], with_symbol=True)}")
        all_y.extend(float(v) for v in ys if math.isfinite(v))
        if numeric:
            xs = np.array([float(r[x]) for r in rows])
            (line,) = ax.plot(xs, ys, label=s.label, **s.style)
            band = ax.fill_between(xs, lo, hi, color=s.style["color"], alpha=0.15, linewidth=0)
            drawn.append(([line, band], xs, ys))
        else:
            xs = np.array([pos[_key(r[x])] + (i - (n - 1) / 2) * width for r in rows], dtype=float)
            ok = np.isfinite(lo) & np.isfinite(hi)
            yerr = np.vstack([np.where(ok, ys - lo, 0.0), np.where(ok, hi - ys, 0.0)])
            style = {k: v for k, v in s.style.items() if k != "linestyle"}
            ax.errorbar(xs, ys, yerr=yerr, linestyle="none", capsize=1.5, elinewidth=0.8, label=s.label, **style)
    ax.set_xlabel(axis_label(x, opts.labels))
    ax.set_ylabel(q.axis_label())
    ax.set_gid(f"metric={metric}")
    if numeric:
        numeric_x_axis(ax, [float(v) for v in categories])
    else:
        labels = [format_value(x, v).replace(" / ", "\n") for v in categories]
        crowded = len(categories) > 4 and max(len(t) for t in labels) > 8
        ax.set_xticks(
            range(len(categories)), labels, rotation=30 if crowded else 0, ha="right" if crowded else "center"
        )
        ax.set_xlim(-0.5, len(categories) - 0.5)
        ax.xaxis.set_minor_locator(NullLocator())
        ax.grid(False, axis="x")
    if log_worthy(all_y):
        ax.set_yscale("log")
        clean_log_axis(ax)
    elif q.domain in ("nonneg", "fraction"):
        ax.set_ylim(bottom=0.0)
    if numeric and n > 1:
        _dodge_collisions(ax, drawn)
    return info


def _dodge_collisions(ax: Axes, drawn: list[Any]) -> None:
    """Offset series sideways (a few points) where their markers would hide each other at the same x."""
    from matplotlib.transforms import ScaledTranslation

    ax.autoscale_view()
    fig = ax.get_figure()
    assert fig is not None
    trans = ax.transData
    size_px = float(ax.get_lines()[0].get_markersize()) * fig.dpi / 72.0 if ax.get_lines() else 5.0
    pts = []
    for _artists, xs, ys in drawn:
        ok = np.isfinite(ys) & ((ys > 0) | (ax.get_yscale() != "log"))
        pix = trans.transform(np.column_stack([xs[ok], ys[ok]])) if ok.any() else np.zeros((0, 2))
        pts.append(pix)
    colliding: set[int] = set()
    for i in range(len(pts)):
        for j in range(i + 1, len(pts)):
            if pts[i].size and pts[j].size:
                d = np.hypot(pts[i][:, None, 0] - pts[j][None, :, 0], pts[i][:, None, 1] - pts[j][None, :, 1])
                if (d < size_px).any():
                    colliding.update((i, j))
    group = sorted(colliding)
    step_pt = float(ax.get_lines()[0].get_markersize()) * 0.9 if ax.get_lines() else 3.0
    for k, i in enumerate(group):
        dx = (k - (len(group) - 1) / 2) * step_pt / 72.0
        offset = ScaledTranslation(dx, 0.0, fig.dpi_scale_trans)
        for artist in drawn[i][0]:
            artist.set_transform(ax.transData + offset)


def rejection_table(
    ax: Axes, summary: Sequence[Mapping[str, Any]], x: str, series: list[Series], opts: FigureOptions
) -> None:
    """A table panel: per series (rows) and x value (columns), % rejected at first attempt / % dropped."""
    _, categories = x_positions(summary, x)
    columns = [format_value(x, v).replace(" / ", "\n") for v in categories]
    cells = []
    for s in series:
        by_x = {_key(r[x]): r for r in s.rows}
        row = []
        for v in categories:
            r = by_x.get(_key(v))
            if r is None:
                row.append("")
                continue
            rejected = 100.0 * _value(r, "rejection_rate")
            dropped = 100.0 * _value(r, "dropped") / max(_value(r, "requests"), 1.0)
            row.append(f"{rejected:.0f} / {dropped:.0f}")
        cells.append(row)
    ax.axis("off")
    table = ax.table(
        cellText=cells,
        rowLabels=[s.label for s in series],
        colLabels=columns,
        cellLoc="center",
        bbox=Bbox.from_bounds(0.0, 0.0, 1.0, 1.0),
    )
    table.auto_set_font_size(False)
    table.set_fontsize(opts.small_pt)
    for (line, col), table_cell in table.get_celld().items():
        table_cell.set_linewidth(0.3)
        if line == 0 and "\n" in columns[max(col, 0)]:
            table_cell.set_height(table_cell.get_height() * 1.8)
        if col == -1 and line >= 1:
            table_cell.get_text().set_color(series[line - 1].style["color"])
    ax.set_title(
        f"requests rejected at first attempt / dropped (%), by {axis_label(x, opts.labels)}",
        fontsize=opts.small_pt,
        loc="left",
    )


def _legend(fig: Figure, series: list[Series], opts: FigureOptions, categorical: bool) -> None:
    """One legend for the whole figure, above the panels (outside the data), titled by the grouped parameters."""
    if len(series) < 2 and not (series and len(series[0].values) > 1):
        return
    handles = [
        Line2D(
            [],
            [],
            color=s.style["color"],
            marker=s.style["marker"],
            linestyle="none" if categorical else s.style["linestyle"],
        )
        for s in series
    ]
    ncols = min(len(series), 6 if opts.figsize()[0] > 5 else 3)
    fig.legend(
        handles,
        [s.label for s in series],
        loc="outside upper center",
        ncols=ncols,
        title=legend_title(series[0].names, opts.labels),
    )


def _replication_note(summary: Sequence[Mapping[str, Any]], domains: Sequence[str], categorical: bool) -> str:
    counts = sorted({int(r.get("n_runs", 0)) for r in summary})
    reps = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
    methods = "; ".join(dict.fromkeys(METHOD[d] for d in domains))
    if counts and counts[-1] < 2:
        return "Points: 1 replication each (no interval drawn)."
    if categorical:
        return f"Points: means of {reps} replications; error bars: {methods}."
    return f"Lines: means of {reps} replications per point; bands: {methods}."


def _missing_note(infos: Sequence[PanelInfo]) -> str:
    missing = list(dict.fromkeys(m for info in infos for m in info.missing))
    if not missing:
        return ""
    return "Not drawn (no request served): " + "; ".join(missing) + "."


def _panels_with_table(
    summary: Sequence[Mapping[str, Any]],
    params: Sequence[str],
    x: str,
    metrics: Sequence[str],
    opts: FigureOptions,
    title: str | None,
    *,
    table: bool,
    default_size: str,
    notes: Sequence[str] = (),
) -> Figure:
    """Metric panels side by side, the rejection table under them, one legend, notes (``notes`` after them)."""
    series = split_series(summary, params, x)
    compare = [*metrics, "rejection_rate", "dropped"] if table else list(metrics)
    series, merge_notes = merge_coinciding(series, compare)
    numeric, _categories = x_positions(summary, x)
    table_rows = len(series) + 1 if table else 0
    with styled(opts):
        header = 2 if not numeric and any(isinstance(v, dict) for v in _categories) else 1
        table_h = (table_rows + header) * opts.small_pt * 1.55 / 72 if table else 0.0
        width, height = opts.figsize(default_size)
        fig = Figure(figsize=(width, height + table_h), layout="constrained")
        if table:
            grid = fig.add_gridspec(2, len(metrics), height_ratios=[height, table_h])
            axes = [fig.add_subplot(grid[0, k]) for k in range(len(metrics))]
            table_ax = fig.add_subplot(grid[1, :])
        else:
            axes = list(np.atleast_1d(fig.subplots(1, len(metrics))))
        infos = [
            plot_metric(ax, summary, params, x, m, series=series, opts=opts)
            for ax, m in zip(axes, metrics, strict=True)
        ]
        if table:
            rejection_table(table_ax, summary, x, series, opts)
        _legend(fig, series, opts, categorical=not numeric)
        if title:
            fig.suptitle(title)
        add_notes(
            fig,
            [
                _replication_note(summary, [i.domain for i in infos], not numeric),
                *merge_notes,
                _missing_note(infos),
                *notes,
            ],
            opts,
        )
    return fig


def fig3(
    summary: Sequence[Mapping[str, Any]],
    params: Sequence[str],
    x: str | None = None,
    title: str | None = None,
    opts: FigureOptions | None = None,
) -> Figure:
    """Figure 3 panel pair: total latency and shared data vs ``x``, with the rejection table under them."""
    opts = opts or FigureOptions()
    x = x or opts.x or default_x(params, summary)
    return _panels_with_table(
        summary, params, x, ["total_latency_s", "shared_bytes"], opts, title, table=True, default_size="double"
    )


def single_metric(
    summary: Sequence[Mapping[str, Any]],
    params: Sequence[str],
    metric: str,
    x: str | None = None,
    title: str | None = None,
    opts: FigureOptions | None = None,
) -> Figure:
    """One metric vs ``x`` in one column (``fig3-latency`` adds the rejection table, ``fig3-shared`` not)."""
    opts = opts or FigureOptions()
    x = x or opts.x or default_x(params, summary)
    return _panels_with_table(
        summary, params, x, [metric], opts, title, table=metric == "total_latency_s", default_size="column"
    )


def tradeoff(
    summary: Sequence[Mapping[str, Any]],
    params: Sequence[str],
    title: str | None = None,
    opts: FigureOptions | None = None,
) -> Figure:
    """Latency-privacy trade-off: mean latency and shared data per served request vs τ, rejection table."""
    if TAU not in params:
        raise ValueError(f"the trade-off plot needs {TAU} among the swept parameters")
    opts = opts or FigureOptions()
    return _panels_with_table(
        summary,
        params,
        TAU,
        ["latency_mean_s", "shared_bytes_per_request"],
        opts,
        title,
        table=True,
        default_size="double",
    )


#: Kept for callers of the old API.
__all__ = [
    "METRICS",
    "PARAM_LABELS",
    "TAU",
    "default_x",
    "fig3",
    "format_value",
    "plot_metric",
    "single_metric",
    "split_series",
    "tradeoff",
]
