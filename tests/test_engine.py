"""Engine: invariants on simulated runs, determinism, retries, drops, outputs."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distsim.engine.records import MemorySink
from distsim.engine.simulation import Simulation
from distsim.run import simulate
from distsim.scheduling.base import ClusterView, Placement, Request
from distsim.scheduling.validate import validate_placement
from distsim.world import World
from tests.conftest import make_world


class Checked:
    """Wraps a scheduler and checks every placement it returns against the model's constraints."""

    def __init__(self, inner: Any, world: World) -> None:
        self.inner = inner
        self.world = world
        self.name = inner.name
        self.placements = 0

    def place(self, request: Request, view: ClusterView) -> Any:
        decision = self.inner.place(request, view)
        if isinstance(decision, Placement):
            # Every constraint of SPEC section 5, through the one shared validator.
            assert validate_placement(decision, request, view) == []
            self.placements += 1
        return decision


def run_checked(world: World, seed: int | None = None) -> tuple[Any, MemorySink, Checked]:
    sink = MemorySink()
    sim = Simulation(world, sink, seed=seed)
    checked = Checked(sim.scheduler, world)
    sim.scheduler = checked
    summary = sim.run()  # raises if budgets are not restored at the end
    # Every request ends exactly once: served, dropped or failed (docs/dynamics.md).
    assert summary.served + summary.dropped + summary.failed == summary.requests == world.scenario.workload.requests
    assert len(sink.records) == summary.requests
    assert sorted(r.request_id for r in sink.records) == list(range(summary.requests))
    assert all(not (r.dropped and r.failed) for r in sink.records)
    assert sum(r.failed for r in sink.records) == summary.failed
    assert sum(r.restarts for r in sink.records) == summary.restarts
    if world.scenario.churn.policy == "restart":
        assert summary.failed == 0
    # No budget leaked or released twice: every residual is back at its full value.
    assert sim.ledger.is_idle() and sim.ledger.in_flight == 0
    return summary, sink, checked


WORLDS = {
    "mixed": {},
    "strict tau": {"privacy": {"max_ssim": 0.4}, "participants": {"total": 20}},
    "tight budgets": {"budgets": {"window_s": 0.05}, "workload": {"requests": 60, "rate_per_s": 20.0}},
    "on release": {
        "budgets": {"window_s": 0.05},
        "workload": {"requests": 60, "rate_per_s": 20.0},
        "simulation": {"seed": 1, "retry": {"mode": "on_release", "max_attempts": 5}},
    },
    "churn restart": {
        "churn": {"random": {"rpi3": {"up_mean_s": 3.0, "down_mean_s": 1.0}}, "policy": "restart"},
        "workload": {"requests": 40, "rate_per_s": 4.0},
    },
    "churn fail": {
        "churn": {
            "random": {"nexus5": {"up_mean_s": 2.0, "down_mean_s": 1.0}},
            "schedule": [{"device": "p0", "down_at": 1.0, "up_at": 4.0}],
            "policy": "fail",
        },
        "workload": {"requests": 40, "rate_per_s": 4.0},
        "simulation": {"seed": 5, "retry": {"mode": "on_release", "max_attempts": 20}},
    },
    "batteries": {
        "energy": {"batteries": True},
        "devices": {"rpi3": {"battery_wh": 0.002}, "nexus5": {"battery_wh": 0.001}},
        "workload": {"requests": 40, "rate_per_s": 2.0},
    },
    "vgg": {
        "sources": [{"cnn": "vgg19"}, {"cnn": "vgg16", "weight": 2}],
        "participants": {"total": 70},
        "privacy": {"max_ssim": 0.8},
        "workload": {"requests": 12, "rate_per_s": 3.0},
    },
}


@pytest.mark.parametrize("case", sorted(WORLDS))
def test_invariants_hold_on_every_run(case: str) -> None:
    summary, sink, checked = run_checked(make_world(**WORLDS[case]))
    assert checked.placements >= summary.served  # idle-fleet probes are checked too
    for record in sink.records:
        if record.dropped:
            assert math.isnan(record.latency_s) and record.drop_reason in ("fleet_too_small", "max_attempts")
        elif record.failed:
            assert math.isnan(record.latency_s) and record.failure.split(":")[0] in ("down", "battery")
        else:
            assert record.latency_s == pytest.approx(record.finish_at - record.arrival_at)
            assert record.start_at >= record.arrival_at
            assert record.latency_s >= record.compute_s + record.transfer_s - 1e-9


def test_tight_budgets_reject_and_retry() -> None:
    summary, sink, _ = run_checked(make_world(**WORLDS["tight budgets"]))
    assert summary.rejected_first_attempt > 0
    retried = [r for r in sink.records if r.rejected and not r.dropped]
    assert retried and all(r.attempts > 1 and r.queue_s > 0 for r in retried)


def test_fleet_too_small_dropped_at_once() -> None:
    world = make_world(
        sources=[{"cnn": "vgg19"}],
        participants={"total": 30},
        privacy={"max_ssim": 0.4},
        workload={"requests": 5, "rate_per_s": 1.0},
    )
    summary, sink, _ = run_checked(world)
    assert summary.dropped_fleet_too_small == 5 and summary.served == 0
    assert all(r.attempts == 1 and r.drop_reason == "fleet_too_small" for r in sink.records)
    assert summary.load_rejection_rate == 0.0 and summary.rejection_rate == 1.0


def test_poisson_arrivals_rate() -> None:
    world = make_world(workload={"requests": 4000, "rate_per_s": 5.0}, sources=[{"cnn": "lenet"}])
    _, sink, _ = run_checked(world)
    arrivals = np.array(sorted(r.arrival_at for r in sink.records))
    gaps = np.diff(np.concatenate(([0.0], arrivals)))
    # Mean inter-arrival 1 / lambda = 0.2 s; standard error 0.2 / sqrt(4000) ~ 0.0032.
    assert abs(gaps.mean() - 0.2) < 4 * 0.2 / math.sqrt(4000)
    # Exponential: coefficient of variation 1.
    assert abs(gaps.std() / gaps.mean() - 1.0) < 0.08


def test_single_request_latency_is_the_analytic_eq5() -> None:
    world = make_world(workload={"requests": 1, "rate_per_s": 1.0})
    _, sink, _ = run_checked(world)
    (record,) = sink.records
    view = ClusterView.idle(world)
    from distsim.scheduling.registry import make_scheduler

    placement = make_scheduler("distprivacy", {}, world, np.random.default_rng(0)).place(
        Request(0, world.fleet.participants + (0 if record.source == "s0" else 1), record.cnn, 0.0), view
    )
    assert isinstance(placement, Placement)
    assert record.latency_s == pytest.approx(placement.cost.latency_s, rel=1e-12)
    assert record.shared_bytes == placement.cost.shared_bytes


def test_same_seed_byte_identical_outputs(tmp_path: Path) -> None:
    world = make_world(**WORLDS["tight budgets"])
    simulate(world, out_dir=tmp_path / "a")
    simulate(world, out_dir=tmp_path / "b")
    simulate(world, out_dir=tmp_path / "c", seed=99)
    for name in ("requests.csv", "devices.csv", "summary.json", "scenario.yaml"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a" / "requests.csv").read_bytes() != (tmp_path / "c" / "requests.csv").read_bytes()
    manifest = json.loads((tmp_path / "c" / "manifest.json").read_text())
    assert manifest["seed"] == 99 and "simpy" in manifest["versions"]
    assert "seed: 99" in (tmp_path / "c" / "scenario.yaml").read_text()


def test_outputs_and_memory_run_agree(tmp_path: Path) -> None:
    world = make_world()
    on_disk = simulate(world, out_dir=tmp_path / "out")
    in_memory = simulate(world)
    assert on_disk.summary == in_memory.summary
    assert in_memory.records is not None
    lines = (tmp_path / "out" / "requests.csv").read_text().splitlines()
    assert len(lines) == 1 + len(in_memory.records)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["served"] == in_memory.summary.served
    assert summary["total_latency_s"] == pytest.approx(sum(r.latency_s for r in in_memory.records if not r.dropped))
    assert summary["shared_bytes"] == sum(r.shared_bytes for r in in_memory.records)
    devices = (tmp_path / "out" / "devices.csv").read_text().splitlines()
    assert len(devices) == 1 + world.fleet.size
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "staging directory left behind"


def test_weights_pick_sources() -> None:
    world = make_world(
        sources=[{"cnn": "lenet", "weight": 3.0}, {"cnn": "lenet", "weight": 1.0}],
        workload={"requests": 2000, "rate_per_s": 50.0},
    )
    _, sink, _ = run_checked(world)
    share = sum(r.source == "s0" for r in sink.records) / 2000
    assert abs(share - 0.75) < 4 * math.sqrt(0.75 * 0.25 / 2000)


@settings(max_examples=25, deadline=None)
@given(
    total=st.integers(0, 30),
    tau=st.sampled_from([0.4, 0.6, 0.8]),
    window=st.sampled_from([0.01, 0.05, 0.5, 5.0]),
    rate=st.sampled_from([1.0, 10.0, 50.0]),
    cnns=st.lists(st.sampled_from(["lenet", "cifar_cnn"]), min_size=1, max_size=3),
    mode=st.sampled_from(["interval", "on_release"]),
    seed=st.integers(0, 1000),
    churn=st.sampled_from([None, "restart", "fail"]),
)
def test_property_invariants(
    total: int, tau: float, window: float, rate: float, cnns: list, mode: str, seed: int, churn: str | None
) -> None:
    dynamic: dict[str, Any] = {}
    if churn is not None and total > 0:
        dynamic["churn"] = {
            "random": {
                "rpi3": {"up_mean_s": 1.0, "down_mean_s": 0.5},
                "stm32h7": {"up_mean_s": 2.0, "down_mean_s": 1.0},
            },
            "policy": churn,
        }
    world = make_world(
        **dynamic,
        sources=[{"cnn": c} for c in cnns],
        participants={"total": total},
        privacy={"max_ssim": tau},
        budgets={"window_s": window},
        workload={"requests": 25, "rate_per_s": rate},
        simulation={"seed": seed, "retry": {"mode": mode, "interval_s": 0.5, "max_attempts": 4}},
    )
    summary, sink, _ = run_checked(world)
    assert 0.0 <= summary.load_rejection_rate <= summary.rejection_rate <= 1.0
    # max_attempts counts again from each restart (docs/dynamics.md).
    assert all(1 <= r.attempts <= 4 * (r.restarts + 1) for r in sink.records)
    assert summary.shared_bytes == sum(r.shared_bytes for r in sink.records)
