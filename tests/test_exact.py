"""CP-SAT exact scheduler: brute force on tiny instances, bounds, rejections, batch, CLI."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from distsim.cli import main
from distsim.model.cost import evaluate
from distsim.privacy.exposure import relayed_maps
from distsim.scenario import Scenario, scenario_from_dict
from distsim.scheduling.base import ClusterView, Constraint, Placement, Rejection, Request
from distsim.scheduling.distprivacy import DistPrivacy, DistPrivacyParams
from distsim.scheduling.exact import Exact, ExactParams, solve_batch, solve_request
from distsim.scheduling.validate import check_placement, validate_placement
from distsim.world import World, build_world

TINY = {
    "input_channels": 2,
    "input_side": 6,
    "layers": [
        {"kind": "conv", "name": "c1", "maps": 2, "kernel": 3},
        {"kind": "relu", "name": "r1"},
        {"kind": "pool", "name": "p1", "kernel": 2},
        {"kind": "conv", "name": "c2", "maps": 2, "kernel": 1},
        {"kind": "relu", "name": "r2"},
        {"kind": "fc", "name": "f1", "neurons": 4},
        {"kind": "fc", "name": "f2", "neurons": 2},
    ],
}
SSIM = """dataset,cnn,layer,paper_label,maps_per_device,ssim
toy,tiny,r1,R1,1,0.3
toy,tiny,r1,R1,2,0.5
toy,tiny,r2,R2,1,0.35
toy,tiny,r2,R2,2,0.45
"""
PARAMS = ExactParams(workers=1, time_limit_s=20.0)


def tiny_world(tmp_path: Path, tau: float, types: tuple[str, ...] = ("nexus5", "rpi3", "stm32h7")) -> World:
    (tmp_path / "ssim.csv").write_text(SSIM, encoding="utf-8")
    spec = {
        "name": "tiny",
        "cnns": {"tiny": TINY},
        "sources": [{"cnn": "tiny"}],
        "participants": {"groups": [{"type": t, "count": 1} for t in types]},
        "workload": {"requests": 3, "rate_per_s": 1.0},
        "privacy": {"max_ssim": tau, "ssim_table": "ssim.csv"},
    }
    return build_world(scenario_from_dict(spec, base_dir=tmp_path))


def lenet_world(participants: int, tau: float) -> World:
    spec = {
        "name": "lenet",
        "sources": [{"cnn": "lenet"}],
        "participants": {"total": participants, "mix": {"rpi3": 1, "nexus5": 1, "stm32h7": 1}},
        "workload": {"requests": 3, "rate_per_s": 1.0},
        "privacy": {"max_ssim": tau},
    }
    return build_world(Scenario.model_validate(spec))


def brute_force(world: World, request: Request, view: ClusterView) -> float:
    """Smallest cost-model latency over every assignment that satisfies all constraints."""
    cnn = world.cnns[request.cnn]
    limits = world.limits[request.cnn]
    d = world.fleet.participants
    free = [layer for layer in cnn.layers if not limits.on_source(layer.index)]
    slots = sum(layer.segments for layer in free)
    guarded = hasattr(world.links, "route") and not world.encrypted_links
    capped = [layer for layer in free if limits.max_maps(layer.index) is not None]
    best = math.inf
    for choice in itertools.product(range(d), repeat=slots):
        arrays, k = [], 0
        for layer in cnn.layers:
            if limits.on_source(layer.index):
                arrays.append(np.full(layer.segments, request.source, dtype=np.int64))
            else:
                arrays.append(np.array(choice[k : k + layer.segments], dtype=np.int64))
                k += layer.segments
        if any(
            limits.max_maps(layer.index) is not None
            and not limits.on_source(layer.index)
            and np.bincount(a).max() > limits.max_maps(layer.index)
            for layer, a in zip(cnn.layers, arrays, strict=True)
        ):
            continue
        if guarded:
            # Links in clear: a capped layer's maps may not cross a participant relay (distsim.placement).
            relays = relayed_maps(cnn, arrays, world.links, d, world.fleet.size)
            if any(relays[layer.index - 1] for layer in capped):
                continue
        cost = evaluate(cnn, arrays, world.fleet, world.links)
        if (
            np.any(cost.compute_mults > view.compute_mults)
            or np.any(cost.memory_bytes > view.memory_bytes)
            or np.any(cost.bandwidth_bytes > view.bandwidth_bytes)
        ):
            continue
        best = min(best, cost.latency_s)
    return best


@pytest.mark.parametrize("tau", [0.4, 0.5])
def test_equals_brute_force_on_idle_fleet(tmp_path: Path, tau: float) -> None:
    # At 0.5 nothing caps the maps: two participants keep the enumeration small (2^9).
    world = tiny_world(tmp_path, tau, ("nexus5", "rpi3", "stm32h7") if tau < 0.5 else ("nexus5", "stm32h7"))
    view = ClusterView.idle(world)
    request = Request(0, world.fleet.participants, "tiny", 0.0)
    decision, report = solve_request(request, view, world, PARAMS)
    assert isinstance(decision, Placement) and report.status == "optimal"
    check_placement(decision, request, view)
    best = brute_force(world, request, view)
    assert best - 1e-12 <= decision.cost.latency_s <= best + report.rounding_bound_s + 1e-12


@pytest.mark.parametrize("squeeze_bandwidth", [False, True])
def test_equals_brute_force_with_binding_budgets(tmp_path: Path, squeeze_bandwidth: bool) -> None:
    world = tiny_world(tmp_path, 0.5, ("nexus5", "stm32h7"))
    fleet = world.fleet
    idle = ClusterView.idle(world)
    unconstrained, _ = solve_request(Request(0, fleet.participants, "tiny", 0.0), idle, world, PARAMS)
    assert isinstance(unconstrained, Placement)
    # Take away what the unconstrained optimum uses on its busiest participant (and, in the second
    # case, half the bandwidth of the device that sends most): the optimum must change.
    comp = fleet.compute_budget_mults.copy()
    bw = fleet.bandwidth_budget_bytes.copy()
    busiest = int(np.argmax(unconstrained.cost.compute_mults[: fleet.participants]))
    comp[busiest] = unconstrained.cost.compute_mults[busiest] - 1
    if squeeze_bandwidth:
        sender = int(np.argmax(unconstrained.cost.bandwidth_bytes))
        bw[sender] = unconstrained.cost.bandwidth_bytes[sender] // 2
    view = ClusterView(world, comp, fleet.memory_bytes.copy(), bw)
    request = Request(1, fleet.participants, "tiny", 0.0)
    decision, report = solve_request(request, view, world, PARAMS)
    best = brute_force(world, request, view)
    if squeeze_bandwidth:
        assert math.isinf(best)  # this instance has no solution at all
        assert isinstance(decision, Rejection) and decision.constraint is Constraint.INFEASIBLE
        return
    assert isinstance(decision, Placement) and report.status == "optimal"
    assert validate_placement(decision, request, view) == []
    assert best - 1e-12 <= decision.cost.latency_s <= best + report.rounding_bound_s + 1e-12
    assert decision.cost.latency_s > unconstrained.cost.latency_s


@pytest.mark.parametrize(("participants", "tau"), [(5, 0.4), (6, 0.8), (8, 0.6)])
def test_not_above_heuristic_and_objective_matches_cost_model(participants: int, tau: float) -> None:
    world = lenet_world(participants, tau)
    view = ClusterView.idle(world)
    request = Request(0, world.fleet.participants, "lenet", 0.0)
    heuristic = DistPrivacy(DistPrivacyParams(), world, np.random.default_rng(0)).place(request, view)
    decision, report = solve_request(request, view, world, PARAMS.model_copy(update={"workers": 2}))
    assert isinstance(decision, Placement) and isinstance(heuristic, Placement)
    check_placement(decision, request, view)
    e = report.rounding_bound_s
    assert e < 0.01 * decision.cost.latency_s
    # The cost model's latency lies in [objective - E, objective].
    assert report.objective_s - e - 1e-12 <= decision.cost.latency_s <= report.objective_s + 1e-12
    if report.status == "optimal":
        assert decision.cost.latency_s <= heuristic.cost.latency_s + e


@pytest.mark.parametrize("hint", [True, False])
def test_equals_brute_force_on_random_residuals_and_topologies(tmp_path: Path, hint: bool) -> None:
    # The per-layer lower bounds, the usable-participant filter and the confirm-the-hint shortcut must
    # never cut off the optimum: random residual budgets and random links (some pairs unreachable).
    rng = np.random.default_rng(11 if hint else 12)
    params = PARAMS.model_copy(update={"hint": hint})
    outcomes = []
    for case in range(8):
        tau = 0.4 if case % 2 else 0.5  # no cap at 0.5: two participants keep the enumeration small
        types = ("nexus5", "rpi3", "stm32h7") if tau < 0.5 else ("nexus5", "stm32h7")
        devices = [f"p{k}" for k in range(len(types))] + ["s0"]
        pairs = list(itertools.combinations(devices, 2))
        keep = rng.random(len(pairs)) < 0.7
        network = (
            {"topology": "full"}
            if case < 2
            # With the hint, links in clear (capped maps avoid participant relays); without, encrypted.
            else {
                "topology": "edges",
                "edges": [list(p) for p, k in zip(pairs, keep, strict=True) if k],
                "encrypted_links": not hint,
            }
        )
        base = tiny_world(tmp_path, tau, types)
        world = build_world(scenario_from_dict({**base.scenario.model_dump(), "network": network}, base_dir=tmp_path))
        fleet = world.fleet
        d = fleet.participants
        # Participants get 5-60% of the request's participant compute and bandwidth: budgets bind.
        work = sum(layer.total_mults for layer in world.cnns["tiny"].layers)
        comp = fleet.compute_budget_mults.copy()
        bw = fleet.bandwidth_budget_bytes.copy()
        comp[:d] = (work * rng.uniform(0.05, 0.6, size=d)).astype(np.int64)
        bw[:d] = (4 * 6 * 6 * 2 * rng.uniform(0.05, 0.6, size=d)).astype(np.int64)
        view = ClusterView(world, comp, fleet.memory_bytes.copy(), bw)
        request = Request(case, d, "tiny", 0.0)
        decision, report = solve_request(request, view, world, params)
        best = brute_force(world, request, view)
        binding = best > brute_force(world, request, ClusterView.idle(world)) + 1e-12
        outcomes.append((case, best, binding, type(decision).__name__, report.status))
        if math.isinf(best):
            assert isinstance(decision, Rejection), outcomes
            assert decision.constraint in (Constraint.INFEASIBLE, Constraint.UNREACHABLE)
            continue
        assert isinstance(decision, Placement) and report.status == "optimal", outcomes
        assert validate_placement(decision, request, view) == []
        assert best - 1e-12 <= decision.cost.latency_s <= best + report.rounding_bound_s + 1e-12, outcomes
        assert report.bound_s <= report.objective_s + 1e-12
        # The model's objective is the placement's latency up to the rounding bound E.
        assert report.objective_s - report.rounding_bound_s - 1e-12 <= decision.cost.latency_s
        assert decision.cost.latency_s <= report.objective_s + 1e-12
    placed = [o for o in outcomes if o[3] == "Placement"]
    assert len(placed) >= 3, outcomes
    assert any(o[2] for o in placed), outcomes  # budgets changed some optimum


def test_timeout_without_solution_returns_the_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    import distsim.scheduling.exact as exact

    world = lenet_world(8, 0.6)
    view = ClusterView.idle(world)
    request = Request(0, world.fleet.participants, "lenet", 0.0)
    optimum, _ = solve_request(request, view, world, PARAMS)
    monkeypatch.setattr(exact.solve, "_status", lambda solver, code: "timeout")  # CP-SAT "found nothing in time"
    decision, report = solve_request(request, view, world, PARAMS)
    assert isinstance(decision, Placement) and decision.status == "feasible" and report.status == "feasible"
    check_placement(decision, request, view)
    # Its objective is the hint's model value; the bound is the sum of the per-layer lower bounds.
    assert report.objective_s - report.rounding_bound_s - 1e-12 <= decision.cost.latency_s <= report.objective_s
    assert isinstance(optimum, Placement)
    assert report.bound_s <= optimum.cost.latency_s + report.rounding_bound_s + 1e-12
    assert decision.cost.latency_s >= optimum.cost.latency_s - report.rounding_bound_s
    # Without a hint there is nothing to return.
    decision, report = solve_request(request, view, world, PARAMS.model_copy(update={"hint": False}))
    assert isinstance(decision, Rejection) and decision.constraint is Constraint.TIMEOUT


def test_privacy_needs_more_participants_is_a_rejection() -> None:
    world = lenet_world(3, 0.4)  # LeNet at 0.4 needs 4 participants
    request = Request(0, world.fleet.participants, "lenet", 0.0)
    decision, report = solve_request(request, ClusterView.idle(world), world, PARAMS)
    assert isinstance(decision, Rejection)
    assert decision.constraint is Constraint.INFEASIBLE and "privacy" in decision.detail
    assert report.status == "infeasible"


def test_no_compute_left_is_a_rejection() -> None:
    world = lenet_world(6, 0.8)
    fleet = world.fleet
    comp = fleet.compute_budget_mults.copy()
    comp[: fleet.participants] = 0
    view = ClusterView(world, comp, fleet.memory_bytes.copy(), fleet.bandwidth_budget_bytes.copy())
    decision, _ = solve_request(Request(0, fleet.participants, "lenet", 0.0), view, world, PARAMS)
    assert isinstance(decision, Rejection) and decision.constraint is Constraint.INFEASIBLE
    assert "compute" in decision.detail


def test_bandwidth_infeasibility_is_proved_by_cp_sat() -> None:
    world = lenet_world(6, 0.8)
    fleet = world.fleet
    bw = fleet.bandwidth_budget_bytes.copy()
    bw[fleet.participants] = 100  # the source cannot ship conv1's partial sums
    view = ClusterView(world, fleet.compute_budget_mults.copy(), fleet.memory_bytes.copy(), bw)
    decision, report = solve_request(Request(0, fleet.participants, "lenet", 0.0), view, world, PARAMS)
    assert isinstance(decision, Rejection) and decision.constraint is Constraint.INFEASIBLE
    assert "CP-SAT proved" in decision.detail and report.status == "infeasible"


def test_batch_shares_budgets(tmp_path: Path) -> None:
    world = tiny_world(tmp_path, 0.5)
    fleet = world.fleet
    requests = [Request(k, fleet.participants, "tiny", 0.0) for k in range(3)]
    idle = ClusterView.idle(world)
    loose = solve_batch(requests, idle, world, PARAMS)
    single, _ = solve_request(requests[0], idle, world, PARAMS)
    assert isinstance(single, Placement) and loose.report.status == "optimal"
    assert loose.total_latency_s == pytest.approx(3 * single.cost.latency_s, rel=1e-3)
    # Room for about one request's compute on the fastest participant: the batch must spread out.
    comp = fleet.compute_budget_mults.copy()
    comp[: fleet.participants] = np.maximum(single.cost.compute_mults[: fleet.participants], 1)
    view = ClusterView(world, comp, fleet.memory_bytes.copy(), fleet.bandwidth_budget_bytes.copy())
    tight = solve_batch(requests, view, world, PARAMS)
    placed = [d for d in tight.decisions if isinstance(d, Placement)]
    for request, decision in zip(requests, tight.decisions, strict=True):
        if isinstance(decision, Placement):
            check_placement(decision, request, view)
    used = sum(d.cost.compute_mults for d in placed)
    assert np.all(used <= comp)
    if len(placed) == 3:
        assert tight.total_latency_s >= loose.total_latency_s - 3 * tight.report.rounding_bound_s


def test_scheduler_class_and_distsim_run(tmp_path: Path) -> None:
    world = lenet_world(6, 0.6)
    scheduler = Exact(ExactParams(workers=1, work_limit=5.0), world, np.random.default_rng(0))
    assert scheduler.params.reproducible
    assert not Exact(ExactParams(time_limit_s=5.0), world, np.random.default_rng(0)).params.reproducible
    request = Request(0, world.fleet.participants, "lenet", 0.0)
    decision = scheduler.place(request, ClusterView.idle(world))
    assert isinstance(decision, Placement) and scheduler.last_report is not None
    spec = {
        "name": "exact-run",
        "sources": [{"cnn": "lenet"}],
        "participants": {"total": 6},
        "workload": {"requests": 4, "rate_per_s": 2.0},
        "privacy": {"max_ssim": 0.8},
        "scheduler": {"name": "exact", "params": {"work_limit": 5.0, "workers": 1}},
    }
    path = tmp_path / "exact.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "summary.json").exists()


def test_bad_params_are_input_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = {
        "name": "bad",
        "sources": [{"cnn": "lenet"}],
        "participants": {"total": 6},
        "workload": {"requests": 2, "rate_per_s": 2.0},
        "privacy": {"max_ssim": 0.8},
        "scheduler": {"name": "exact", "params": {"time_limit_s": -1}},
    }
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    assert main(["run", str(path), "--no-write"]) == 2
    assert "scheduler.params.time_limit_s" in capsys.readouterr().err
