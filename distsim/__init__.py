"""distsim: discrete-event simulation of privacy-aware distributed CNN inference on IoT devices.

The Python API that the command line wraps::

    from distsim import load_scenario, simulate
    result = simulate(load_scenario("scenarios/quickstart.yaml"))
    print(result.summary.latency_mean_s)

The names below are imported on first use (module ``__getattr__``, PEP 562),
so ``import distsim.model.cnn`` loads neither SimPy nor pydantic nor
matplotlib: the package root costs nothing until its API is asked for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from distsim.errors import InputError
    from distsim.run import RunResult, simulate
    from distsim.scenario import Scenario, load_scenario, scenario_from_dict
    from distsim.world import World, build_world

#: Public name -> module that defines it.
_API: dict[str, str] = {
    "InputError": "distsim.errors",
    "RunResult": "distsim.run",
    "simulate": "distsim.run",
    "Scenario": "distsim.scenario",
    "load_scenario": "distsim.scenario",
    "scenario_from_dict": "distsim.scenario",
    "World": "distsim.world",
    "build_world": "distsim.world",
}

__all__ = [
    "InputError",
    "RunResult",
    "Scenario",
    "World",
    "build_world",
    "load_scenario",
    "scenario_from_dict",
    "simulate",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'distsim' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
