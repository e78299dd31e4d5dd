"""Figures of sweep results: the paper's Figure 3 panels, the latency-privacy trade-off, latency CDFs.

Every function takes the per-point summary rows of
:func:`distsim.experiments.aggregate.aggregate` (``<metric>_mean``,
``<metric>_ci95``, one column per swept parameter) and returns a
:class:`matplotlib.figure.Figure` built without pyplot (no global state; the
Agg canvas renders it). Lines are means over replications, shaded bands their
95% confidence intervals. Series and categories keep the sweep's point order.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

TAU = "privacy.max_ssim"

#: Axis labels of well-known parameters.
PARAM_LABELS: dict[str, str] = {
    "participants.total": "participants D",
    TAU: "tolerated SSIM τ",
    "participants.mix": "device mix (share of participants)",
    "sources": "CNN of the requests",
    "scheduler.name": "scheduler",
    "workload.rate_per_s": "arrival rate λ (requests/s)",
    "workload.requests": "requests",
    "simulation.timing": "timing model",
}

#: metric -> (axis label with unit, factor from the stored unit to the plotted one).
METRICS: dict[str, tuple[str, float]] = {
    "total_latency_s": ("total latency (s)", 1.0),
    "latency_mean_s": ("mean latency per served request (s)", 1.0),
    "latency_p95_s": ("95th percentile latency (s)", 1.0),
    "shared_bytes": ("shared data (GB)", 1e-9),
    "shared_bytes_per_request": ("shared data per served request (MB)", 1e-6),
    "rejection_rate": ("requests rejected at first attempt (%)", 100.0),
    "dropped": ("dropped requests", 1.0),
    "throughput_per_s": ("throughput (requests/s)", 1.0),
}


def param_label(name: str) -> str:
    """Axis label of a swept parameter."""
    return PARAM_LABELS.get(name, name)


def metric_label(metric: str) -> str:
    """Axis label (with unit) of a summary metric."""
    return METRICS.get(metric, (metric, 1.0))[0]


def format_value(name: str, value: Any) -> str:
    """Short text for a parameter value (legend entries, tick labels)."""
    if name == TAU and isinstance(value, int | float):
        return f"τ = {value:g}"
    if name == "participants.total" and isinstance(value, int):
        return f"D = {value}"
    if isinstance(value, dict) and value and all(isinstance(v, int | float) for v in value.values()):
        total = float(sum(value.values()))
        if total > 0:
            return " / ".join(f"{100 * v / total:.0f}% {k}" for k, v in value.items() if v > 0)
    if isinstance(value, list) and value and all(isinstance(v, dict) and "cnn" in v for v in value):
        return ", ".join(str(v["cnn"]) + (f" ×{v['count']}" if v.get("count", 1) != 1 else "") for v in value)
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _is_numeric(values: Sequence[Any]) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _ordered_unique(values: Sequence[Any]) -> list[Any]:
    seen: dict[str, Any] = {}
    for v in values:
        seen.setdefault(_key(v), v)
    return list(seen.values())


def series_label(params: Sequence[str], values: Sequence[Any]) -> str:
    """Legend text of a series fixed by ``params = values``."""
    return ", ".join(format_value(p, v) for p, v in zip(params, values, strict=True)) or "all runs"


def split_series(
    summary: Sequence[Mapping[str, Any]], params: Sequence[str], x: str
) -> list[tuple[str, list[Mapping[str, Any]]]]:
    """Rows grouped by every parameter except ``x`` (first-appearance order), each group in point order."""
    others = [p for p in params if p != x]
    # Parameters with one value in the whole table are constant: they stay out of legend texts.
    varying = [p for p in others if len({_key(row[p]) for row in summary}) > 1]
    groups: dict[str, tuple[str, list[Mapping[str, Any]]]] = {}
    for row in sorted(summary, key=lambda r: int(r["point"])):
        values = [row[p] for p in others]
        key = _key(values)
        if key not in groups:
            groups[key] = (series_label(varying, [row[p] for p in varying]), [])
        groups[key][1].append(row)
    return list(groups.values())


def x_positions(summary: Sequence[Mapping[str, Any]], x: str) -> tuple[bool, list[Any]]:
    """Whether ``x`` is numeric, and its distinct values in point order (categories)."""
    values = [row[x] for row in sorted(summary, key=lambda r: int(r["point"]))]
    return _is_numeric(values), _ordered_unique(values)


def _finite_or_zero(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.where(np.isfinite(values), values, 0.0)


def plot_metric(
    ax: Axes,
    summary: Sequence[Mapping[str, Any]],
    params: Sequence[str],
    x: str,
    metric: str,
    *,
    annotate_rejection: bool = False,
) -> None:
    """Mean of ``metric`` vs parameter ``x``, one line per combination of the other parameters, 95% CI bands.

    Categorical ``x`` values (mixes, CNN lists) sit at positions 0, 1, ... with
    their text as tick labels. With ``annotate_rejection`` each point is marked
    with its mean first-attempt rejection percentage.
    """
    numeric, categories = x_positions(summary, x)
    pos = {_key(v): k for k, v in enumerate(categories)}
    scale = METRICS.get(metric, (metric, 1.0))[1]
    all_y: list[float] = []
    notes: list[tuple[float, float, str, Any]] = []
    for label, rows in split_series(summary, params, x):
        xs = np.array([float(r[x]) if numeric else float(pos[_key(r[x])]) for r in rows])
        # A point that served nothing has no latency or traffic to show (its 0 s would read as "fast").
        ys = (
            np.array([float(r[f"{metric}_mean"]) if float(r.get("served_mean", 1.0)) > 0 else math.nan for r in rows])
            * scale
        )
        ci = _finite_or_zero(np.array([float(r[f"{metric}_ci95"]) for r in rows]) * scale)
        (line,) = ax.plot(xs, ys, marker="o", label=label)
        ax.fill_between(xs, ys - ci, ys + ci, color=line.get_color(), alpha=0.18, linewidth=0)
        all_y.extend(float(v) for v in ys if math.isfinite(v))
        if annotate_rejection:
            for xv, yv, r in zip(xs, ys, rows, strict=True):
                rejected = 100.0 * float(r["rejection_rate_mean"])
                dropped = 100.0 * float(r["dropped_mean"]) / max(float(r["requests_mean"]), 1.0)
                if rejected >= 0.5:
                    text = f"{rejected:.0f}%" + (f" / {dropped:.0f}%" if dropped >= 0.5 else "")
                    notes.append((float(xv), float(yv), text, line.get_color()))
    ax.set_xlabel(param_label(x))
    ax.set_ylabel(metric_label(metric))
    if not numeric:
        crowded = len(categories) > 6
        ax.set_xticks(
            range(len(categories)),
            [format_value(x, v).replace(" / ", "\n") for v in categories],
            rotation=20 if crowded else 0,
            ha="right" if crowded else "center",
            fontsize=8,
        )
    elif x == "participants.total" and all_y:
        ax.set_xscale("log", base=2)
        ax.set_xticks([float(v) for v in categories], [str(v) for v in categories])
        ax.minorticks_off()
    positive = [v for v in all_y if v > 0]
    if positive and max(positive) / min(positive) > 100:
        ax.set_yscale("log")
        # A band reaching zero or below runs off the bottom edge instead of squashing the axis.
        ax.set_ylim(bottom=min(positive) / 2)
    log_y = ax.get_yscale() == "log"
    for xv, yv, text, color in notes:
        if math.isfinite(yv) and (yv > 0 or not log_y):
            ax.annotate(text, (xv, yv), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=7, color=color)
        else:
            # Nothing served (NaN, or 0 on a log axis): the label sits at the bottom edge instead.
            ax.annotate(text, (xv, 0.02), xycoords=("data", "axes fraction"), ha="center", fontsize=7, color=color)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)


def default_x(params: Sequence[str], summary: Sequence[Mapping[str, Any]] = ()) -> str:
    """The x axis of the Figure 3 panels: the first swept parameter other than τ taking several values
    in ``summary`` (else the first other than τ; τ if it is the only one)."""
    others = [p for p in params if p != TAU] or list(params)
    for p in others:
        if len({_key(row[p]) for row in summary}) > 1:
            return p
    return others[0]


def fig3(
    summary: Sequence[Mapping[str, Any]], params: Sequence[str], x: str | None = None, title: str | None = None
) -> Figure:
    """Figure 3 panel pair: (left) total latency with rejection % annotated, (right) shared data, vs ``x``."""
    x = x or default_x(params, summary)
    fig = Figure(figsize=(10, 4), layout="constrained")
    left, right = fig.subplots(1, 2)
    plot_metric(left, summary, params, x, "total_latency_s", annotate_rejection=True)
    left.set_title("total latency of served requests\n(labels: % rejected at first attempt / % dropped)", fontsize=9)
    plot_metric(right, summary, params, x, "shared_bytes")
    right.set_title("data shared between devices", fontsize=9)
    if title:
        fig.suptitle(title)
    return fig


def single_metric(
    summary: Sequence[Mapping[str, Any]],
    params: Sequence[str],
    metric: str,
    x: str | None = None,
    title: str | None = None,
) -> Figure:
    """One metric vs ``x`` (``fig3-latency``: total latency with rejection %; ``fig3-shared``: shared data)."""
    x = x or default_x(params, summary)
    fig = Figure(figsize=(5.5, 4), layout="constrained")
    ax = fig.subplots()
    plot_metric(ax, summary, params, x, metric, annotate_rejection=metric == "total_latency_s")
    if title:
        ax.set_title(title)
    return fig


def tradeoff(summary: Sequence[Mapping[str, Any]], params: Sequence[str], title: str | None = None) -> Figure:
    """Latency-privacy trade-off: mean latency and shared data per served request vs τ."""
    if TAU not in params:
        raise ValueError(f"the trade-off plot needs {TAU} among the swept parameters")
    fig = Figure(figsize=(10, 4), layout="constrained")
    left, right = fig.subplots(1, 2)
    plot_metric(left, summary, params, TAU, "latency_mean_s", annotate_rejection=True)
    plot_metric(right, summary, params, TAU, "shared_bytes_per_request")
    left.set_title("latency (labels: % rejected at first attempt / % dropped)", fontsize=9)
    right.set_title("data shared per served request", fontsize=9)
    if title:
        fig.suptitle(title)
    return fig


def pareto_front(xs: Sequence[float], ys: Sequence[float]) -> list[int]:
    """Indices of the points no other point beats in both coordinates (minimising both), by increasing x.

    Ties: among equal points the first index is kept.
    """
    order = sorted(range(len(xs)), key=lambda i: (xs[i], ys[i], i))
    front: list[int] = []
    best = math.inf
    for i in order:
        if ys[i] < best:
            front.append(i)
            best = ys[i]
    return front


def _clusters(front: Sequence[int], xs: Sequence[float], ys: Sequence[float], tol: float = 0.03) -> list[list[int]]:
    """Front points grouped when within ``tol`` (relative) of the previous one, so their labels do not overlap."""
    out: list[list[int]] = []
    for k in front:
        if out:
            j = out[-1][-1]
            if all(abs(a - b) <= tol * max(abs(a), abs(b), 1e-12) for a, b in ((xs[k], xs[j]), (ys[k], ys[j]))):
                out[-1].append(k)
                continue
        out.append([k])
    return out


def pareto(summary: Sequence[Mapping[str, Any]], params: Sequence[str], title: str | None = None) -> Figure:
    """Mean latency vs shared data per served request for every point, with the Pareto front.

    A point that dropped requests is drawn hollow and kept out of the front:
    its per-request figures describe only the requests it could serve. When no
    point served everything the front is taken over all points (the title says so).
    """
    fig = Figure(figsize=(6.5, 4.5), layout="constrained")
    ax = fig.subplots()
    series_param = TAU if TAU in params else (params[0] if params else None)
    others = [p for p in params if p != series_param]
    xs = [float(r["shared_bytes_per_request_mean"]) * 1e-6 for r in summary]
    ys = [float(r["latency_mean_s_mean"]) for r in summary]
    complete = [float(r["dropped_mean"]) == 0.0 and math.isfinite(ys[k]) for k, r in enumerate(summary)]
    groups: dict[str, list[int]] = {}
    labels: dict[str, str] = {}
    for k, r in enumerate(summary):
        value = r[series_param] if series_param else None
        key = _key(value)
        groups.setdefault(key, []).append(k)
        labels[key] = format_value(series_param, value) if series_param else "points"
    for n, (key, members) in enumerate(groups.items()):
        color = f"C{n % 10}"
        full = [k for k in members if complete[k]]
        part = [k for k in members if not complete[k]]
        if full:
            ax.scatter([xs[k] for k in full], [ys[k] for k in full], color=color, label=labels[key], zorder=3)
        if part:
            ax.scatter(
                [xs[k] for k in part],
                [ys[k] for k in part],
                facecolors="none",
                edgecolors=color,
                zorder=3,
                label=f"{labels[key]} (dropped requests)",
            )
    pool = [k for k in range(len(summary)) if complete[k] and math.isfinite(xs[k])]
    scope = "points serving every request"
    if not pool:
        pool = [k for k in range(len(summary)) if math.isfinite(xs[k]) and math.isfinite(ys[k])]
        scope = "all points (none served every request)"
    front = [pool[i] for i in pareto_front([xs[k] for k in pool], [ys[k] for k in pool])]
    ax.plot(
        [xs[k] for k in front],
        [ys[k] for k in front],
        color="black",
        linestyle="--",
        linewidth=1,
        drawstyle="steps-post",
        label="Pareto front",
        zorder=2,
    )
    if others:
        for cluster in _clusters(front, xs, ys):
            text = " / ".join(series_label(others, [summary[k][p] for p in others]) for k in cluster)
            ax.annotate(text, (xs[cluster[0]], ys[cluster[0]]), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xlabel(metric_label("shared_bytes_per_request"))
    ax.set_ylabel(metric_label("latency_mean_s"))
    positive = [v for v in ys if math.isfinite(v) and v > 0]
    if positive and max(positive) / min(positive) > 100:
        ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or f"latency vs shared data (front over {scope})", fontsize=9)
    return fig


def latency_cdf(groups: Mapping[str, npt.ArrayLike], title: str | None = None, by: str | None = None) -> Figure:
    """Empirical CDF of per-request latency, one line per group (pooled over runs).

    ``groups`` maps a legend label to the latencies (s) of served requests.
    """
    fig = Figure(figsize=(6.5, 4.5), layout="constrained")
    ax = fig.subplots()
    smallest = math.inf
    for label, values in groups.items():
        data = np.sort(np.asarray(values, dtype=np.float64))
        data = data[np.isfinite(data)]
        if data.size == 0:
            continue
        share = np.arange(1, data.size + 1) / data.size
        ax.plot(data, share, drawstyle="steps-post", label=f"{label} (n = {data.size})")
        if data[0] > 0:
            smallest = min(smallest, float(data[0]))
    ax.set_xlabel("per-request latency (s)")
    ax.set_ylabel("fraction of served requests")
    if math.isfinite(smallest):
        ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, title=param_label(by) if by else None)
    if title:
        ax.set_title(title)
    return fig
