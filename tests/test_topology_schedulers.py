"""Every registered scheduler over topologies with unreachable pairs, and under contention timing.

Issue 6: ``simulation.timing: contention`` works for every scheduler, and
pairs with no route are ruled out by every scheduler. Each placement passes
the shared validator (which flags a transfer over an unreachable pair) with the
scheduler's own flags, and has a finite latency.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from distsim.cli import main
from distsim.model.topology import Topology
from distsim.run import simulate
from distsim.scenario import scenario_from_dict
from distsim.scheduling.base import ClusterView, Constraint, Placement, Rejection, Request
from distsim.scheduling.exact import ExactParams, precheck, solve_request, usable_participants
from distsim.scheduling.registry import make_scheduler
from distsim.scheduling.validate import validate_placement, validation_flags
from distsim.world import World
from tests.conftest import conformance_schedulers, make_world, scenario_dict, write_scenario

#: Short CP-SAT runs: a placement with status ``feasible`` is as good as ``optimal`` here.
EXACT_PARAMS: dict[str, Any] = {"time_limit_s": 1.0}


def params_of(name: str) -> dict[str, Any]:
    return dict(EXACT_PARAMS) if name == "exact" else {}


def geometric_world(seed: int, encrypted: bool = False) -> World:
    """LeNet on 10-16 mixed participants laid out at random with a range that leaves some pairs cut off.

    With links in clear (``encrypted`` False) a capped layer may not cross a participant relay.
    """
    rng = np.random.default_rng(seed)
    return make_world(
        sources=[{"cnn": "lenet"}],
        participants={"total": int(rng.integers(10, 17))},
        privacy={"max_ssim": float(rng.choice([0.6, 0.8]))},
        network={
            "topology": "geometric",
            "range_m": float(rng.uniform(22, 32)),
            "seed": seed,
            "encrypted_links": encrypted,
        },
    )


def random_residuals(rng: np.random.Generator, world: World) -> ClusterView:
    """Residuals between 2% and 100% of the budgets, per device."""
    fleet = world.fleet
    scale = rng.uniform(0.02, 1.0, size=fleet.size)
    return ClusterView(
        world,
        (fleet.compute_budget_mults * scale).astype(np.int64),
        (fleet.memory_bytes * scale).astype(np.int64),
        (fleet.bandwidth_budget_bytes * scale).astype(np.int64),
    )


#: Layouts with some participants cut off from the source and at least 4 reachable.
SEEDS = (0, 1, 3, 5, 9, 16)
#: A layout whose source reaches no participant at all.
CUT_SEED = 10


def test_layouts_have_unreachable_pairs() -> None:
    # Otherwise the tests below would not test anything about routes.
    for seed in SEEDS:
        world = geometric_world(seed)
        links = world.links
        assert isinstance(links, Topology)
        n = world.fleet.size
        assert any(not links.reachable(i, j) for i in range(n) for j in range(n)), seed
        usable = usable_participants(ClusterView.idle(world), world.fleet.participants)
        assert 4 <= usable.sum() < len(usable), seed
    cut = geometric_world(CUT_SEED)
    assert not usable_participants(ClusterView.idle(cut), cut.fleet.participants).any()


@pytest.mark.parametrize("encrypted", [True, False])
@pytest.mark.parametrize("name", conformance_schedulers())
def test_every_scheduler_avoids_unreachable_pairs(name: str, encrypted: bool) -> None:
    placed = 0
    for seed in SEEDS:
        world = geometric_world(seed, encrypted)
        rng = np.random.default_rng(seed)
        scheduler = make_scheduler(name, params_of(name), world, np.random.default_rng(seed))
        flags = validation_flags(scheduler)
        source = world.fleet.participants
        views = [ClusterView.idle(world)] + ([random_residuals(rng, world)] if name != "exact" else [])
        for k, view in enumerate(views):
            request = Request(k, source, "lenet", 0.0)
            decision = scheduler.place(request, view)
            if isinstance(decision, Placement):
                placed += 1
                assert validate_placement(decision, request, view, **flags) == [], (seed, k)
                assert math.isfinite(decision.cost.latency_s)
            else:
                assert isinstance(decision, Rejection)
    # Most idle fleets place the request; fewer when capped layers must avoid relays (random: 3 of 12).
    assert placed >= (4 if encrypted else 3)
    # A source that reaches no participant: only the camera itself can serve it; the others say why.
    world = geometric_world(CUT_SEED)
    scheduler = make_scheduler(name, params_of(name), world, np.random.default_rng(0))
    request = Request(0, world.fleet.participants, "lenet", 0.0)
    decision = scheduler.place(request, ClusterView.idle(world))
    if name == "source_only":
        assert isinstance(decision, Placement)
        assert validate_placement(decision, request, ClusterView.idle(world), **validation_flags(scheduler)) == []
    else:
        assert isinstance(decision, Rejection) and decision.constraint is Constraint.UNREACHABLE, decision


def test_validator_flags_transfers_over_unreachable_pairs() -> None:
    # s0 - p0 - p1 linked, p2 isolated: putting relu1 on p2 needs s0 -> p2 (encrypted: relays may forward maps).
    chain = [["s0", "p0"], ["p0", "p1"], ["p1", "p3"], ["p3", "p4"], ["p4", "p5"]]
    world = make_world(
        sources=[{"cnn": "lenet"}],
        participants={"groups": [{"type": "nexus5", "count": 6}]},
        privacy={"max_ssim": 0.8},
        network={"topology": "edges", "edges": chain, "encrypted_links": True},
    )
    view = ClusterView.idle(world)
    request = Request(0, world.fleet.participants, "lenet", 0.0)
    decision = make_scheduler("distprivacy", {}, world, np.random.default_rng(0)).place(request, view)
    assert isinstance(decision, Placement)
    assert 2 not in np.concatenate(decision.assignments).tolist()
    moved = [a.copy() for a in decision.assignments]
    moved[1][0] = 2
    broken = view.make_placement(request, moved)
    problems = validate_placement(broken, request, view)
    assert any("p2" in p and "cannot reach" in p for p in problems), problems
    assert any("not finite" in p for p in problems)


def test_exact_never_models_cut_off_participants_and_names_unreachable() -> None:
    # p0..p3 linked to the source, p4..p7 isolated.
    edges = [["s0", f"p{k}"] for k in range(4)]
    world = make_world(
        sources=[{"cnn": "lenet"}],
        participants={"groups": [{"type": "nexus5", "count": 8}]},
        privacy={"max_ssim": 0.8},
        network={"topology": "edges", "edges": edges},
    )
    view = ClusterView.idle(world)
    np.testing.assert_array_equal(usable_participants(view, 8), [True] * 4 + [False] * 4)
    decision, report = solve_request(Request(0, 8, "lenet", 0.0), view, world, ExactParams(time_limit_s=5))
    assert isinstance(decision, Placement) and report.status == "optimal"
    assert set(np.concatenate(decision.assignments).tolist()) <= {0, 1, 2, 3, 8}
    # A source linked to nothing: the pre-check says why, as DistPrivacy does.
    cut = make_world(
        sources=[{"cnn": "lenet"}],
        participants={"groups": [{"type": "nexus5", "count": 4}]},
        privacy={"max_ssim": 0.8},
        network={"topology": "edges", "edges": [["p0", "p1"]]},
    )
    request = Request(0, 4, "lenet", 0.0)
    rejection = precheck(request, ClusterView.idle(cut), cut)
    assert isinstance(rejection, Rejection) and rejection.constraint is Constraint.UNREACHABLE
    assert "s0" in rejection.detail
    decision, report = solve_request(request, ClusterView.idle(cut), cut, ExactParams())
    assert isinstance(decision, Rejection) and decision.constraint is Constraint.UNREACHABLE
    assert report.status == "infeasible"
    # Full mesh: nothing is cut off and the pre-check passes.
    mesh = make_world(sources=[{"cnn": "lenet"}], participants={"total": 4}, privacy={"max_ssim": 0.8})
    assert usable_participants(ClusterView.idle(mesh), 4).all()
    assert precheck(Request(0, 4, "lenet", 0.0), ClusterView.idle(mesh), mesh) is None


def test_exact_on_a_topology_is_no_worse_than_distprivacy() -> None:
    # CP-SAT starts from DistPrivacy's placement, so with its proof its latency is at most the heuristic's + E.
    world = make_world(
        sources=[{"cnn": "lenet"}],
        participants={"total": 8},
        privacy={"max_ssim": 0.8},
        # Layout 3: placeable with capped layers kept off participant relays (layout 2 is not, for either).
        network={"topology": "geometric", "range_m": 45.0, "seed": 3},
    )
    view = ClusterView.idle(world)
    request = Request(0, world.fleet.participants, "lenet", 0.0)
    heuristic = make_scheduler("distprivacy", {}, world, np.random.default_rng(0)).place(request, view)
    decision, report = solve_request(request, view, world, ExactParams(time_limit_s=5))
    assert isinstance(heuristic, Placement) and isinstance(decision, Placement)
    assert decision.cost.latency_s <= heuristic.cost.latency_s + report.rounding_bound_s + 1e-12


def contention_spec(name: str, network: dict[str, Any]) -> dict[str, Any]:
    return scenario_dict(
        name=f"contention-{name}",
        sources=[{"cnn": "lenet"}, {"cnn": "lenet"}],
        participants={"total": 10},
        workload={"requests": 6, "rate_per_s": 20.0},
        privacy={"max_ssim": 0.8},
        simulation={"timing": "contention", "seed": 1},
        network=network,
        scheduler={"name": name, "params": params_of(name)},
    )


@pytest.mark.parametrize("name", conformance_schedulers())
def test_every_scheduler_under_contention_on_a_full_mesh(name: str) -> None:
    result = simulate(scenario_from_dict(contention_spec(name, {"topology": "full"})))
    summary = result.summary
    assert summary.timing == "contention" and summary.scheduler == name
    assert summary.served == summary.requests == 6
    assert result.records is not None
    for record in result.records:
        assert math.isfinite(record.latency_s) and record.latency_s > 0
        # The contention mode's accounting: service = compute + transfer + waiting on the critical path.
        assert record.compute_s + record.transfer_s + record.wait_s == pytest.approx(
            record.finish_at - record.start_at, rel=1e-9, abs=1e-12
        )


@pytest.mark.parametrize("name", conformance_schedulers())
def test_distsim_run_with_contention_and_a_topology(tmp_path: Path, name: str) -> None:
    # Encrypted: relays may forward maps (with links in clear some greedy baselines place nothing here).
    spec = contention_spec(name, {"topology": "geometric", "range_m": 40.0, "seed": 3, "encrypted_links": True})
    path = write_scenario(tmp_path / "s.yaml", spec)
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out)]) == 0
    text = (out / "requests.csv").read_text(encoding="utf-8")
    lines = text.strip().splitlines()
    assert len(lines) == 1 + 6
    header = lines[0].split(",")
    latency = header.index("latency_s")
    dropped = header.index("dropped")
    served = [row.split(",") for row in lines[1:] if row.split(",")[dropped] in ("False", "false", "0")]
    assert served, "some requests should be served"
    assert all(math.isfinite(float(row[latency])) for row in served)
