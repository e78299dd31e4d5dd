"""Plots of sweep results (matplotlib, Agg): figure builders, data loaders and PNG/SVG savers.

>>> from distsim.plots import load_summary, fig3, save_figure
>>> params, summary = load_summary("results/fig3-ab")          # doctest: +SKIP
>>> save_figure(fig3(summary, params), "results/fig3-ab/plots", "fig3")  # doctest: +SKIP
"""

from distsim.plots.figures import (
    METRICS,
    PARAM_LABELS,
    default_x,
    fig3,
    format_value,
    latency_cdf,
    pareto,
    pareto_front,
    plot_metric,
    single_metric,
    tradeoff,
)
from distsim.plots.io import (
    KINDS,
    cdf_from_run_dirs,
    cdf_from_sweep,
    default_kind,
    load_summary,
    make_figure,
    save_figure,
)

__all__ = [
    "KINDS",
    "METRICS",
    "PARAM_LABELS",
    "cdf_from_run_dirs",
    "cdf_from_sweep",
    "default_kind",
    "default_x",
    "fig3",
    "format_value",
    "latency_cdf",
    "load_summary",
    "make_figure",
    "pareto",
    "pareto_front",
    "plot_metric",
    "save_figure",
    "single_metric",
    "tradeoff",
]
