"""Timing models: how long a placed request takes once its resources are reserved.

A timing model turns a :class:`~distsim.scheduling.base.Placement` into SimPy
events. ``analytic`` waits exactly the Eq. 5 latency (transfers of a layer in
parallel, no queueing: the paper's model); ``contention``
(:mod:`distsim.engine.contention`) queues work on CPUs and radios. Other modes register here.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, Protocol

import simpy

from distsim import names
from distsim.scheduling.base import Placement, Request
from distsim.world import World


@dataclass(frozen=True, slots=True)
class ServiceTiming:
    """How a request's service time splits, seconds.

    Attributes:
        compute_s: time computing (on the critical path).
        transfer_s: time sending feature maps (on the critical path).
        wait_s: time queued behind other requests' work (0 in ``analytic``).
    """

    compute_s: float
    transfer_s: float
    wait_s: float


class TimingModel(Protocol):
    """Executes a placed request inside the SimPy environment."""

    def execute(self, request: Request, placement: Placement) -> Generator[simpy.Event, Any, ServiceTiming]:
        """A SimPy process body: yields events, returns the service breakdown when done."""
        ...


class AnalyticTiming:
    """Each layer takes exactly its Eq. 5 term; requests never wait for each other."""

    def __init__(self, env: simpy.Environment, world: World, rng: Any = None) -> None:
        self.env = env

    def execute(self, request: Request, placement: Placement) -> Generator[simpy.Event, Any, ServiceTiming]:
        cost = placement.cost
        yield self.env.timeout(cost.latency_s)
        return ServiceTiming(
            # Summed from 0 layer by layer, the same floats as a sum over the LayerCost rows.
            compute_s=sum(cost.layer_compute_s.tolist()),
            transfer_s=sum(cost.layer_transfer_s.tolist()),
            wait_s=0.0,
        )


TimingFactory = Callable[[simpy.Environment, World, Any], TimingModel]


def register_timing(name: str, factory: TimingFactory) -> None:
    """Make a timing model available as ``simulation.timing: <name>`` (the table is :mod:`distsim.names`)."""
    names.register_timing(name, factory)


def timing_names() -> list[str]:
    """Names of the available timing models, sorted."""
    return names.timing_names()


def make_timing(name: str, env: simpy.Environment, world: World, rng: Any) -> TimingModel:
    """Build timing model ``name``; built-ins in other modules are imported on first use."""
    model: TimingModel = names.timing_factory(name)(env, world, rng)
    return model
