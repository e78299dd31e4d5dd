"""Gantt chart of a time window of a traced ``contention`` run (matplotlib).

One row per (device, lane) that worked inside the window: ``p3 cpu0``,
``p3 radio``, ... Bars are coloured by request (a request keeps its colour
across devices), so a request's path through the fleet and the requests that
queue behind it are visible at a glance.

>>> from distsim.plots.gantt import save_gantt
>>> save_gantt(result.timeline, "gantt.png", 10.0, 12.0)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from matplotlib import colormaps
from matplotlib.figure import Figure

from distsim.engine.trace import Span, Timeline, publish
from distsim.errors import InputError


def _row_key(span: Span) -> tuple[int, int]:
    # CPU cores first, then the radio, per device in id order.
    return span.device, span.slot if span.lane == "cpu" else 10**6


def gantt_figure(
    timeline: Timeline,
    start_s: float,
    end_s: float,
    *,
    devices: list[str] | None = None,
    max_rows: int = 40,
) -> Figure:
    """A Gantt chart of the work overlapping ``[start_s, end_s]`` (seconds).

    Args:
        timeline: a run's timeline (``simulate(..., trace=True).timeline``).
        start_s, end_s: the window, s.
        devices: device names to show (default: every device that worked in the window).
        max_rows: show at most this many rows (the busiest ones), to stay readable.
    """
    if not end_s > start_s:
        raise InputError(f"expected a window with start < end, got [{start_s}, {end_s}]", field="window")
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
    if len(rows) > max_rows:
        keep = set(sorted(rows, key=lambda k: (-busy[k], k))[:max_rows])
        rows = [r for r in rows if r in keep]
    position = {key: k for k, key in enumerate(rows)}
    # A bare Figure (no pyplot): no global figure registry, no backend switch in the caller's session.
    fig = Figure(figsize=(10, max(2.0, 0.28 * len(rows) + 1.2)), layout="constrained")
    ax = fig.add_subplot()
    cmap = colormaps["tab20"]
    for s in spans:
        key = _row_key(s)
        if key not in position:
            continue
        left = max(s.start_at, start_s)
        width = min(s.end_at, end_s) - left
        ax.broken_barh(
            [(left, width)],
            (position[key] - 0.4, 0.8),
            facecolors=cmap(s.request_id % 20),
            edgecolor="black" if s.lane == "radio" else "none",
            linewidth=0.3,
            hatch="//" if s.lane == "radio" else None,
        )
    labels = []
    for device, slot in rows:
        lane = "radio" if slot == 10**6 else f"cpu{slot}"
        labels.append(f"{timeline.names[device]} {lane}")
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.invert_yaxis()
    ax.set_xlim(start_s, end_s)
    ax.set_xlabel("time (s)")
    ax.set_title(f"Work per device in [{start_s:g}, {end_s:g}] s (colour: request; hatched: radio)")
    ax.grid(axis="x", alpha=0.3)
    if not rows:
        ax.text(0.5, 0.5, "no work in this window", transform=ax.transAxes, ha="center", va="center")
    return fig


def save_gantt(
    timeline: Timeline,
    path: str | Path,
    start_s: float,
    end_s: float,
    *,
    devices: list[str] | None = None,
    dpi: int = 120,
) -> Path:
    """Draw :func:`gantt_figure` and write it to ``path`` atomically (format from the suffix); return the path."""
    target = Path(path)
    fig = gantt_figure(timeline, start_s, end_s, devices=devices)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=target.suffix or ".png", dir=target.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=dpi)
        publish(Path(tmp), target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
