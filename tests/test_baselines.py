"""Baseline schedulers: validity (shared validator), budgets, behaviour, and ``distsim run``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from distsim.cli import main
from distsim.scenario import Scenario
from distsim.scheduling.base import ClusterView, Placement, Rejection, Request
from distsim.scheduling.registry import make_scheduler
from distsim.scheduling.validate import validate_placement, validation_flags
from distsim.world import World, build_world

BASELINES = ("random", "round_robin", "no_privacy", "layerwise", "source_only", "minmax")


def world_of(cnn: str, participants: int, tau: float) -> World:
    return build_world(
        Scenario.model_validate(
            {
                "name": "b",
                "sources": [{"cnn": cnn}],
                "participants": {"total": participants},
                "workload": {"requests": 1, "rate_per_s": 1.0},
                "privacy": {"max_ssim": tau},
            }
        )
    )


@pytest.mark.parametrize("name", BASELINES)
@pytest.mark.parametrize(
    ("cnn", "participants", "tau"), [("lenet", 6, 0.4), ("lenet", 12, 0.8), ("cifar_cnn", 20, 0.6)]
)
def test_placements_pass_the_validator(name: str, cnn: str, participants: int, tau: float) -> None:
    world = world_of(cnn, participants, tau)
    view = ClusterView.idle(world)
    scheduler = make_scheduler(name, {}, world, np.random.default_rng(1))
    for k in range(3):
        request = Request(k, world.fleet.participants, cnn, 0.0)
        decision = scheduler.place(request, view)
        assert isinstance(decision, Placement)
        assert validate_placement(decision, request, view, **validation_flags(scheduler)) == []


@pytest.mark.parametrize("name", BASELINES)
def test_tight_budgets_give_valid_placements_or_rejections(name: str) -> None:
    world = world_of("lenet", 8, 0.6)
    fleet = world.fleet
    rng = np.random.default_rng(5)
    scheduler = make_scheduler(name, {}, world, np.random.default_rng(2))
    outcomes = set()
    for k in range(30):
        scale = rng.uniform(0.0, 0.002, size=fleet.size)
        comp = (fleet.compute_budget_mults * scale).astype(np.int64)
        bw = (fleet.bandwidth_budget_bytes * scale).astype(np.int64)
        view = ClusterView(world, comp, fleet.memory_bytes.copy(), bw)
        request = Request(k, fleet.participants, "lenet", 0.0)
        decision = scheduler.place(request, view)
        outcomes.add(type(decision))
        if isinstance(decision, Placement):
            assert validate_placement(decision, request, view, **validation_flags(scheduler)) == []
    assert Rejection in outcomes


def test_random_is_reproducible_per_stream() -> None:
    world = world_of("lenet", 12, 0.8)
    view = ClusterView.idle(world)
    request = Request(0, world.fleet.participants, "lenet", 0.0)

    def draw(seed: int) -> list[list[int]]:
        decision = make_scheduler("random", {}, world, np.random.default_rng(seed)).place(request, view)
        assert isinstance(decision, Placement)
        return [a.tolist() for a in decision.assignments]

    assert draw(3) == draw(3)
    assert draw(3) != draw(4)


def test_round_robin_cycles() -> None:
    world = world_of("lenet", 12, 0.8)
    view = ClusterView.idle(world)
    decision = make_scheduler("round_robin", {}, world, np.random.default_rng(0)).place(
        Request(0, world.fleet.participants, "lenet", 0.0), view
    )
    assert isinstance(decision, Placement)
    relu1 = decision.assignments[1].tolist()
    assert relu1 == list(range(len(relu1)))


def test_layerwise_keeps_layers_whole_and_source_only_uses_the_camera() -> None:
    world = world_of("cifar_cnn", 10, 0.4)
    view = ClusterView.idle(world)
    request = Request(0, world.fleet.participants, "cifar_cnn", 0.0)
    lw = make_scheduler("layerwise", {}, world, np.random.default_rng(0)).place(request, view)
    so = make_scheduler("source_only", {}, world, np.random.default_rng(0)).place(request, view)
    assert isinstance(lw, Placement) and isinstance(so, Placement)
    assert all(len(set(a.tolist())) == 1 for a in lw.assignments)
    assert all(set(a.tolist()) == {request.source} for a in so.assignments)
    assert so.cost.shared_bytes == 0


def test_no_privacy_lifts_limits_without_touching_the_world() -> None:
    world = world_of("lenet", 6, 0.4)
    before = world.limits["lenet"]
    scheduler = make_scheduler("no_privacy", {}, world, np.random.default_rng(0))
    decision = scheduler.place(Request(0, world.fleet.participants, "lenet", 0.0), ClusterView.idle(world))
    assert world.limits["lenet"] is before
    assert isinstance(decision, Placement)
    # Without Nf the heuristic piles relu1 on one participant (Nf = 4 would forbid it).
    assert np.bincount(decision.assignments[1]).max() > 4


@pytest.mark.parametrize("name", BASELINES)
def test_distsim_run(tmp_path: Path, name: str) -> None:
    spec = {
        "name": f"run-{name}",
        "sources": [{"cnn": "lenet"}, {"cnn": "cifar_cnn"}],
        "participants": {"total": 12},
        "workload": {"requests": 10, "rate_per_s": 3.0},
        "privacy": {"max_ssim": 0.6},
        "scheduler": {"name": name},
    }
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    assert main(["run", str(path), "--no-write"]) == 0


def test_bench_schedulers_quick(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    assert main(["bench", "schedulers", "--quick", "--out", str(out)]) == 0
    for name in ("schedulers.csv", "batch.csv", "scale.csv", "schedulers.md", "schedulers.png"):
        assert (out / name).stat().st_size > 0
    text = (out / "schedulers.md").read_text(encoding="utf-8")
    assert "| exact |" in text and "| distprivacy |" in text
