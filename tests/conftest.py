"""Shared fixtures: small scenarios built in code."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from distsim.scenario import scenario_from_dict
from distsim.world import World, build_world

ROOT = Path(__file__).resolve().parent.parent

BASE: dict[str, Any] = {
    "name": "t",
    "sources": [{"cnn": "lenet"}, {"cnn": "cifar_cnn"}],
    "participants": {"total": 12, "mix": {"rpi3": 1, "nexus5": 1, "stm32h7": 1}},
    "workload": {"requests": 30, "rate_per_s": 3.0},
    "privacy": {"max_ssim": 0.6},
    "simulation": {"seed": 3},
}


def scenario_dict(**overrides: Any) -> dict[str, Any]:
    """A copy of BASE with top-level sections replaced."""
    data = copy.deepcopy(BASE)
    data.update(copy.deepcopy(overrides))
    return data


def make_world(**overrides: Any) -> World:
    """A world built from BASE with overrides."""
    return build_world(scenario_from_dict(scenario_dict(**overrides)))


def write_scenario(path: Path, data: dict[str, Any]) -> Path:
    """Write a scenario mapping as YAML and return its path."""
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def quick_world() -> World:
    return make_world()


@pytest.fixture(params=["numba", "python"])
def kernel(request: pytest.FixtureRequest) -> Any:
    """Run the test once on the compiled path and once on the pure-Python path (``DISTSIM_KERNEL``)."""
    from distsim.model import compiled

    compiled.set_kernel(request.param)
    yield request.param
    compiled.set_kernel(None)
