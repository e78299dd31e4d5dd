"""Scheduler and timing-model names (distsim/names.py): built-ins, registered ones, and bad names.

The name table is the one place both the world (to check a scenario) and the
engine (to build what it names) look names up; a notebook's own scheduler or
timing model becomes usable by registering it there.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from typing import Any, ClassVar

import numpy as np
import pytest
import simpy

from distsim import names
from distsim.engine.timing import ServiceTiming, make_timing, register_timing, timing_names
from distsim.errors import InputError
from distsim.run import simulate
from distsim.scenario import scenario_from_dict
from distsim.scheduling.base import ClusterView, Decision, Placement, Request, SchedulerParams
from distsim.scheduling.distprivacy import DistPrivacy
from distsim.scheduling.registry import make_scheduler, register, scheduler_names
from distsim.world import World, build_world

SCENARIO: dict[str, Any] = {
    "name": "names",
    "sources": [{"cnn": "lenet"}],
    "participants": {"total": 6},
    "workload": {"requests": 5, "rate_per_s": 2.0},
    "privacy": {"max_ssim": 0.6},
}


@pytest.fixture
def clean_tables() -> Iterator[None]:
    """Leave the registered tables as they were (they are process-wide)."""
    saved = [(registry, dict(registry.registered)) for registry in (names.SCHEDULERS, names.TIMINGS)]
    yield
    for registry, registered in saved:
        registry.registered.clear()
        registry.registered.update(registered)


def test_builtin_names_resolve_to_their_classes_without_importing_them_first() -> None:
    assert scheduler_names() == sorted(names.BUILTIN_SCHEDULERS)
    for name in scheduler_names():
        cls: Any = names.scheduler_class(name)
        assert cls.name == name
        assert issubclass(cls.Params, SchedulerParams)
    assert timing_names() == ["analytic", "contention"]


def test_bad_names_and_params_name_the_field() -> None:
    with pytest.raises(InputError, match=re.escape("unknown scheduler 'fastest'; expected one of ")) as info:
        build_world(scenario_from_dict({**SCENARIO, "scheduler": {"name": "fastest"}}), file="s.yaml")
    assert (info.value.file, info.value.field) == ("s.yaml", "scheduler.name")
    with pytest.raises(InputError) as info:
        build_world(scenario_from_dict({**SCENARIO, "scheduler": {"name": "distprivacy", "params": {"alpha": "x"}}}))
    assert info.value.field == "scheduler.params.alpha"
    with pytest.raises(InputError, match="unknown timing mode 'quantum'") as info:
        build_world(scenario_from_dict({**SCENARIO, "simulation": {"timing": "quantum"}}))
    assert info.value.field == "simulation.timing"


class _Lazy(DistPrivacy):
    """DistPrivacy under another name: a registered scheduler must run exactly like the class it is."""

    name: ClassVar[str] = "lazy_distprivacy"


class _Slow:
    """Every request takes its Eq. 5 latency plus one second (a timing model a notebook might add)."""

    def __init__(self, env: simpy.Environment, world: World, rng: Any = None) -> None:
        self.env = env

    def execute(self, request: Request, placement: Placement) -> Generator[simpy.Event, Any, ServiceTiming]:
        yield self.env.timeout(placement.cost.latency_s + 1.0)
        return ServiceTiming(compute_s=0.0, transfer_s=placement.cost.latency_s, wait_s=1.0)


def test_a_registered_scheduler_and_timing_model_run_like_builtins(clean_tables: None) -> None:
    register(_Lazy)
    register_timing("slow", _Slow)
    assert "lazy_distprivacy" in scheduler_names() and "slow" in timing_names()
    world = build_world(scenario_from_dict({**SCENARIO, "scheduler": {"name": "lazy_distprivacy"}}))
    scheduler = make_scheduler("lazy_distprivacy", {}, world, np.random.default_rng(0))
    assert isinstance(scheduler, _Lazy)
    request = Request(0, world.fleet.size - 1, "lenet", 0.0)
    decision: Decision = scheduler.place(request, ClusterView.idle(world))
    reference = make_scheduler("distprivacy", {}, world, np.random.default_rng(0)).place(
        request, ClusterView.idle(world)
    )
    assert isinstance(decision, Placement) and isinstance(reference, Placement)
    assert [a.tolist() for a in decision.assignments] == [a.tolist() for a in reference.assignments]
    assert isinstance(make_timing("slow", simpy.Environment(), world, None), _Slow)

    plain = simulate(scenario_from_dict(SCENARIO))
    slow = simulate(scenario_from_dict({**SCENARIO, "simulation": {"timing": "slow"}}))
    assert plain.summary.served == slow.summary.served == 5
    assert slow.summary.latency_mean_s >= plain.summary.latency_mean_s + 1.0 - 1e-9


def test_a_registry_lists_sorted_prefers_registered_and_refuses_unknown_names() -> None:
    from distsim.plugins import Registry

    table: Registry[object] = Registry("widget", "widgets.name", {"b": "math:pi", "a": "math:e"})
    assert table.names() == ["a", "b"]
    assert table.get("b") == pytest.approx(3.14159265)
    table.register("b", "mine")
    table.register("c", "new")
    assert table.names() == ["a", "b", "c"] and table.get("b") == "mine"
    with pytest.raises(KeyError):
        table.get("d")
    with pytest.raises(InputError, match=re.escape("unknown widget 'd'; expected one of a, b, c")) as info:
        table.check("d", file="f.yaml")
    assert (info.value.file, info.value.field) == ("f.yaml", "widgets.name")
    table.check("c")
