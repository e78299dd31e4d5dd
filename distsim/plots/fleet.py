"""Figures of the living fleet (docs/energy.md, docs/dynamics.md): energy, lifetime and churn sweeps.

Each builder takes one sweep output directory and draws its metrics with the
shared figure layer (one style, 95% intervals over replications, notes).
"""

from __future__ import annotations

from matplotlib.figure import Figure

from distsim.plots.figures import TAU, _panels_with_table
from distsim.plots.io import _sweep_summary
from distsim.plots.kinds import PlotRequest


def build_energy(request: PlotRequest) -> Figure:
    """Energy above idle per served request vs τ (or ``--x``), one series per other swept parameter."""
    params, summary = _sweep_summary(request, "energy")
    x = request.opts.x or (TAU if TAU in params else params[0])
    return _panels_with_table(
        summary, params, x, ["energy_per_served_j"], request.opts, request.title, table=False, default_size="column"
    )


#: What the lifetime figure states under its panels, whatever the sweep (docs/energy.md).
LIFETIME_NOTE = (
    "Lifetime: the instant a fraction energy.lifetime_fraction (default one half) of the battery-powered "
    "participants is empty. Batteries also pay idle power, drawn whenever a device is up: where it is swept "
    "the legend gives it; else it is the catalogue's (docs/energy.md) or the scenario's."
)


def build_lifetime(request: PlotRequest) -> Figure:
    """First battery death and fleet lifetime vs τ (or ``--x``); the notes say what lifetime and idle power are."""
    params, summary = _sweep_summary(request, "lifetime")
    x = request.opts.x or (TAU if TAU in params else params[0])
    return _panels_with_table(
        summary,
        params,
        x,
        ["first_death_at", "lifetime_at"],
        request.opts,
        request.title,
        table=False,
        default_size="double",
        notes=[LIFETIME_NOTE],
    )


def build_churn(request: PlotRequest) -> Figure:
    """Mean latency, failed requests and restarts vs the swept churn parameter (``--x``)."""
    params, summary = _sweep_summary(request, "churn")
    numeric = [p for p in params if p.endswith("_s")]
    x = request.opts.x or (numeric[0] if numeric else params[0])
    return _panels_with_table(
        summary,
        params,
        x,
        ["latency_mean_s", "failed", "restarts"],
        request.opts,
        request.title,
        table=False,
        default_size="double",
    )
