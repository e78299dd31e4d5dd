"""The benchmark runner works on a tiny size, and the run-time shortcuts change no result.

No timing is asserted here: performance numbers live in ``benchmarks/`` and
``docs/performance.md``.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks.__main__ import main as bench_main
from distsim.benchmarks import perf
from distsim.engine.ledger import Ledger
from distsim.engine.records import MemorySink
from distsim.engine.simulation import Simulation
from distsim.scheduling.base import ClusterView, Request
from distsim.scheduling.distprivacy import DistPrivacy
from distsim.scheduling.registry import make_scheduler
from tests.conftest import make_world

#: A fleet too small for the load: most requests are rejected and retried many times.
BUSY = {
    "sources": [{"cnn": "lenet"}, {"cnn": "cifar_cnn", "count": 2}],
    "participants": {"total": 12, "mix": {"rpi3": 1, "nexus5": 1, "stm32h7": 1}},
    "budgets": {"window_s": 0.05},
    "workload": {"requests": 60, "rate_per_s": 60.0},
    "simulation": {"seed": 5, "retry": {"mode": "interval", "interval_s": 0.05, "max_attempts": 40}},
}


def test_quick_runner_writes_tables_and_plots(tmp_path: Path) -> None:
    assert bench_main(["perf", "--quick", "--out", str(tmp_path)]) == 0
    for name in (
        "perf.md", "decisions.csv", "runs.csv", "scaling.csv", "study.csv", "perf_decisions.png", "perf_scaling.png",
    ):  # fmt: skip
        assert (tmp_path / name).stat().st_size > 0, name
    with open(tmp_path / "decisions.csv", newline="") as handle:
        decisions = list(csv.DictReader(handle))
    assert {row["cnn"] for row in decisions} == set(perf.QUICK.cnns)
    timed = [row for row in decisions if row.get("reference_s")]
    assert timed, "the reference should run at the quick sizes"
    assert all(row["same_decision"] == "true" for row in timed)
    with open(tmp_path / "scaling.csv", newline="") as handle:
        scaling = list(csv.DictReader(handle))
    assert [int(row["requests"]) for row in scaling] == list(perf.QUICK.scaling_requests)
    assert all(
        int(row["served"]) + int(row["dropped_max_attempts"]) + int(row["dropped_fleet_too_small"])
        == int(row["requests"])
        for row in scaling
    )
    assert all(float(row["peak_rss_mb"]) > 0 and int(row["events"]) > 0 for row in scaling)
    with open(tmp_path / "study.csv", newline="") as handle:
        (study,) = list(csv.DictReader(handle))
    # Both kernel paths swept the same two runs and wrote the same results.csv.
    assert int(study["runs"]) == 2 and study["identical"] == "true"
    assert float(study["compiled_s"]) > 0 and float(study["python_s"]) > 0
    text = (tmp_path / "perf.md").read_text()
    assert "## Decision time" in text and "## Scaling" in text and "Growth exponents" in text
    assert "## Sweeps on both kernel paths" in text
    assert not list(tmp_path.glob(".*")), "no temporary files left behind"


def test_exponents_recover_a_power_law() -> None:
    rows = [
        {"requests": n, "participants": d, "run_wall_s": 1e-4 * n**1.5 * d} for n in (10, 100, 1000) for d in (5, 50)
    ]
    assert perf.exponents(rows, "requests", "participants") == pytest.approx({5: 1.5, 50: 1.5})
    assert perf.exponents(rows, "participants", "requests") == pytest.approx({10: 1.0, 100: 1.0, 1000: 1.0})


def test_simpy_floor_matches_the_event_count() -> None:
    wall, events = perf.simpy_floor(2000, 50)
    assert wall >= 0
    assert 1800 <= events <= 2200


def test_markdown_table_formats_missing_and_boolean_cells() -> None:
    table = perf.markdown_table([{"a": 1.23456, "b": None, "c": False}], [("a", "A"), ("b", "B"), ("c", "C")])
    assert table.splitlines() == ["| A | B | C |", "|---|---|---|", "| 1.23 | - | NO |"]


def test_ledger_version_changes_on_every_reserve_and_release() -> None:
    world = make_world()
    ledger = Ledger(world)
    placement = make_scheduler("distprivacy", {}, world, np.random.default_rng(0)).place(
        Request(0, world.fleet.participants, "lenet", 0.0), ClusterView.idle(world)
    )
    versions = [ledger.version]
    ledger.reserve(placement.cost)  # type: ignore[union-attr]
    versions.append(ledger.version)
    ledger.release(placement.cost)  # type: ignore[union-attr]
    versions.append(ledger.version)
    assert len(set(versions)) == 3
    assert ledger.is_idle()


def _run(monkeypatch: pytest.MonkeyPatch, repeatable: bool) -> tuple[Any, list[Any], int]:
    monkeypatch.setattr(DistPrivacy, "repeatable", repeatable)
    calls = 0
    original = DistPrivacy.place

    def counting(self: DistPrivacy, request: Request, view: ClusterView) -> Any:
        nonlocal calls
        calls += 1
        return original(self, request, view)

    monkeypatch.setattr(DistPrivacy, "place", counting)
    sink = MemorySink()
    sim = Simulation(make_world(**BUSY), sink)
    summary = sim.run()
    return summary, sink.records, calls


def test_reusing_rejections_changes_no_record(monkeypatch: pytest.MonkeyPatch) -> None:
    """Same seed with and without reusing a source's last rejection: identical records, fewer scheduler calls."""
    cached_summary, cached_records, cached_calls = _run(monkeypatch, True)
    plain_summary, plain_records, plain_calls = _run(monkeypatch, False)
    assert cached_summary.attempts_mean > 2, "the scenario should retry a lot"
    assert cached_records == plain_records
    assert cached_summary == plain_summary
    assert cached_calls < plain_calls
