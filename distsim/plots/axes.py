"""Axis rules shared by every figure: when an axis is logarithmic, and how its ticks are labelled.

A log axis is used only where the plotted values span more than a factor
:data:`LOG_SPAN` (two orders of magnitude), and it is labelled at decades only
(no colliding ``3×10⁻³4×10⁻³`` minor labels). Numeric x axes of swept
parameters put their ticks at the swept values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.ticker import FixedFormatter, FixedLocator, LogLocator, NullFormatter, NullLocator

#: Plotted values must span more than this ratio for a log axis.
LOG_SPAN = 100.0


def log_worthy(values: Sequence[float]) -> bool:
    positive = [v for v in values if math.isfinite(v) and v > 0]
    return bool(positive) and max(positive) / min(positive) > LOG_SPAN


def clean_log_axis(ax: Axes, axis: str = "y") -> None:
    """Decade ticks labelled, minor ticks unlabelled (no colliding 3×10⁻³4×10⁻³)."""
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_locator(LogLocator(base=10.0, numticks=8))
    target.set_minor_locator(LogLocator(base=10.0, subs=tuple(range(2, 10)), numticks=12))
    target.set_minor_formatter(NullFormatter())


def numeric_x_axis(ax: Axes, values: Sequence[float]) -> None:
    """Log x (ticks at the swept values) for geometric grids spanning 10x or more, else linear."""
    vals = sorted(float(v) for v in values)
    if len(vals) >= 3 and vals[0] > 0 and vals[-1] / vals[0] >= 10:
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(FixedLocator(vals))
        ax.xaxis.set_major_formatter(FixedFormatter([f"{v:g}" for v in vals]))
        ax.xaxis.set_minor_locator(NullLocator())
    elif len(vals) <= 8:
        ax.xaxis.set_major_locator(FixedLocator(vals))
        ax.xaxis.set_major_formatter(FixedFormatter([f"{v:g}" for v in vals]))
