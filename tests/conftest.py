"""Shared fixtures: small scenarios built in code; the hypothesis profile every test runs under."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, settings

from distsim.scenario import scenario_from_dict
from distsim.world import World, build_world

ROOT = Path(__file__).resolve().parent.parent

# Property tests must not depend on how fast a shared machine is (no deadline, no "too slow" health
# check) and must give the same verdict on every run of the test command (derandomize: the examples
# follow from each test's source, so a failure in CI fails again locally). HYPOTHESIS_PROFILE=explore
# draws fresh examples each run, for hunting bugs by hand. A test's own @settings still set
# max_examples and the like on top of the profile.
settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile("explore", parent=settings.get_profile("ci"), derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

BASE: dict[str, Any] = {
    "name": "t",
    "sources": [{"cnn": "lenet"}, {"cnn": "cifar_cnn"}],
    "participants": {"total": 12, "mix": {"rpi3": 1, "nexus5": 1, "stm32h7": 1}},
    "workload": {"requests": 30, "rate_per_s": 3.0},
    "privacy": {"max_ssim": 0.6},
    "simulation": {"seed": 3},
}


#: Plug-in schedulers the conformance tests check besides every registered one (``scheduler_names()``,
#: which includes schedulers installed through the ``distsim.schedulers`` entry-point group).
EXAMPLE_SCHEDULERS = ("examples.fastest_first:FastestFirst",)


def conformance_schedulers() -> list[str]:
    """Every scheduler the conformance tests run: registered, installed, the examples, and the import
    paths listed (comma-separated) in the environment variable ``DISTSIM_TEST_SCHEDULERS``."""
    import os

    from distsim.scheduling.registry import scheduler_names

    extra = [name.strip() for name in os.environ.get("DISTSIM_TEST_SCHEDULERS", "").split(",") if name.strip()]
    return [*scheduler_names(), *EXAMPLE_SCHEDULERS, *extra]


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
    """Run the test once on the compiled path (from the first call) and once on the pure-Python path."""
    from distsim.model import compiled

    compiled.set_kernel(request.param)
    yield request.param
    compiled.set_kernel(None)
