"""distsim: discrete-event simulation of privacy-aware distributed CNN inference on IoT devices.

The Python API that the command line wraps::

    from distsim import load_scenario, simulate
    result = simulate(load_scenario("scenarios/quickstart.yaml"))
    print(result.summary.latency_mean_s)
"""

from distsim.errors import InputError
from distsim.run import RunResult, simulate
from distsim.scenario import Scenario, load_scenario, scenario_from_dict
from distsim.world import World, build_world

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
