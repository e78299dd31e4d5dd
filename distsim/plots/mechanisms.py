"""``distsim plot --kind mechanisms``: latency vs exposure vs accuracy of the privacy mechanisms.

Reads one sweep over ``privacy`` settings (mechanism, τ or ε) and usually the
fleet size, e.g. ``scenarios/mechanisms.yaml``. Three panels, one figure:

* (a) mean latency per served request vs mean exposure SSIM on Table I's
  black-box scale (``feature_split`` at each τ, ``none``, ``edge_cloud``);
* (b) the same for ``dp_noise`` on Ryu et al.'s white-box scale (its own axis:
  the two SSIM scales are never drawn on one axis);
* (c) ``dp_noise`` accuracy vs its white-box SSIM (the other mechanisms leave
  the CNN's output unchanged).

One marker per fleet size, one colour per privacy setting; every point is the
mean over replications (the note under the panels says how many).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from distsim.errors import InputError
from distsim.experiments.table import read_results
from distsim.plots.kinds import PlotRequest
from distsim.plots.labels import axis_label
from distsim.plots.style import MARKERS, PALETTE, add_notes, new_figure, styled

if TYPE_CHECKING:
    from matplotlib.figure import Figure

BLACKBOX = "blackbox_map_subsets"
WHITEBOX = "whitebox_noisy_output"


def setting_label(privacy: dict[str, Any]) -> str:
    """``feature_split τ=0.4``, ``none``, ``dp_noise ε=200`` from a swept ``privacy`` mapping."""
    mechanism = privacy.get("mechanism", "feature_split")
    if mechanism == "feature_split":
        return f"feature_split τ={privacy.get('max_ssim')}"
    if mechanism == "dp_noise":
        return f"dp_noise ε={privacy.get('params', {}).get('epsilon')}"
    if mechanism == "edge_cloud":
        dims = privacy.get("params", {}).get("dims")
        return f"edge_cloud τ={privacy.get('max_ssim')}" + (f" PCA {dims}" if dims else "")
    return str(mechanism)


def mechanism_points(rows: list[dict[str, Any]], params: list[str]) -> list[dict[str, Any]]:
    """Per swept point: its setting, fleet size and the means over replications of the plotted metrics."""
    if "privacy" not in params:
        raise InputError("the mechanisms plot needs 'privacy' among the swept parameters", field="--kind")
    groups: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[int(row["point"])].append(row)
    points = []
    for point, runs in sorted(groups.items()):
        privacy = runs[0]["privacy"]
        privacy = json.loads(privacy) if isinstance(privacy, str) else privacy

        def mean(name: str, runs: list[dict[str, Any]] = runs) -> float:
            values = [float(r[name]) for r in runs if r.get(name) is not None and not math.isnan(float(r[name]))]
            return sum(values) / len(values) if values else math.nan

        points.append(
            {
                "point": point,
                "setting": setting_label(privacy),
                "participants": runs[0].get("participants.total", runs[0].get("participants")),
                "attack": runs[0].get("exposure_attack", BLACKBOX),
                "latency": mean("latency_mean_s"),
                "exposure": mean("exposure_mean"),
                "accuracy": mean("accuracy_mean_pct"),
                "served": mean("served") / max(mean("requests"), 1.0),
                "runs": len(runs),
            }
        )
    return points


def build_mechanisms(request: PlotRequest) -> Figure:
    """The figure of ``--kind mechanisms`` from one sweep output directory."""
    if len(request.results) != 1:
        raise InputError("expected one sweep output directory", field="RESULTS")
    params, rows = read_results(request.results[0])
    if not rows:
        raise InputError("results.csv has no rows", file=str(request.results[0]))
    return mechanisms_figure(mechanism_points(rows, params), title=request.title, opts=request.opts)


def _close(a: dict[str, Any], b: dict[str, Any], y: str, span: float) -> bool:
    """True when two points would sit on top of each other (within 2% of the axes)."""
    if abs(a["exposure"] - b["exposure"]) >= 0.02:
        return False
    if y == "latency" and a[y] > 0 and b[y] > 0:
        return abs(math.log(a[y] / b[y])) < 0.05
    return abs(a[y] - b[y]) < 0.02 * span


def _draw_panel(
    ax: Any, chosen: list[dict[str, Any]], y: str, colour: dict[str, str], marker: dict[Any, str], opts: Any
) -> None:
    """One panel's markers and served-share labels.

    A point on top of an earlier one of another setting is drawn hollow and
    larger, so both stay visible; the served share (mean latency covers
    served requests only) is written once per spot, on the left of its marker
    when an earlier label is near.
    """
    shown = [p for p in chosen if not (math.isnan(p[y]) or math.isnan(p["exposure"]))]
    span = max((abs(p[y]) for p in shown), default=1.0) or 1.0
    drawn: list[dict[str, Any]] = []
    labelled: list[dict[str, Any]] = []
    for p in shown:
        under = any(q["setting"] != p["setting"] and _close(p, q, y, span) for q in drawn)
        ax.plot(
            p["exposure"],
            p[y],
            linestyle="none",
            marker=marker[p["participants"]],
            color=colour[p["setting"]],
            markersize=9 if under else 5,
            markerfacecolor="none" if under else colour[p["setting"]],
            markeredgewidth=1.4 if under else 1.0,
        )
        drawn.append(p)
        if p["served"] >= 0.995 or y != "latency":
            continue
        if any(_close(p, q, y, span) and round(q["served"], 2) == round(p["served"], 2) for q in labelled):
            continue
        near = any(
            abs(q["exposure"] - p["exposure"]) < 0.1 and _close({**p, "exposure": q["exposure"]}, q, y, span * 4)
            for q in labelled
        )
        labelled.append(p)
        ax.annotate(
            f"{100 * p['served']:.0f}% served",
            (p["exposure"], p[y]),
            xytext=(-6, 5) if near else (6, -2),
            ha="right" if near else "left",
            textcoords="offset points",
            fontsize=opts.small_pt,
            color=colour[p["setting"]],
        )


def mechanisms_figure(points: list[dict[str, Any]], *, title: str | None, opts: Any) -> Figure:
    """Draw the three panels from :func:`mechanism_points`."""
    first: dict[str, int] = {}
    for p in points:
        first.setdefault(p["setting"], p["point"])
    settings = sorted(first, key=first.__getitem__)
    fleets = sorted({p["participants"] for p in points}, key=lambda v: (v is None, v))
    # The style's palette, then two more (grey, brown) so that up to nine settings never share a colour.
    palette = (*PALETTE, "#999999", "#8C510A")
    colour = {s: palette[i % len(palette)] for i, s in enumerate(settings)}
    marker = {f: MARKERS[i % len(MARKERS)] for i, f in enumerate(fleets)}
    with styled(opts):
        fig = new_figure(opts, default="double", height_scale=1.1)
        axes = fig.subplots(1, 3)
        black = [p for p in points if p["attack"] == BLACKBOX]
        white = [p for p in points if p["attack"] == WHITEBOX]
        for ax, chosen, y in ((axes[0], black, "latency"), (axes[1], white, "latency"), (axes[2], white, "accuracy")):
            _draw_panel(ax, chosen, y, colour, marker, opts)
        # Black-box latencies span two orders of magnitude (strict caps serve only light CNNs fast).
        positive = [p["latency"] for p in black if p["latency"] > 0]
        if positive and max(positive) / min(positive) > 20:
            from matplotlib.ticker import FuncFormatter

            axes[0].set_yscale("log")
            axes[0].yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            axes[0].set_title("(a) log scale", loc="left")
        axes[0].set_xlabel("exposure SSIM, black-box (Table I)")
        axes[1].set_xlabel("exposure SSIM, white-box (Ryu)")
        axes[2].set_xlabel("exposure SSIM, white-box (Ryu)")
        axes[0].set_ylabel(axis_label("latency_mean_s", opts.labels))
        axes[1].set_ylabel(axis_label("latency_mean_s", opts.labels))
        axes[2].set_ylabel("accuracy, dp_noise (%)")
        for ax, letter in zip(axes, "abc", strict=True):
            if not ax.get_title(loc="left"):
                ax.set_title(f"({letter})", loc="left")
            ax.set_xlim(0, 1)
        if not white:
            for ax in axes[1:]:
                ax.text(0.5, 0.5, "no dp_noise runs", ha="center", va="center", transform=ax.transAxes)
        # One legend: colours are privacy settings, markers fleet sizes.
        from matplotlib.lines import Line2D

        handles = [Line2D([], [], color=colour[s], marker="s", linestyle="none", label=s) for s in settings]
        handles += [Line2D([], [], color="0.3", marker=marker[f], linestyle="none", label=f"D = {f}") for f in fleets]
        fig.legend(
            handles=handles,
            loc="outside upper center",
            ncols=min(5, len(handles)),
            frameon=False,
            title="privacy setting (colour), participants D (marker)",
        )
        if title:
            fig.suptitle(title)
        runs = sorted({p["runs"] for p in points})
        add_notes(
            fig,
            [
                f"Each point: mean over {', '.join(map(str, runs))} replication(s) of the run means over served "
                "requests (exposure: worst single device per request). The two SSIM scales (black-box "
                "inversion of a subset of noise-free maps, Table I; "
                "white-box optimisation on the whole noisy output, Ryu et al.) are not comparable and are drawn "
                "on separate axes. edge_cloud's exposure is the server's (Table I, an upper bound with PCA). "
                "feature_split, none and edge_cloud leave accuracy unknown to distsim; dp_noise accuracy is "
                "Ryu et al.'s (CIFAR-10 numbers unless the sweep says otherwise)."
            ],
            opts,
        )
    return fig
