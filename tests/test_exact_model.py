"""The exact model's internals: hints read the same constraints CP-SAT solves, and symmetry breaking."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ortools.sat.python import cp_model

from distsim.scheduling.base import ClusterView, Placement, Request
from distsim.scheduling.exact import ExactParams, heuristic_hint, minmax_hint, solve_request
from distsim.scheduling.exact.model import Model, default_time_unit
from distsim.scheduling.validate import validate_placement
from distsim.world import World
from tests.conftest import make_world
from tests.test_exact import PARAMS, brute_force, tiny_world


def _lenet(participants: int, tau: float, topology: dict[str, object] | None = None) -> World:
    extra: dict[str, object] = {"network": topology} if topology else {}
    return make_world(
        sources=[{"cnn": "lenet"}],
        participants={"total": participants},
        privacy={"max_ssim": tau},
        **extra,
    )


def _views(world: World, seed: int, count: int) -> list[ClusterView]:
    """Residuals between 1% and 100% of the budgets (bandwidth squeezed harder, so it binds)."""
    rng = np.random.default_rng(seed)
    fleet = world.fleet
    # One view where no device may send anything: every spread placement breaks it.
    views = [ClusterView(world, fleet.compute_budget_mults.copy(), fleet.memory_bytes.copy(), 0 * fleet.memory_bytes)]
    for _ in range(count):
        scale = rng.uniform(0.01, 1.0, size=fleet.size)
        views.append(
            ClusterView(
                world,
                (fleet.compute_budget_mults * scale).astype(np.int64),
                (fleet.memory_bytes * scale).astype(np.int64),
                (fleet.bandwidth_budget_bytes * scale * rng.uniform(0.0, 0.05)).astype(np.int64),
            )
        )
    return views


def _confirm(model: Model) -> tuple[str, float]:
    """Solve with every variable fixed to its hint: (status name, objective in units)."""
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.fix_variables_to_their_hinted_value = True
    solver.parameters.max_time_in_seconds = 10.0
    code = solver.solve(model.m)
    return solver.status_name(code), solver.objective_value


@pytest.mark.parametrize(
    "world",
    [
        _lenet(8, 0.6),
        _lenet(12, 0.8),
        _lenet(12, 0.6, {"topology": "geometric", "range_m": 45.0, "seed": 2}),
    ],
    ids=["lenet8", "lenet12", "lenet12-geometric"],
)
def test_hint_values_are_what_cp_sat_confirms(world: World) -> None:
    """The hint of every variable comes from the constraint terms CP-SAT solves, not from a twin.

    With every variable fixed to its hint, CP-SAT accepts exactly the hints whose placement
    satisfies the budgets (the validator), with the objective the hint evaluation computed.
    """
    request = Request(0, world.fleet.participants, "lenet", 0.0)
    unit = default_time_unit(world, ["lenet"], 10_000)
    accepted = rejected = 0
    for view in [ClusterView.idle(world), *_views(world, 7, 6)]:
        idle = ClusterView.idle(world)
        for make in (heuristic_hint, minmax_hint):
            # Placements found on the idle fleet may break the squeezed budgets of ``view``.
            assignments = make(world, request, idle)
            assert assignments is not None
            model = Model(world, view, unit, symmetry_breaking=False)
            model.add_request(request)
            model.finish()
            objective = model.hint([assignments])
            status, confirmed = _confirm(model)
            placement = view.make_placement(request, assignments)
            valid = validate_placement(placement, request, view) == []
            if valid:
                accepted += 1
                assert status == "OPTIMAL", status
                assert confirmed == objective
                # The model over-estimates each time by less than its rounding bound.
                assert placement.cost.latency_s <= objective * unit + 1e-12
            else:
                rejected += 1
                assert status == "INFEASIBLE", status
    assert accepted and rejected  # both branches ran


def test_symmetry_breaking_equals_brute_force(tmp_path: Path) -> None:
    # Two identical rpi3 participants: the ordered-loads constraints cut one of each mirrored pair.
    world = tiny_world(tmp_path, 0.4, ("rpi3", "rpi3", "nexus5"))
    view = ClusterView.idle(world)
    request = Request(0, world.fleet.participants, "tiny", 0.0)
    best = brute_force(world, request, view)
    plain, plain_report = solve_request(request, view, world, PARAMS)
    sym_params = PARAMS.model_copy(update={"symmetry_breaking": True})
    broken, report = solve_request(request, view, world, sym_params)
    assert isinstance(plain, Placement) and isinstance(broken, Placement)
    assert report.status == plain_report.status == "optimal"
    assert best - 1e-12 <= broken.cost.latency_s <= best + report.rounding_bound_s + 1e-12
    assert report.objective_s == pytest.approx(plain_report.objective_s)
    # The returned placement honours the order: the first rpi3 holds at least as many segments.
    load = sum(np.bincount(a, minlength=world.fleet.size) for a in broken.assignments)
    assert load[0] >= load[1]
    # Hints are relabelled to satisfy the order without changing their cost.
    model = Model(world, view, report.time_unit_s, symmetry_breaking=True)
    model.add_request(request)
    model.finish()
    assert model.identical_groups() == [[0, 1]]
    swapped = [np.where(a == 0, 1, np.where(a == 1, 0, a)) for a in broken.assignments]
    (canonical,) = model.canonical([swapped])
    assert [a.tolist() for a in canonical] == [a.tolist() for a in broken.assignments] or load[0] == load[1]
    assert view.make_placement(request, canonical).cost.latency_s == pytest.approx(broken.cost.latency_s)


def test_hint_false_still_finds_the_optimum_on_lenet() -> None:
    world = _lenet(6, 0.6)
    view = ClusterView.idle(world)
    request = Request(0, world.fleet.participants, "lenet", 0.0)
    hinted, a = solve_request(request, view, world, PARAMS)
    bare, b = solve_request(request, view, world, ExactParams(workers=1, time_limit_s=20.0, hint=False))
    assert a.status == b.status == "optimal"
    assert a.objective_s == pytest.approx(b.objective_s)
    assert isinstance(hinted, Placement) and isinstance(bare, Placement)
