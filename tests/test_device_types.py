"""Device types and radios declared in the scenario, beside the catalogue (issue 10.4)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from distsim.cli import main
from distsim.run import simulate
from distsim.scenario import scenario_from_dict
from distsim.world import build_world
from tests.conftest import scenario_dict

DECLARED = {
    "device_types": {
        "jetson": {"mults_per_s": 5.0e9, "memory_bytes": 4 * 2**30, "radio": "wifi6", "cores": 6},
    },
    "radios": {"wifi6": {"rate_bps": 6.0e8, "description": "IEEE 802.11ax"}},
    "participants": {"groups": [{"type": "jetson", "count": 3}, {"type": "rpi3", "count": 3}]},
}


def test_declared_types_and_radios_build_a_fleet_and_run() -> None:
    world = build_world(scenario_from_dict(scenario_dict(**DECLARED)))
    fleet = world.fleet
    assert fleet.types[:3] == ("jetson",) * 3
    assert fleet.mults_per_s[0] == 5.0e9 and fleet.rate_bps[0] == 6.0e8
    assert fleet.compute_budget_mults[0] == int(5.0e9 * 5.0)  # derived from the 5 s window
    assert world.cores[:3] == (6, 6, 6) and world.cores[3] == 1
    result = simulate(scenario_from_dict(scenario_dict(**DECLARED)))
    assert result.summary.served == result.summary.requests


def test_overrides_apply_to_declared_types_too() -> None:
    data = scenario_dict(**DECLARED, devices={"jetson": {"cores": 2, "compute_budget_mults": 10**9}})
    world = build_world(scenario_from_dict(data))
    assert world.cores[0] == 2 and world.fleet.compute_budget_mults[0] == 10**9


def test_default_mix_includes_declared_types() -> None:
    data = scenario_dict(**{**DECLARED, "participants": {"total": 8}})
    assert "jetson" in build_world(scenario_from_dict(data)).fleet.types


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (
            {"device_types": {"rpi3": {"mults_per_s": 1e9, "memory_bytes": 10, "radio": "802.11n"}}},
            "device_types.rpi3",
            "built-in device type",
        ),
        ({"radios": {"802.11n": {"rate_bps": 1e6}}}, "radios.802.11n", "built-in radio"),
        (
            {"device_types": {"x": {"mults_per_s": 1e9, "memory_bytes": 10, "radio": "lora"}}},
            "device_types.x.radio",
            "unknown radio 'lora'",
        ),
        (
            {"device_types": {"x": {"mults_per_s": float("nan"), "memory_bytes": 10, "radio": "802.11n"}}},
            "device_types.x.mults_per_s",
            "finite",
        ),
        (
            {"device_types": {"x": {"mults_per_s": 1e9, "memory_bytes": 0, "radio": "802.11n"}}},
            "device_types.x.memory_bytes",
            "greater than or equal to 1",
        ),
        ({"radios": {"r": {"rate_bps": 0}}}, "radios.r.rate_bps", "greater than 0"),
    ],
)
def test_bad_declarations_are_one_line(
    change: dict[str, object], field: str, words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario_dict(**change)), encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and field in err and words in err, err


def test_catalog_lists_declared_types(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario_dict(**DECLARED)), encoding="utf-8")
    assert main(["catalog", "devices", "--scenario", str(path)]) == 0
    assert "jetson" in capsys.readouterr().out
    assert main(["catalog", "radios", "--scenario", str(path)]) == 0
    assert "wifi6" in capsys.readouterr().out
