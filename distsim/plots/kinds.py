"""The registry of plot kinds (kept apart from the figure code so the command line lists them without matplotlib).

A kind is a name, a one-line description and a builder named ``module:function``
(imported only when the kind is drawn). The builder takes one
:class:`PlotRequest` and returns a :class:`matplotlib.figure.Figure` built in the
style of :mod:`distsim.plots.style` (``with styled(request.opts): ...``).
To add a kind, add a :class:`Kind` to :data:`KINDS` (or call :func:`register`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from distsim.plots.style import FigureOptions


@dataclass(frozen=True)
class PlotRequest:
    """What ``distsim plot`` asks of a builder.

    Attributes:
        results: the RESULTS directories given on the command line.
        opts: style, size, dpi, formats, label overrides, x axis.
        by: ``--by`` (the grouping parameter of kinds that take one), or None.
        title: ``--title``, or None.
        extra: options of kinds added later, by name.
    """

    results: Sequence[Path]
    opts: FigureOptions
    by: str | None = None
    title: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Kind:
    """One plot kind: ``name``, a description for ``--help``, and its builder ``module:function``."""

    name: str
    help: str
    builder: str

    def load(self) -> Callable[[PlotRequest], Figure]:
        module, _, func = self.builder.partition(":")
        fn: Callable[[PlotRequest], Figure] = getattr(importlib.import_module(module), func)
        return fn


KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    """Add ``kind`` to :data:`KINDS` (a name already taken is an error)."""
    if kind.name in KINDS:
        raise ValueError(f"plot kind {kind.name!r} is already registered")
    KINDS[kind.name] = kind
    return kind


for _kind in (
    Kind("fig3", "total latency and shared data vs a parameter, rejection table", "distsim.plots.io:build_fig3"),
    Kind(
        "fig3-latency", "total latency vs a parameter, rejection table (one column)", "distsim.plots.io:build_latency"
    ),
    Kind("fig3-shared", "shared data vs a parameter (one column)", "distsim.plots.io:build_shared"),
    Kind("tradeoff", "latency and shared data per served request vs tau", "distsim.plots.io:build_tradeoff"),
    Kind("pareto", "latency vs shared data per served request, Pareto front", "distsim.plots.io:build_pareto"),
    Kind("cdf", "per-request latency CDF (keep_latencies sweeps or run directories)", "distsim.plots.io:build_cdf"),
    Kind(
        "mechanisms",
        "latency vs exposure vs accuracy of privacy mechanisms (a sweep over privacy)",
        "distsim.plots.mechanisms:build_mechanisms",
    ),
    Kind("energy", "energy above idle per served request vs tau (docs/energy.md)", "distsim.plots.fleet:build_energy"),
    Kind("lifetime", "first battery death and fleet lifetime vs tau", "distsim.plots.fleet:build_lifetime"),
    Kind("churn", "latency, failed requests and restarts vs a churn parameter", "distsim.plots.fleet:build_churn"),
    Kind(
        "charge",
        "remaining battery charge over time (run directories of scenarios with batteries)",
        "distsim.plots.charge:build_charge",
    ),
):
    register(_kind)
