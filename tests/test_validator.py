"""The shared placement validator: valid placements pass, each kind of violation is caught."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from distsim.scenario import Scenario
from distsim.scheduling.base import ClusterView, Placement, Request
from distsim.scheduling.registry import make_scheduler
from distsim.scheduling.validate import InvalidPlacement, check_placement, validate_placement
from distsim.world import World, build_world


def world_of(cnn: str = "lenet", participants: int = 9, tau: float = 0.4) -> World:
    return build_world(
        Scenario.model_validate(
            {
                "name": "v",
                "sources": [{"cnn": cnn}],
                "participants": {"total": participants},
                "workload": {"requests": 1, "rate_per_s": 1.0},
                "privacy": {"max_ssim": tau},
            }
        )
    )


def placed(world: World, name: str = "distprivacy") -> tuple[Placement, Request, ClusterView]:
    view = ClusterView.idle(world)
    request = Request(3, world.fleet.participants, next(iter(world.cnns)), 0.0)
    decision = make_scheduler(name, {}, world, np.random.default_rng(0)).place(request, view)
    assert isinstance(decision, Placement)
    return decision, request, view


def tampered(view: ClusterView, p: Placement, layer: int, values: list[int]) -> Placement:
    arrays = list(p.assignments)
    arrays[layer] = np.array(values, dtype=np.int64)
    return view.make_placement(Request(p.request_id, 0, p.cnn, 0.0), arrays)


@pytest.mark.parametrize("name", ["distprivacy", "distprivacy_reference"])
@pytest.mark.parametrize(("cnn", "tau"), [("lenet", 0.4), ("lenet", 0.8), ("cifar_cnn", 0.6)])
def test_heuristics_pass(name: str, cnn: str, tau: float) -> None:
    p, request, view = placed(world_of(cnn, 20, tau), name)
    assert validate_placement(p, request, view) == []
    check_placement(p, request, view)


def test_wrong_shape_and_ids() -> None:
    world = world_of()
    p, request, view = placed(world)
    short = dataclasses.replace(p, assignments=p.assignments[:-1])
    assert "layers placed" in validate_placement(short, request, view)[0]
    arrays = list(p.assignments)
    arrays[1] = arrays[1][:-1]
    assert "segments" in validate_placement(dataclasses.replace(p, assignments=tuple(arrays)), request, view)[0]
    arrays = list(p.assignments)
    arrays[1] = np.full_like(arrays[1], world.fleet.size)
    assert "out of range" in validate_placement(dataclasses.replace(p, assignments=tuple(arrays)), request, view)[0]
    wrong = dataclasses.replace(p, request_id=99)
    assert "not 3" in validate_placement(wrong, request, view)[0]


def test_roles() -> None:
    world = world_of()
    p, request, view = placed(world)
    on_participant = tampered(view, p, 0, [0])  # conv1 must run on the source
    assert any("must run on the request's source" in v for v in validate_placement(on_participant, request, view))
    layer2 = world.cnns["lenet"].layer(2)
    on_source = tampered(view, p, 1, [request.source] * layer2.segments)
    violations = validate_placement(on_source, request, view)
    assert any("only participants" in v for v in violations)
    assert validate_placement(on_source, request, view, roles=False) == []


def test_privacy_cap() -> None:
    world = world_of()
    p, request, view = placed(world)
    crowded = tampered(view, p, 1, [0] * 8)  # relu1: Nf = 4 at tau 0.4
    violations = validate_placement(crowded, request, view)
    assert any("Nf = 4" in v for v in violations)
    assert validate_placement(crowded, request, view, privacy=False) == []


def test_first_fc_on_source_is_a_privacy_rule() -> None:
    world = world_of()
    p, request, view = placed(world)
    fc1 = world.cnns["lenet"].index_of("fc1")
    assert fc1 is not None and world.limits["lenet"].on_source(fc1)
    moved = tampered(view, p, fc1 - 1, [0])
    assert validate_placement(moved, request, view)
    assert validate_placement(moved, request, view, privacy=False) == []


def test_budgets() -> None:
    world = world_of()
    p, request, view = placed(world)
    for k, label in enumerate(("compute", "memory", "bandwidth")):
        arrays = list(view.residuals())
        busy = int(
            np.argmax(
                p.cost.bandwidth_bytes
                if label == "bandwidth"
                else p.cost.compute_mults
                if label == "compute"
                else p.cost.memory_bytes
            )
        )
        arrays[k][busy] = 0
        tight = ClusterView(world, *arrays)
        violations = validate_placement(p, request, tight)
        assert any(v.startswith(label) for v in violations), violations


def test_reported_cost_must_match_the_cost_model() -> None:
    p, request, view = placed(world_of())
    lying = dataclasses.replace(p, cost=dataclasses.replace(p.cost, latency_s=p.cost.latency_s * 0.9))
    assert any("reported latency" in v for v in validate_placement(lying, request, view))
    with pytest.raises(InvalidPlacement, match="reported latency"):
        check_placement(lying, request, view)
