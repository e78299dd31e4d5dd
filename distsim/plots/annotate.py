"""Text labels on data points, placed so that no two overlap and none covers a marker."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text


def place_labels(ax: Axes, items: Sequence[tuple[float, float, str]], fontsize: float) -> list[str]:
    """Annotate points without overlaps: for each, the first of 8 positions around the point whose text box
    overlaps no earlier label and no marker and stays inside the axes. Returns the texts that found no place."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = ax.get_figure()
    assert isinstance(fig, Figure)
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    frame = ax.get_window_extent(renderer)
    marker_px = 4.0 * fig.dpi / 72.0
    taken = []
    for line in ax.get_lines():
        data = line.get_xydata()
        for px, py in ax.transData.transform(np.asarray(data, dtype=float)):
            if math.isfinite(px) and math.isfinite(py) and line.get_marker() not in (None, "None", "", " "):
                taken.append((px - marker_px, py - marker_px, px + marker_px, py + marker_px))
    for coll in ax.collections:
        for px, py in ax.transData.transform(np.asarray(coll.get_offsets(), dtype=float)):
            if math.isfinite(px) and math.isfinite(py):
                taken.append((px - marker_px, py - marker_px, px + marker_px, py + marker_px))
    # 8 directions at growing distances; beyond the nearest ring a thin leader line points at the marker.
    directions = [
        (1, 1, "left", "bottom"),
        (1, -1, "left", "top"),
        (-1, 1, "right", "bottom"),
        (-1, -1, "right", "top"),
        (0, 1.6, "center", "bottom"),
        (0, -1.6, "center", "top"),
        (1.6, 0, "left", "center"),
        (-1.6, 0, "right", "center"),
    ]
    candidates = [(dx * r, dy * r, ha, va) for r in (5, 14, 26) for dx, dy, ha, va in directions]
    unplaced = []

    def free(box: tuple[float, float, float, float]) -> bool:
        x0, y0, x1, y1 = box
        if x0 < frame.x0 or x1 > frame.x1 or y0 < frame.y0 or y1 > frame.y1:
            return False
        return all(x1 <= a0 or x0 >= a1 or y1 <= b0 or y0 >= b1 for a0, b0, a1, b1 in taken)

    for xv, yv, text in items:
        for dx, dy, ha, va in candidates:
            leader = {"arrowstyle": "-", "linewidth": 0.5, "color": "#555555", "shrinkA": 0, "shrinkB": 3}
            ann = ax.annotate(
                text,
                (xv, yv),
                textcoords="offset points",
                xytext=(dx, dy),
                ha=ha,
                va=va,
                fontsize=fontsize,
                arrowprops=leader if abs(dx) + abs(dy) > 12 else None,
            )
            ann.set_in_layout(False)
            ann.update_positions(renderer)
            bb = Text.get_window_extent(ann, renderer)  # the text's box, without its leader line
            box = (bb.x0 - 1, bb.y0 - 1, bb.x1 + 1, bb.y1 + 1)
            if free(box):
                taken.append(box)
                break
            ann.remove()
        else:
            unplaced.append(text)
    return unplaced
