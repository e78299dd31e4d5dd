"""The Pareto view of a sweep: mean latency vs shared data per served request, and the front."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from distsim.plots.annotate import place_labels
from distsim.plots.axes import clean_log_axis, log_worthy
from distsim.plots.figures import TAU, Series, _key, _nothing_served, _value, varying
from distsim.plots.labels import axis_label, quantity, series_text
from distsim.plots.style import FigureOptions, add_notes, new_figure, series_style, styled


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
    """Front points grouped when within ``tol`` (relative) of the previous one, so one label names them all."""
    out: list[list[int]] = []
    for k in front:
        if out:
            j = out[-1][-1]
            if all(abs(a - b) <= tol * max(abs(a), abs(b), 1e-12) for a, b in ((xs[k], xs[j]), (ys[k], ys[j]))):
                out[-1].append(k)
                continue
        out.append([k])
    return out


def pareto(
    summary: Sequence[Mapping[str, Any]],
    params: Sequence[str],
    title: str | None = None,
    opts: FigureOptions | None = None,
) -> Figure:
    """Mean latency vs shared data per served request for every point, with the Pareto front.

    Colour and marker: τ (or the first parameter). A point that dropped
    requests is drawn hollow and kept out of the front: its per-request
    figures describe only the requests it could serve. When no point served
    everything the front is taken over all points (the notes say so). Front
    points are labelled with the other parameters, placed without overlap.
    """
    opts = opts or FigureOptions()
    series_param = TAU if TAU in params else (params[0] if params else None)
    others = varying(summary, [p for p in params if p != series_param])
    xq, yq = quantity("shared_bytes_per_request", opts.labels), quantity("latency_mean_s", opts.labels)
    xs = [_value(r, "shared_bytes_per_request") * xq.scale for r in summary]
    ys = [math.nan if _nothing_served(r) else _value(r, "latency_mean_s") for r in summary]
    complete = [_value(r, "dropped") == 0.0 and math.isfinite(ys[k]) for k, r in enumerate(summary)]
    groups: dict[str, list[int]] = {}
    values: dict[str, Any] = {}
    for k, r in enumerate(summary):
        value = r[series_param] if series_param else None
        key = _key(value)
        groups.setdefault(key, []).append(k)
        values[key] = value
    with styled(opts):
        fig = new_figure(opts, "column", 1.25)
        ax = fig.subplots()
        handles, labels = [], []
        for n, (key, members) in enumerate(groups.items()):
            st = series_style(n, line=False)
            full = [k for k in members if complete[k]]
            part = [k for k in members if not complete[k] and math.isfinite(ys[k])]
            if full:
                ax.plot([xs[k] for k in full], [ys[k] for k in full], linestyle="none", zorder=3, **st)
            if part:
                ax.plot(
                    [xs[k] for k in part],
                    [ys[k] for k in part],
                    linestyle="none",
                    zorder=3,
                    markerfacecolor="none",
                    **st,
                )
            handles.append(Line2D([], [], linestyle="none", **st))
            labels.append(series_text([series_param], [values[key]]) if series_param else "points")
        pool = [k for k in range(len(summary)) if complete[k] and math.isfinite(xs[k])]
        scope = "points that served every request"
        if not pool:
            pool = [k for k in range(len(summary)) if math.isfinite(xs[k]) and math.isfinite(ys[k])]
            scope = "all points (none served every request)"
        front = [pool[i] for i in pareto_front([xs[k] for k in pool], [ys[k] for k in pool])]
        ax.plot(
            [xs[k] for k in front],
            [ys[k] for k in front],
            color="#555555",
            linestyle="--",
            linewidth=0.8,
            drawstyle="steps-post",
            zorder=2,
        )
        if any(not c for c in complete):
            handles.append(Line2D([], [], linestyle="none", marker="o", markerfacecolor="none", color="#555555"))
            labels.append("hollow: dropped requests")
        handles.append(Line2D([], [], color="#555555", linestyle="--", linewidth=0.8))
        labels.append("Pareto front")
        ax.set_xlabel(xq.axis_label())
        ax.set_ylabel(yq.axis_label())
        if log_worthy(ys):
            ax.set_yscale("log")
            clean_log_axis(ax)
        else:
            ax.set_ylim(bottom=0.0)
        if log_worthy(xs):
            ax.set_xscale("log")
            clean_log_axis(ax, "x")
        else:
            ax.set_xlim(left=0.0)
        fig.legend(
            handles,
            labels,
            loc="outside upper center",
            ncols=3,
            title=axis_label(series_param, opts.labels) if series_param else None,
        )
        if title:
            fig.suptitle(title)
        notes = [
            f"Points: means of {_reps(summary)} replications (intervals in summary.csv); front over {scope}.",
        ]
        if others:
            items = []
            for cluster in _clusters(front, xs, ys):
                text = Series(others, [[summary[k][p] for p in others] for k in cluster], []).label
                items.append((xs[cluster[0]], ys[cluster[0]], text))
            unplaced = place_labels(ax, items, opts.small_pt)
            if unplaced:
                notes.append("Front points not labelled for lack of room: " + "; ".join(unplaced) + ".")
        add_notes(fig, notes, opts)
    return fig


def _reps(summary: Sequence[Mapping[str, Any]]) -> str:
    counts = sorted({int(r.get("n_runs", 0)) for r in summary})
    return f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
