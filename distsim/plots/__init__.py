"""Plots (matplotlib, no pyplot): one style (:mod:`~distsim.plots.style`), one label table
(:mod:`~distsim.plots.labels`), domain-respecting intervals (:mod:`~distsim.plots.uncertainty`),
figure builders, data loaders, PDF/SVG/PNG savers and the HTML report.

>>> from distsim.plots import load_summary, fig3, save_figure
>>> params, summary = load_summary("results/fig3-ab")          # doctest: +SKIP
>>> save_figure(fig3(summary, params), "results/fig3-ab/plots", "fig3")  # doctest: +SKIP
"""

import importlib
from typing import Any

from distsim.plots.kinds import KINDS

# Figures import matplotlib, which costs every command-line start ~0.5 s:
# load the submodules on first attribute access instead (PEP 562).
_LAZY = {
    "METRICS": "figures",
    "PARAM_LABELS": "figures",
    "default_x": "figures",
    "fig3": "figures",
    "format_value": "figures",
    "latency_cdf": "cdf",
    "pareto": "pareto_view",
    "pareto_front": "pareto_view",
    "plot_metric": "figures",
    "single_metric": "figures",
    "tradeoff": "figures",
    "cdf_from_run_dirs": "io",
    "cdf_from_sweep": "io",
    "default_kind": "io",
    "load_summary": "io",
    "make_figure": "io",
    "save_figure": "io",
    "FigureOptions": "style",
    "series_style": "style",
    "styled": "style",
    "new_figure": "style",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"distsim.plots.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'distsim.plots' has no attribute {name!r}")


__all__ = [
    "KINDS",
    "METRICS",
    "PARAM_LABELS",
    "FigureOptions",
    "cdf_from_run_dirs",
    "cdf_from_sweep",
    "default_kind",
    "default_x",
    "fig3",
    "format_value",
    "latency_cdf",
    "load_summary",
    "make_figure",
    "new_figure",
    "pareto",
    "pareto_front",
    "plot_metric",
    "save_figure",
    "series_style",
    "single_metric",
    "styled",
    "tradeoff",
]
