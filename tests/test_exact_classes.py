"""The class model (distsim/scheduling/exact/classes.py): a relaxation whose split-back is checked by brute force."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from ortools.sat.python import cp_model

from distsim import scenario_from_dict
from distsim.model.cost import evaluate
from distsim.scheduling.base import ClusterView, Placement, Rejection, Request
from distsim.scheduling.exact import ExactParams, solve_request
from distsim.scheduling.exact.classes import ClassModel, device_classes, split_back
from distsim.scheduling.exact.model import default_time_unit
from distsim.scheduling.validate import check_placement, validate_placement
from distsim.world import World, build_world
from tests.test_exact import lenet_world, tiny_world

PARAMS = ExactParams(workers=1, work_limit=5.0, model="classes")


def _placements(world: World, request: Request, view: ClusterView) -> list[tuple[list[np.ndarray], float]]:
    """Every valid placement of ``request`` on ``view`` with its cost-model latency (brute force)."""
    cnn = world.cnns[request.cnn]
    limits = world.limits[request.cnn]
    d = world.fleet.participants
    free = [layer for layer in cnn.layers if not limits.on_source(layer.index)]
    caps = [limits.max_maps(layer.index) for layer in free]
    out = []
    for choice in itertools.product(range(d), repeat=sum(layer.segments for layer in free)):
        arrays, k, capped = [], 0, False
        for layer in cnn.layers:
            if limits.on_source(layer.index):
                arrays.append(np.full(layer.segments, request.source, dtype=np.int64))
                continue
            array = np.array(choice[k : k + layer.segments], dtype=np.int64)
            cap = caps[free.index(layer)]
            capped |= cap is not None and int(np.bincount(array).max()) > cap
            arrays.append(array)
            k += layer.segments
        if capped:
            continue
        cost = evaluate(cnn, arrays, world.fleet, world.links)
        if (
            np.all(cost.compute_mults <= view.compute_mults)
            and np.all(cost.memory_bytes <= view.memory_bytes)
            and np.all(cost.bandwidth_bytes <= view.bandwidth_bytes)
        ):
            out.append((arrays, cost.latency_s))
    return out


def _view(world: World, rng: np.random.Generator | None) -> ClusterView:
    """Idle, or random residuals drawn per device *type* (so equal types stay interchangeable)."""
    fleet = world.fleet
    if rng is None:
        return ClusterView.idle(world)
    d = fleet.participants
    work = sum(layer.total_mults for layer in world.cnns["tiny"].layers)
    comp, bw = fleet.compute_budget_mults.copy(), fleet.bandwidth_budget_bytes.copy()
    for name in sorted(set(fleet.types[:d])):
        members = [j for j in range(d) if fleet.types[j] == name]
        comp[members] = int(work * rng.uniform(0.1, 0.7))
        bw[members] = int(4 * 6 * 6 * 2 * rng.uniform(0.1, 0.9))
    return ClusterView(world, comp, fleet.memory_bytes.copy(), bw)


def test_classes_group_interchangeable_participants(tmp_path: Path) -> None:
    world = tiny_world(tmp_path, 0.4, ("nexus5", "stm32h7", "nexus5"))
    fleet = world.fleet
    classes = device_classes(ClusterView.idle(world))
    assert classes is not None
    assert [[fleet.types[j] for j in c.members] for c in classes] == [["nexus5", "nexus5"], ["stm32h7"]]
    comp = fleet.compute_budget_mults.copy()
    comp[0] -= 1  # residuals differ: no longer interchangeable
    split = device_classes(ClusterView(world, comp, fleet.memory_bytes.copy(), fleet.bandwidth_budget_bytes.copy()))
    assert split is not None and sorted(c.size for c in split) == [1, 1, 1]
    chain = {"topology": "edges", "edges": [["p0", "p1"], ["p1", "p2"], ["p2", "s0"]]}
    linked = build_world(scenario_from_dict({**world.scenario.model_dump(), "network": chain}, base_dir=tmp_path))
    assert device_classes(ClusterView.idle(linked)) is None


CASES = [
    (0.4, ("nexus5", "nexus5", "stm32h7"), None),
    (0.5, ("nexus5", "nexus5"), None),
    (0.4, ("nexus5", "stm32h7", "stm32h7"), 1),
    (0.5, ("stm32h7", "stm32h7"), 2),
    (0.4, ("rpi3", "nexus5", "rpi3"), 3),
]


@pytest.mark.parametrize(("tau", "types", "seed"), CASES)
def test_class_bound_never_exceeds_the_brute_force_optimum(
    tmp_path: Path, tau: float, types: tuple[str, ...], seed: int | None
) -> None:
    world = tiny_world(tmp_path, tau, types)
    view = _view(world, None if seed is None else np.random.default_rng(seed))
    request = Request(0, world.fleet.participants, "tiny", 0.0)
    every = _placements(world, request, view)
    decision, report = solve_request(request, view, world, PARAMS)
    if not every:
        assert isinstance(decision, Rejection)
        return
    best = min(latency for _, latency in every)
    assert isinstance(decision, Placement), report
    check_placement(decision, request, view)
    # The class bound is a lower bound of the true optimum; "optimal" means the brute-force optimum.
    assert report.bound_s <= best * (1 + 1e-12), (report, best)
    assert decision.cost.latency_s >= best * (1 - 1e-12)
    if report.status == "optimal":
        # Proved: within the reported distance (at most 0.001%) of the bound, hence of the optimum.
        assert report.rounding_bound_s <= 1e-5 * decision.cost.latency_s
        assert decision.cost.latency_s <= report.bound_s + report.rounding_bound_s + 1e-15
    else:
        assert report.rounding_bound_s == 0.0 and report.gap > 1e-5
    # The auto mode falls back to the per-device model and proves the optimum on these tiny instances.
    auto, auto_report = solve_request(request, view, world, PARAMS.model_copy(update={"model": "auto"}))
    assert isinstance(auto, Placement) and auto_report.status == "optimal"
    assert auto.cost.latency_s <= best + max(auto_report.rounding_bound_s, 0.0) + 1e-12


@pytest.mark.parametrize(("tau", "types", "seed"), CASES[::2])
def test_every_placement_projects_onto_the_class_model(
    tmp_path: Path, tau: float, types: tuple[str, ...], seed: int | None
) -> None:
    # The relaxation, variable by variable: any valid placement, projected onto the classes, satisfies
    # every class constraint (CP-SAT accepts it with every variable fixed) at an objective no higher
    # than its true latency.
    world = tiny_world(tmp_path, tau, types)
    view = _view(world, None if seed is None else np.random.default_rng(seed))
    request = Request(0, world.fleet.participants, "tiny", 0.0)
    classes = device_classes(view)
    assert classes is not None
    unit = default_time_unit(world, ["tiny"], 10**6)
    every = _placements(world, request, view)
    rng = np.random.default_rng(5)
    for k in rng.choice(len(every), size=min(12, len(every)), replace=False).tolist():
        arrays, latency = every[k]
        model = ClassModel(world, view, request, unit, classes, lambda: None)
        objective = model.hint(arrays)
        assert (objective - model.slack_units) * unit <= latency * (1 + 1e-12)
        solver = cp_model.CpSolver()
        solver.parameters.fix_variables_to_their_hinted_value = True
        solver.parameters.num_workers = 1
        assert solver.solve(model.m) == cp_model.OPTIMAL
        assert round(solver.objective_value) == objective
        # And the split-back of that projection is a valid placement.
        for spread in (True, False):
            again = view.make_placement(request, split_back(model, model.solution(solver), spread))
            assert validate_placement(again, request, view) == []


def test_lenet_class_model_proves_the_optimum_and_is_small() -> None:
    world = lenet_world(30, 0.4)
    view = ClusterView.idle(world)
    request = Request(0, world.fleet.participants, "lenet", 0.0)
    decision, report = solve_request(request, view, world, PARAMS)
    devices, device_report = solve_request(request, view, world, PARAMS.model_copy(update={"model": "devices"}))
    assert isinstance(decision, Placement) and isinstance(devices, Placement)
    assert report.status == "optimal" and report.variables < device_report.variables / 4
    # Both optimal: the same latency up to the per-device model's rounding bound.
    assert decision.cost.latency_s <= devices.cost.latency_s + 1e-12
    assert decision.cost.latency_s >= devices.cost.latency_s - device_report.rounding_bound_s - 1e-12
