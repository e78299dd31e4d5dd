"""Empirical CDF of per-request latency (the ``cdf`` plot kind)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from distsim.plots.axes import clean_log_axis, log_worthy
from distsim.plots.labels import axis_label
from distsim.plots.style import FigureOptions, add_notes, new_figure, series_style, styled


def latency_cdf(
    groups: Mapping[str, Any],
    title: str | None = None,
    by: str | None = None,
    opts: FigureOptions | None = None,
    pooled: str | None = None,
) -> Figure:
    """Empirical CDF of per-request latency, one line per group (pooled over runs).

    ``groups`` maps a legend label to the latencies (s) of served requests;
    ``pooled`` says in the notes what each line pools.
    """
    opts = opts or FigureOptions()
    with styled(opts):
        fig = new_figure(opts, "column", 1.2)
        ax = fig.subplots()
        everything: list[float] = []
        for i, (label, values) in enumerate(groups.items()):
            data = np.sort(np.asarray(values, dtype=np.float64))
            data = data[np.isfinite(data)]
            if data.size == 0:
                continue
            share = 100.0 * np.arange(1, data.size + 1) / data.size
            st = series_style(i)
            ax.plot(
                data,
                share,
                drawstyle="steps-post",
                label=f"{label} (n = {data.size})",
                color=st["color"],
                linestyle=st["linestyle"],
            )
            everything.extend(float(v) for v in data)
        ax.set_xlabel(axis_label("latency_s", opts.labels))
        ax.set_ylabel("served requests at or below (%)")
        if log_worthy(everything):
            ax.set_xscale("log")
            clean_log_axis(ax, "x")
        ax.set_ylim(0, 101)
        fig.legend(loc="outside upper center", ncols=2, title=axis_label(by, opts.labels) if by else "run directory")
        if title:
            fig.suptitle(title)
        add_notes(
            fig,
            [
                f"Empirical CDF of the latencies of served requests{', ' + pooled if pooled else ''}; "
                "n: served requests per line."
            ],
            opts,
        )
    return fig
