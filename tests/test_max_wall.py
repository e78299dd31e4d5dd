"""``simulation.max_wall_s``: a run stops cleanly, says it is incomplete, and ``distsim run`` exits 3."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from distsim import simulate
from distsim.cli import main
from distsim.scenario import scenario_from_dict


def _spec(max_wall_s: float | None) -> dict[str, object]:
    spec: dict[str, object] = {
        "name": "wall",
        "sources": [{"cnn": "lenet"}],
        "participants": {"total": 10},
        "workload": {"requests": 5000, "rate_per_s": 50.0},
        "privacy": {"max_ssim": 0.8},
        "simulation": {"seed": 3},
    }
    if max_wall_s is not None:
        spec["simulation"] = {"seed": 3, "max_wall_s": max_wall_s}
    return spec


def test_a_tiny_wall_budget_stops_the_run_and_marks_it(tmp_path: Path) -> None:
    result = simulate(scenario_from_dict(_spec(1e-6)), out_dir=tmp_path / "out")
    s = result.summary
    assert not s.complete
    assert s.served + s.dropped < s.requests or s.requests < 5000
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert summary["complete"] is False and manifest["complete"] is False
    rows = (tmp_path / "out" / "requests.csv").read_text().splitlines()
    assert len(rows) - 1 == s.served + s.dropped  # every ended request, nothing half-written


def test_a_generous_budget_changes_nothing() -> None:
    bounded = simulate(scenario_from_dict(_spec(600.0) | {"workload": {"requests": 50, "rate_per_s": 5.0}}))
    free = simulate(scenario_from_dict(_spec(None) | {"workload": {"requests": 50, "rate_per_s": 5.0}}))
    assert bounded.summary.complete and free.summary.complete
    assert bounded.summary == free.summary


def test_distsim_run_exits_3_when_incomplete(tmp_path: Path) -> None:
    path = tmp_path / "wall.yaml"
    path.write_text(yaml.safe_dump(_spec(1e-6)), encoding="utf-8")
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 3
    assert (tmp_path / "out" / "summary.json").exists()
