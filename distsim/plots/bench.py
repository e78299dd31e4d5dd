"""Figures of the benchmarks (scheduler comparison, speed and memory, timing divergence), in the one style.

The benchmark modules (``benchmarks/``) measure; these functions draw. They
take plain rows (mappings or dataclass instances with the benchmark's field
names) and return a :class:`matplotlib.figure.Figure`:

* :func:`scheduler_figure`: latency relative to CP-SAT as bars on a *linear*
  axis (bar length is the ratio), with a marker per instance; a scheduler
  that placed nothing for a CNN gets an ``all rejected`` label where its bar
  would be; decision time as grouped points on a log axis (it spans orders of
  magnitude, so no bars there).
* :func:`perf_decisions_figure`: decision time vs participants, fast vs
  reference, log-log, one shared legend.
* :func:`perf_scaling_figure`: wall time (log-log) and peak memory (linear,
  from 0, so a 0.1 MB difference does not fill the axis) vs requests.
* :func:`timing_divergence_figure`: analytic vs contention latency vs the
  arrival rate, and where the latency goes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, is_dataclass
from typing import Any

import numpy as np
from matplotlib.artist import Artist
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import NullLocator

from distsim.plots.axes import clean_log_axis, log_worthy, numeric_x_axis
from distsim.plots.style import PALETTE, FigureOptions, add_notes, new_figure, series_style, styled
from distsim.plots.uncertainty import METHOD, interval

CNN_ORDER = ("lenet", "cifar_cnn", "vgg16", "vgg19")


def _rows(rows: Iterable[Any]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        if is_dataclass(r) and not isinstance(r, type):
            out.append(asdict(r))
        else:
            out.append(dict(r))
    return out


def _finite(v: Any) -> bool:
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def _ordered(values: Iterable[str], order: Sequence[str]) -> list[str]:
    seen = list(dict.fromkeys(values))
    return sorted(seen, key=lambda v: (order.index(v) if v in order else len(order), seen.index(v)))


def scheduler_figure(
    rows: Iterable[Any], schedulers: Sequence[str], opts: FigureOptions | None = None, *, reference: str = "exact"
) -> Figure:
    """Scheduler benchmark: latency / CP-SAT latency (bars, linear) and decision time (points, log), per CNN.

    ``rows``: one per (instance, scheduler) with ``cnn``, ``participants``,
    ``tau``, ``seed``, ``scheduler``, ``latency_s`` (NaN when rejected) and
    ``decision_s``. The ratio is averaged over the instances both placed.
    """
    opts = opts or FigureOptions()
    data = _rows(rows)
    names = [reference, *[s for s in schedulers if s != reference]]
    cnns = _ordered((r["cnn"] for r in data), CNN_ORDER)
    ref = {
        (r["cnn"], r["participants"], r["tau"], r["seed"]): float(r["latency_s"])
        for r in data
        if r["scheduler"] == reference
    }
    n = max(len(cnns), 1)
    width = 0.8 / n
    x = np.arange(len(names), dtype=float)
    notes: list[str] = []
    with styled(opts):
        fig = new_figure(opts, "double", 1.25)
        ratio_ax, time_ax = fig.subplots(1, 2)
        rejected_texts: list[tuple[float, str]] = []
        partial: dict[tuple[str, int, int], list[str]] = {}
        top = 1.0
        for k, cnn in enumerate(cnns):
            color = PALETTE[k % len(PALETTE)]
            marker = series_style(k)["marker"]
            means, times_lo, times_mid, times_hi = [], [], [], []
            for j, name in enumerate(names):
                sel = [r for r in data if r["cnn"] == cnn and r["scheduler"] == name]
                ratios = [
                    float(r["latency_s"]) / ref[key]
                    for r in sel
                    if _finite(r["latency_s"])
                    and _finite(ref.get(key := (r["cnn"], r["participants"], r["tau"], r["seed"])))
                    and ref[key] > 0
                ]
                placed = sum(1 for r in sel if _finite(r["latency_s"]))
                xpos = x[j] + (k - (n - 1) / 2) * width
                if ratios:
                    means.append(float(np.mean(ratios)))
                    top = max(top, max(ratios))
                    ratio_ax.plot(
                        [xpos] * len(ratios), ratios, linestyle="none", marker=".", color="#333333", markersize=2.5
                    )
                else:
                    means.append(math.nan)
                    if sel:
                        what = "all rejected" if placed == 0 else "CP-SAT rejected"
                        rejected_texts.append((xpos, f"{cnn}: {what}"))
                if sel and 0 < placed < len(sel):
                    partial.setdefault((cnn, placed, len(sel)), []).append(name)
                t = np.array([float(r["decision_s"]) for r in sel if _finite(r["decision_s"])])
                if t.size:
                    times_mid.append(float(np.median(t)))
                    times_lo.append(float(t.min()))
                    times_hi.append(float(t.max()))
                else:
                    times_mid.append(math.nan)
                    times_lo.append(math.nan)
                    times_hi.append(math.nan)
            xs = x + (k - (n - 1) / 2) * width
            ratio_ax.bar(xs, np.nan_to_num(means, nan=0.0), width * 0.92, color=color, label=cnn, zorder=2)
            mid, lo, hi = np.array(times_mid), np.array(times_lo), np.array(times_hi)
            time_ax.errorbar(
                xs,
                mid,
                yerr=np.vstack([mid - lo, hi - mid]),
                linestyle="none",
                marker=marker,
                color=color,
                capsize=1.5,
                elinewidth=0.8,
            )
        ratio_ax.axhline(1.0, color="black", linewidth=0.7, zorder=3)
        ratio_ax.set_ylim(0.0, top * 1.08)
        notes += [
            f"{', '.join(who)} placed {placed} of {total} {cnn} instances (ratio over those)."
            for (cnn, placed, total), who in partial.items()
        ]
        for xpos, text in rejected_texts:
            ratio_ax.text(
                xpos,
                1.0 + 0.03 * top,  # above the reference line at 1
                text.split(": ", 1)[1],
                rotation=90,
                ha="center",
                va="bottom",
                fontsize=opts.small_pt,
                color="#333333",
            )
        for ax in (ratio_ax, time_ax):
            ax.set_xticks(x, names, rotation=30, ha="right")
            ax.xaxis.set_minor_locator(NullLocator())
            ax.grid(False, axis="x")
            ax.set_xlim(-0.5, len(names) - 0.5)
            ax.set_xlabel("scheduler")
        ratio_ax.set_ylabel("latency / CP-SAT latency (ratio)")
        ratio_ax.set_title("latency relative to CP-SAT, same instance (1 = optimal)", loc="left")
        time_ax.set_ylabel("decision time per request (s)")
        time_ax.set_title("time to decide one request", loc="left")
        if log_worthy([v for r in data for v in [float(r["decision_s"])] if _finite(v)]):
            time_ax.set_yscale("log")
            clean_log_axis(time_ax)
        handles: list[Artist] = [Patch(color=PALETTE[k % len(PALETTE)]) for k in range(len(cnns))]
        handles += [Line2D([], [], linestyle="none", marker=".", color="#333333")]
        fig.legend(
            handles,
            [*cnns, "one instance"],
            loc="outside upper center",
            ncols=len(cnns) + 1,
            title="CNN of the request",
        )
        instances = len(ref)
        add_notes(
            fig,
            [
                f"{instances} instances (CNN x participants x τ x seed). Bars: mean ratio over the instances both "
                "placed, dots: each instance. Decision time: median (marker) and range (bar) over instances.",
                *dict.fromkeys(notes),
            ],
            opts,
        )
    return fig


def perf_decisions_figure(decisions: Iterable[Mapping[str, Any]], opts: FigureOptions | None = None) -> Figure:
    """Decision time vs participants (log-log), fast vs reference, idle and loaded fleet side by side."""
    opts = opts or FigureOptions()
    data = _rows(decisions)
    cnns = _ordered((r["cnn"] for r in data), CNN_ORDER)
    loads = _ordered((r["load"] for r in data), ("idle", "loaded"))
    with styled(opts):
        fig = new_figure(opts, "double", 1.2)
        axes = np.atleast_1d(fig.subplots(1, len(loads), sharey=True))
        for ax, load in zip(axes, loads, strict=True):
            xs_all: list[float] = []
            for k, cnn in enumerate(cnns):
                pts = sorted(
                    (r for r in data if r["cnn"] == cnn and r["load"] == load and _finite(r.get("fast_ms"))),
                    key=lambda r: r["participants"],
                )
                ref = [r for r in pts if _finite(r.get("reference_s"))]
                color, marker = PALETTE[k % len(PALETTE)], series_style(k)["marker"]
                ax.plot([r["participants"] for r in pts], [r["fast_ms"] for r in pts], color=color, marker=marker)
                if ref:
                    ax.plot(
                        [r["participants"] for r in ref],
                        [float(r["reference_s"]) * 1e3 for r in ref],
                        color=color,
                        marker=marker,
                        linestyle="--",
                        markerfacecolor="none",
                    )
                xs_all += [float(r["participants"]) for r in pts]
            ax.set_xscale("log")
            ax.set_yscale("log")
            clean_log_axis(ax, "x")
            clean_log_axis(ax)
            ax.set_xlabel("participants D (devices)")
            ax.set_title(f"{load} fleet", loc="left")
        axes[0].set_ylabel("one placement decision (ms)")
        handles = [
            Line2D([], [], color=PALETTE[k % len(PALETTE)], marker=series_style(k)["marker"]) for k in range(len(cnns))
        ]
        handles += [
            Line2D([], [], color="#555555", marker="o"),
            Line2D([], [], color="#555555", marker="o", linestyle="--", markerfacecolor="none"),
        ]
        fig.legend(
            handles,
            [*cnns, "fast (solid)", "reference (dashed, hollow)"],
            loc="outside upper center",
            ncols=len(cnns) + 2,
            title="CNN; scheduler implementation",
        )
        add_notes(
            fig,
            [
                "Fast: best of repeated decisions; reference: best of up to 3 decisions of the per-segment oracle "
                "on the same view (left out where its estimated time exceeds the budget)."
            ],
            opts,
        )
    return fig


def perf_scaling_figure(scaling: Iterable[Mapping[str, Any]], opts: FigureOptions | None = None) -> Figure:
    """Wall time (log-log) and peak RSS (linear from 0) vs requests, one series per fleet size."""
    opts = opts or FigureOptions()
    data = _rows(scaling)
    sizes = sorted({int(r["participants"]) for r in data})
    with styled(opts):
        fig = new_figure(opts, "double", 1.15)
        wall_ax, mem_ax = fig.subplots(1, 2)
        requests: list[float] = []
        top = 0.0
        for k, d in enumerate(sizes):
            pts = sorted((r for r in data if int(r["participants"]) == d), key=lambda r: r["requests"])
            xs = [float(r["requests"]) for r in pts]
            requests += xs
            color, marker = PALETTE[k % len(PALETTE)], series_style(k)["marker"]
            wall_ax.plot(xs, [r["run_wall_s"] for r in pts], color=color, marker=marker)
            if all(_finite(r.get("floor_s")) for r in pts):
                wall_ax.plot(
                    xs, [r["floor_s"] for r in pts], color=color, marker=marker, linestyle=":", markerfacecolor="none"
                )
            mem = [float(r["peak_rss_mb"]) for r in pts]
            top = max(top, *mem)
            mem_ax.plot(xs, mem, color=color, marker=marker)
        for ax in (wall_ax, mem_ax):
            numeric_x_axis(ax, sorted(set(requests)))
            ax.set_xlabel("requests (count)")
        wall_ax.set_yscale("log")
        clean_log_axis(wall_ax)
        wall_ax.set_ylabel("wall time (s)")
        wall_ax.set_title("run time (dotted: bare SimPy floor)", loc="left")
        mem_ax.set_ylim(0.0, top * 1.1 if top > 0 else 1.0)
        mem_ax.set_ylabel("peak resident memory (MB)")
        mem_ax.set_title("memory of the whole process", loc="left")
        handles = [
            Line2D([], [], color=PALETTE[k % len(PALETTE)], marker=series_style(k)["marker"]) for k in range(len(sizes))
        ]
        fig.legend(
            handles, [f"D = {d}" for d in sizes], loc="outside upper center", ncols=len(sizes), title="participants"
        )
        add_notes(
            fig,
            [
                "One run per point, each in a fresh process; dotted, hollow: a bare SimPy loop with as many events "
                "and processes as the run (no model work)."
            ],
            opts,
        )
    return fig


def timing_divergence_figure(rows: Iterable[Any], opts: FigureOptions | None = None) -> Figure:
    """Mean and p95 latency vs arrival rate per timing mode (left), mean latency split (right)."""
    opts = opts or FigureOptions()
    data = _rows(rows)
    rates = sorted({float(r["rate_per_s"]) for r in data})
    modes = _ordered((r["timing"] for r in data), ("analytic", "contention"))
    reps = sorted(
        {sum(1 for r in data if r["timing"] == m and float(r["rate_per_s"]) == q) for m in modes for q in rates}
    )

    def stat(mode: str, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        from distsim.experiments.aggregate import mean_ci95

        mid, lo, hi = [], [], []
        for rate in rates:
            m, h, _ = mean_ci95(float(r[key]) for r in data if r["timing"] == mode and float(r["rate_per_s"]) == rate)
            a, b = interval(m, h, "nonneg")
            mid.append(m)
            lo.append(a if math.isfinite(a) else m)
            hi.append(b if math.isfinite(b) else m)
        return np.array(mid), np.array(lo), np.array(hi)

    with styled(opts):
        fig = new_figure(opts, "double", 1.2)
        left, right = fig.subplots(1, 2)
        values: list[float] = []
        for k, mode in enumerate(modes):
            st = series_style(k)
            m, lo, hi = stat(mode, "latency_mean_s")
            left.plot(rates, m, color=st["color"], marker=st["marker"])
            left.fill_between(rates, lo, hi, color=st["color"], alpha=0.18, linewidth=0)
            p, _, _ = stat(mode, "latency_p95_s")
            left.plot(rates, p, color=st["color"], marker=st["marker"], linestyle=":", markerfacecolor="none")
            values += [*m, *p]
        left.set_xlabel("arrival rate λ (requests/s)")
        left.set_ylabel("latency (s)")
        left.set_title("mean (solid, 95% band) and 95th percentile (dotted)", loc="left")
        if log_worthy(values):
            left.set_yscale("log")
            clean_log_axis(left)
        else:
            left.set_ylim(bottom=0.0)
        width = 0.38
        x = np.arange(len(rates), dtype=float)
        parts = (
            ("service_mean_s", "service"),
            ("wait_mean_s", "waiting behind other work"),
            ("queue_mean_s", "retry queue"),
        )
        colors = (PALETTE[0], PALETTE[4], "#999999")
        for k, mode in enumerate(modes):
            offset = (k - (len(modes) - 1) / 2) * width
            bottom = np.zeros(len(rates))
            for (key, _), color in zip(parts, colors, strict=True):
                v, _, _ = stat(mode, key)
                v = np.nan_to_num(v)
                right.bar(
                    x + offset,
                    v,
                    width * 0.95,
                    bottom=bottom,
                    color=color,
                    hatch=None if k == 0 else "////",
                    edgecolor="white",
                    linewidth=0.0,
                )
                bottom += v
        right.set_xticks(x, [f"{r:g}" for r in rates])
        right.xaxis.set_minor_locator(NullLocator())
        right.grid(False, axis="x")
        right.set_xlabel("arrival rate λ (requests/s)")
        right.set_ylabel("mean time per served request (s)")
        right.set_title("where the mean latency goes", loc="left")
        handles: list[Artist] = [
            Line2D([], [], color=series_style(k)["color"], marker=series_style(k)["marker"]) for k in range(len(modes))
        ]
        handles += [Patch(color=c) for c in colors]
        fig.legend(
            handles,
            [*modes, *(p[1] for p in parts)],
            loc="outside upper center",
            ncols=len(modes) + 3,
            title="timing model (left); part of the latency (right)",
        )
        seeds = f"{reps[0]}" if len(reps) == 1 else f"{reps[0]}-{reps[-1]}"
        add_notes(
            fig,
            [
                f"{seeds} seeds per point; bands: {METHOD['nonneg']}. Right: per rate, the left (plain) bar is "
                f"{modes[0]}, the right (hatched) bar {modes[-1]}."
            ],
            opts,
        )
    return fig
