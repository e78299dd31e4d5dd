"""Batches with binding shared budgets: the sequential optima as hint and fallback, and the rolling horizon."""

from __future__ import annotations

import numpy as np

from distsim.scheduling.base import ClusterView, Placement, Request
from distsim.scheduling.exact import ExactParams, rolling_horizon, solve_batch, solve_request, solve_sequential
from distsim.scheduling.validate import check_placement
from tests.test_exact import lenet_world

PARAMS = ExactParams(workers=1, work_limit=1.0)


def _binding_view(participants: int, factor: float) -> tuple[ClusterView, list[Request], Placement]:
    """Devices the single optimum uses keep ``factor`` times what it needs: three requests cannot all have it."""
    world = lenet_world(participants, 0.6)
    fleet = world.fleet
    requests = [Request(k, fleet.participants, "lenet", 0.0) for k in range(3)]
    single, _ = solve_request(requests[0], ClusterView.idle(world), world, PARAMS)
    assert isinstance(single, Placement)
    used = single.cost.compute_mults[: fleet.participants]
    comp = fleet.compute_budget_mults.copy()
    comp[: fleet.participants] = np.where(used > 0, (used * factor).astype(np.int64), comp[: fleet.participants])
    view = ClusterView(world, comp, fleet.memory_bytes.copy(), fleet.bandwidth_budget_bytes.copy())
    return view, requests, single


def test_a_binding_batch_is_never_worse_than_the_sequential_optima() -> None:
    view, requests, single = _binding_view(6, 1.5)
    world = view.world
    result = solve_batch(requests, view, world, PARAMS)
    # The single optima do not fit together, so the sequential pass ran and hinted the joint model.
    assert result.sequential_placed == 3 and np.isfinite(result.sequential_latency_s)
    assert result.sequential_latency_s > 3 * single.cost.latency_s  # the budgets bind
    placed = [d for d in result.decisions if isinstance(d, Placement)]
    assert len(placed) == 3
    for request, decision in zip(requests, placed, strict=True):
        check_placement(decision, request, view)
    assert np.all(sum(d.cost.compute_mults for d in placed) <= view.compute_mults)
    assert result.total_latency_s <= result.sequential_latency_s + result.report.rounding_bound_s + 1e-12
    assert result.report.status in ("optimal", "feasible")


def test_sequential_places_in_order_on_what_is_left() -> None:
    view, requests, single = _binding_view(6, 1.5)
    seq = solve_sequential(requests, view, view.world, PARAMS)
    first = seq.decisions[0]
    assert isinstance(first, Placement)
    assert first.cost.latency_s == single.cost.latency_s  # nothing taken before it
    assert all(isinstance(d, Placement) for d in seq.decisions)
    assert np.all(sum(d.cost.compute_mults for d in seq.decisions if isinstance(d, Placement)) <= view.compute_mults)


def test_rolling_horizon_commits_each_window() -> None:
    view, requests, _ = _binding_view(6, 1.5)
    windows = rolling_horizon(requests, view, view.world, PARAMS, window=2)
    assert [len(w.decisions) for w in windows] == [2, 1]
    placed = [d for w in windows for d in w.decisions if isinstance(d, Placement)]
    assert np.all(sum(d.cost.compute_mults for d in placed) <= view.compute_mults)
