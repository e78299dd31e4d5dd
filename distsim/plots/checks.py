"""Referee checks on built figures (used by the figure tests; usable on any figure a kind returns).

Each check returns a list of problems (empty: the figure passes):

* :func:`negative_bands`: a filled band or error bar reaching below zero on an
  axis whose quantity cannot be negative (every y axis labelled from the
  table with domain ``nonneg`` or ``fraction``), or below the bottom of a log axis;
* :func:`untitled_legends`: a legend without a title;
* :func:`overlapping_texts`: two annotation or data-text boxes that overlap;
* :func:`unlabelled_axes`: a drawn axis with no label, or a numeric axis whose
  label has no unit in parentheses (dimensionless quantities of the label
  table excepted);
* :func:`categorical_lines`: a line with more than one point on an axis with
  categorical tick labels;
* :func:`small_fonts`: text smaller than :data:`distsim.plots.style.MIN_FONT_PT`.
"""

from __future__ import annotations

import re

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.text import Annotation, Text

from distsim.plots.labels import METRICS, PARAMETERS
from distsim.plots.style import MIN_FONT_PT

_UNIT = re.compile(r"\([^()]+\)\s*$")
_DIMENSIONLESS = {q.label for q in (*PARAMETERS.values(), *METRICS.values()) if q.unit == ""}
_CATEGORICAL = {q.label for q in (*PARAMETERS.values(), *METRICS.values()) if q.unit is None}


def _renderer(fig: Figure):  # type: ignore[no-untyped-def]
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    fig.draw_without_rendering()
    return fig.canvas.get_renderer()  # type: ignore[attr-defined]


def _data_axes(fig: Figure) -> list[Axes]:
    return [ax for ax in fig.axes if ax.axison]


def _nonneg_axis(ax: Axes) -> bool:
    """Whether the y quantity cannot be negative: the metric the panel declares (gid ``metric=NAME``),
    else any table metric whose label starts the axis label."""
    gid = ax.get_gid() or ""
    if gid.startswith("metric="):
        q = METRICS.get(gid[len("metric=") :])
        if q is not None:
            return q.domain != "real"
    label = ax.get_ylabel()
    return any(label.startswith(q.label) and q.domain != "real" for q in METRICS.values())


def negative_bands(fig: Figure) -> list[str]:
    problems = []
    for ax in _data_axes(fig):
        nonneg = _nonneg_axis(ax)
        bottom = ax.get_ylim()[0] if ax.get_yscale() == "log" else None
        for coll in ax.collections:
            if isinstance(coll, PolyCollection | LineCollection):
                segs = coll.get_paths() if isinstance(coll, PolyCollection) else coll.get_segments()
                for seg in segs:
                    ys = np.asarray(seg.vertices if hasattr(seg, "vertices") else seg)[:, 1]
                    ys = ys[np.isfinite(ys)]
                    if ys.size and nonneg and ys.min() < -1e-12:
                        problems.append(f"{ax.get_ylabel()!r}: interval reaches {ys.min():g} < 0")
                    if ys.size and bottom is not None and ys.min() <= 0:
                        problems.append(f"{ax.get_ylabel()!r}: interval not positive on a log axis")
    return problems


def untitled_legends(fig: Figure) -> list[str]:
    legends = [*fig.legends, *(lg for ax in fig.axes if (lg := ax.get_legend()) is not None)]
    return [
        f"legend without a title: {[t.get_text() for t in lg.get_texts()][:3]}"
        for lg in legends
        if not lg.get_title().get_text()
    ]


def overlapping_texts(fig: Figure) -> list[str]:
    renderer = _renderer(fig)
    boxes = []
    for ax in fig.axes:
        for t in ax.texts:
            if isinstance(t, Annotation | Text) and t.get_visible() and t.get_text().strip():
                if isinstance(t, Annotation):
                    t.update_positions(renderer)
                boxes.append((t.get_text(), Text.get_window_extent(t, renderer)))  # text only, not leader lines
    problems = []
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            a, b = boxes[i][1], boxes[j][1]
            if a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1:
                problems.append(f"texts overlap: {boxes[i][0]!r} and {boxes[j][0]!r}")
    return problems


def _has_unit(label: str) -> bool:
    return bool(_UNIT.search(label)) or label in _DIMENSIONLESS or label in _CATEGORICAL


def unlabelled_axes(fig: Figure) -> list[str]:
    problems = []
    for ax in _data_axes(fig):
        for name, label, ticks in (
            ("x", ax.get_xlabel(), ax.get_xticklabels()),
            ("y", ax.get_ylabel(), ax.get_yticklabels()),
        ):
            shared = (ax.get_shared_x_axes() if name == "x" else ax.get_shared_y_axes()).get_siblings(ax)
            if not label and any(s is not ax and (s.get_xlabel() if name == "x" else s.get_ylabel()) for s in shared):
                continue
            if not label:
                problems.append(f"{name} axis without a label")
            elif not _is_categorical(ticks) and not _has_unit(label):
                problems.append(f"{name} axis label without a unit: {label!r}")
    return problems


def _is_categorical(ticks: list[Text]) -> bool:
    """Whether tick labels are words (categories) rather than numbers (``0.4``, ``$\\mathdefault{10^{3}}$``)."""
    texts = [t.get_text() for t in ticks if t.get_text()]
    if not texts:
        return False
    stripped = [re.sub(r"\\mathdefault|\\times|[${}^\s]", "", t).replace("−", "-") for t in texts]
    return not all(re.fullmatch(r"[-+0-9.,×e%]+", t) for t in stripped)


def categorical_lines(fig: Figure) -> list[str]:
    problems = []
    for ax in _data_axes(fig):
        if not _is_categorical(ax.get_xticklabels()):
            continue
        for line in ax.get_lines():
            xs = np.asarray(line.get_xdata(), dtype=float)
            ys = np.asarray(line.get_ydata(), dtype=float)
            if ys.size and np.all(ys == ys[0]):
                continue  # a reference line (axhline), not a series
            if xs.size > 1 and line.get_linestyle() not in ("None", "none", "", " "):
                problems.append(f"a line joins categories on {ax.get_xlabel()!r}: {line.get_label()!r}")
    return problems


def small_fonts(fig: Figure) -> list[str]:
    problems = []
    for t in fig.findobj(Text):
        if t.get_text().strip() and t.get_visible() and float(t.get_fontsize()) < MIN_FONT_PT - 1e-9:
            problems.append(f"{t.get_fontsize():g} pt text: {t.get_text()[:30]!r}")
    return problems


CHECKS = (negative_bands, untitled_legends, overlapping_texts, unlabelled_axes, categorical_lines, small_fonts)


def referee(fig: Figure) -> list[str]:
    """Every check's problems."""
    return [p for check in CHECKS for p in check(fig)]
