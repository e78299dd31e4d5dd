"""Gantt chart of a time window of a traced ``contention`` run (matplotlib).

One row per (device, lane) that worked inside the window: ``p3 cpu0``,
``p3 radio``, ... (every busy row by default; with ``max_rows`` the busiest,
and the title says how many were left out). Bars are coloured and patterned
by request (a request keeps its look across devices, the legend gives the
request ids), so a request's path through the fleet and the requests that
queue behind it are visible at a glance.

>>> from distsim.plots.gantt import save_gantt
>>> save_gantt(result.timeline, "gantt.png", 10.0, 12.0)  # doctest: +SKIP
"""

from __future__ import annotations

import math
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.patches import Patch

from distsim.engine.trace import Span, Timeline
from distsim.errors import InputError
from distsim.plots.style import PALETTE, FigureOptions, save_one, styled


def _row_key(span: Span) -> tuple[int, int]:
    # CPU cores first, then the radio, per device in id order.
    return span.device, span.slot if span.lane == "cpu" else 10**6


#: Fill patterns that tell apart requests sharing a colour (the palette has 7 colours).
_HATCHES = (None, "....", "xxxx", "////", "||||", "----")


def gantt_figure(
    timeline: Timeline,
    start_s: float,
    end_s: float,
    *,
    devices: list[str] | None = None,
    max_rows: int | None = None,
    opts: FigureOptions | None = None,
) -> Figure:
    """A Gantt chart of the work overlapping ``[start_s, end_s]`` (seconds).

    Args:
        timeline: a run's timeline (``simulate(..., trace=True).timeline``).
        start_s, end_s: the window, s.
        devices: device names to show (default: every device that worked in the window).
        max_rows: show at most this many rows (the busiest ones); None (default) shows every busy row.
            When rows are left out the figure says how many and how to ask for all.
        opts: style and size (the height grows with the rows; ``size`` sets the width).
    """
    if not end_s > start_s:
        raise InputError(f"expected a window with start < end, got [{start_s}, {end_s}]", field="window")
    if max_rows is not None and max_rows < 1:
        raise InputError(f"expected at least 1 row, got {max_rows}", field="--gantt-rows")
    opts = opts or FigureOptions()
    wanted = set(devices) if devices is not None else None
    spans = [
        s
        for s in timeline.spans
        if s.end_at > start_s and s.start_at < end_s and (wanted is None or timeline.names[s.device] in wanted)
    ]
    busy: dict[tuple[int, int], float] = {}
    for s in spans:
        key = _row_key(s)
        busy[key] = busy.get(key, 0.0) + min(s.end_at, end_s) - max(s.start_at, start_s)
    rows = sorted(busy)
    total_rows = len(rows)
    if max_rows is not None and len(rows) > max_rows:
        keep = set(sorted(rows, key=lambda k: (-busy[k], k))[:max_rows])
        rows = [r for r in rows if r in keep]
    position = {key: k for k, key in enumerate(rows)}
    requests = sorted({s.request_id for s in spans})
    look = {
        rid: (PALETTE[k % len(PALETTE)], _HATCHES[(k // len(PALETTE)) % len(_HATCHES)])
        for k, rid in enumerate(requests)
    }
    with styled(opts):
        width = opts.figsize("double")[0]
        pitch_in = 1.45 * opts.small_pt / 72.0  # one row per tick label of the small font
        legend_rows = math.ceil(len(requests) / 8) if requests else 0
        height = max(1.6, pitch_in * len(rows) + 0.9 + legend_rows * opts.small_pt * 1.6 / 72)
        fig = Figure(figsize=(width, height), layout="constrained")
        ax = fig.add_subplot()
        for s in spans:
            key = _row_key(s)
            if key not in position:
                continue
            left = max(s.start_at, start_s)
            color, hatch = look[s.request_id]
            ax.broken_barh(
                [(left, min(s.end_at, end_s) - left)],
                (position[key] - 0.4, 0.8),
                facecolors=color,
                edgecolor="white" if hatch else "none",
                linewidth=0.0,
                hatch=hatch,
            )
        labels = []
        for device, slot in rows:
            lane = "radio" if slot == 10**6 else f"cpu{slot}"
            labels.append(f"{timeline.names[device]} {lane}")
        ax.set_yticks(range(len(rows)), labels, fontsize=opts.small_pt)
        ax.set_ylim(-0.6, len(rows) - 0.4)
        ax.invert_yaxis()
        ax.set_xlim(start_s, end_s)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("device and lane")
        ax.grid(axis="y", visible=False)
        shown = (
            f"all {total_rows} busy rows"
            if len(rows) == total_rows
            else (
                f"the {len(rows)} busiest of {total_rows} busy rows ({total_rows - len(rows)} left out; "
                "--gantt-rows all shows every row)"
            )
        )
        ax.set_title(f"Work per device and lane in [{start_s:g}, {end_s:g}] s: {shown}", loc="left")
        if not rows:
            ax.text(0.5, 0.5, "no work in this window", transform=ax.transAxes, ha="center", va="center")
        if requests:
            handles = [
                Patch(facecolor=look[r][0], hatch=look[r][1], edgecolor="white" if look[r][1] else "none")
                for r in requests
            ]
            fig.legend(
                handles,
                [f"{r}" for r in requests],
                loc="outside lower center",
                ncols=min(len(requests), 12),
                title="request id (colour and pattern of its work)",
                handlelength=1.2,
                columnspacing=0.8,
            )
    return fig


def save_gantt(
    timeline: Timeline,
    path: str | Path,
    start_s: float,
    end_s: float,
    *,
    devices: list[str] | None = None,
    max_rows: int | None = None,
    opts: FigureOptions | None = None,
) -> Path:
    """Draw :func:`gantt_figure` and write it to ``path`` atomically (PDF, SVG or PNG from the suffix)."""
    target = Path(path)
    fig = gantt_figure(timeline, start_s, end_s, devices=devices, max_rows=max_rows, opts=opts)
    return save_one(fig, target if target.suffix else target.with_suffix(".png"), opts)
