"""The placement kernel (``distsim.placement``): cond1, cond2, cond4, reachability, attribution, charging."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distsim.model.topology import Topology
from distsim.placement import (
    UNBOUNDED,
    Constraint,
    LayerRule,
    Reach,
    attribute,
    binding,
    charge,
    layer_rules,
    min_participants,
    no_participant_detail,
    over_cap,
    qualify,
    room,
    run_failure,
    sender_room,
    source_failure,
)
from tests.conftest import make_world

RULE = LayerRule(3, "conv2", segments=10, segment_mults=100, segment_weight_bytes=10, cap=4, on_source=False)


def i64(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def test_room_is_the_tightest_of_compute_memory_and_cap() -> None:
    assert room(RULE, 1000, 1000, 0) == 4  # the cap binds
    assert room(RULE, 250, 1000, 0) == 2  # compute binds
    assert room(RULE, 1000, 25, 0) == 2  # memory binds
    assert room(RULE, 1000, 1000, 3) == 1
    assert room(RULE, 1000, 1000, 4) == 0
    free = LayerRule(2, "relu1", 6, 0, 0, None, False)
    assert room(free, 0, 0, 5) == UNBOUNDED
    # A device that is down (residuals -1) takes nothing, not even free segments.
    assert room(free, -1, 0, 0) == 0


def test_sender_room_and_charge() -> None:
    bw = i64(50, 7, 100)
    assert sender_room(bw, i64(0, 1), i64(10, 2)) == 3
    assert sender_room(bw, i64(), i64()) == UNBOUNDED
    comp, mem = i64(1000, 1000, 1000), i64(100, 100, 100)
    charge(RULE, 1, 3, comp, mem, bw, {0: 10, 1: 2, 2: 5})
    assert comp.tolist() == [1000, 700, 1000]
    assert mem.tolist() == [100, 70, 100]
    assert bw.tolist() == [20, 7, 85]  # device 1 sends itself nothing


def brute_first_failure(rule: LayerRule, j: int, held, comp, mem, bw, senders, reach) -> Constraint | None:
    """The literal per-candidate conditions, in attribution order."""
    if rule.cap is not None and held[j] >= rule.cap:
        return Constraint.PRIVACY
    if comp[j] < rule.segment_mults:
        return Constraint.COMPUTE
    if mem[j] < rule.segment_weight_bytes:
        return Constraint.MEMORY
    if any(bw[i] < o for i, o in senders.items() if i != j):
        return Constraint.BANDWIDTH
    if reach is not None and not reach[j]:
        return Constraint.UNREACHABLE
    return None


@settings(max_examples=150, deadline=None)
@given(
    d=st.integers(1, 7),
    cap=st.one_of(st.none(), st.integers(1, 3)),
    data=st.data(),
)
def test_qualify_and_attribution_match_the_literal_conditions(d: int, cap: int | None, data: st.DataObject) -> None:
    n = d + 2
    rule = LayerRule(4, "x", 8, 50, 5, cap, False)
    ints = st.lists(st.integers(0, 120), min_size=n, max_size=n)
    held = np.array(data.draw(st.lists(st.integers(0, 3), min_size=d, max_size=d)), dtype=np.int64)
    comp, mem, bw = (np.array(data.draw(ints), dtype=np.int64) for _ in range(3))
    senders = data.draw(st.dictionaries(st.integers(0, n - 1), st.integers(1, 60), max_size=3))
    reach = data.draw(st.one_of(st.none(), st.lists(st.booleans(), min_size=d, max_size=d)))
    reach_mask = None if reach is None else np.array(reach)
    q = qualify(rule, held, comp, mem, bw, senders, reach_mask)
    expected = [brute_first_failure(rule, j, held, comp, mem, bw, senders, reach_mask) for j in range(d)]
    assert q.qualifies.tolist() == [e is None for e in expected]
    counts = attribute(q)
    for constraint in (*counts,):
        assert counts[constraint] == sum(e is constraint for e in expected)
    # The scalar twin agrees with the masks for a run of one segment.
    for j in range(d):
        sends_ok = all(bw[i] >= o for i, o in senders.items() if i != j)
        reachable = reach_mask is None or bool(reach_mask[j])
        assert run_failure(rule, 1, int(comp[j]), int(mem[j]), int(held[j]), sends_ok, reachable) == expected[j]


def test_binding_breaks_ties_in_failure_order() -> None:
    counts = {
        Constraint.PRIVACY: 1,
        Constraint.COMPUTE: 3,
        Constraint.MEMORY: 3,
        Constraint.BANDWIDTH: 3,
        Constraint.UNREACHABLE: 3,
    }
    assert binding(counts) is Constraint.COMPUTE
    assert binding({**counts, Constraint.UNREACHABLE: 4}) is Constraint.UNREACHABLE
    constraint, detail = no_participant_detail("relu1", {**counts, Constraint.UNREACHABLE: 0}, 10)
    assert constraint is Constraint.COMPUTE
    assert (
        detail == "layer relu1: no participant qualifies (privacy 1, compute 3, memory 3, bandwidth 3 of 10 ruled out)"
    )
    assert no_participant_detail("relu1", counts, 0)[0] is Constraint.NO_PARTICIPANTS


def test_reach_caches_rows_and_source_failure_order() -> None:
    world = make_world(sources=[{"cnn": "lenet"}], participants={"total": 4})
    fleet = world.fleet
    links = Topology(fleet, [(0, 1), (1, 4)])  # participants 2, 3 isolated; source 4
    reach = Reach(links, fleet.participants)
    assert reach.row(0).tolist() == [True, True, False, False]
    assert reach.row(0) is reach.row(0)
    assert reach.of({0: 5, 3: 0}).tolist() == [True, True, False, False]  # a zero-byte sender needs no route
    assert reach.to({0: 5}, 4) and not reach.to({2: 5}, 4)
    rule = LayerRule(1, "conv1", 1, 10, 10, None, True)
    comp = fleet.compute_budget_mults.copy()
    mem = fleet.memory_bytes.copy()
    bw = fleet.bandwidth_budget_bytes.copy()
    assert source_failure(rule, 4, comp, mem, bw, {0: 5}, reach) is None
    assert source_failure(rule, 4, comp, mem, bw, {2: 5}, reach) == (
        Constraint.UNREACHABLE,
        "layer conv1: a sender has no route to the source",
    )
    bw[2] = 0
    assert source_failure(rule, 4, comp, mem, bw, {2: 5}, reach)[0] is Constraint.BANDWIDTH
    mem[4] = 0
    assert source_failure(rule, 4, comp, mem, bw, {2: 5}, reach)[0] is Constraint.MEMORY
    comp[4] = 0
    assert source_failure(rule, 4, comp, mem, bw, {2: 5}, reach)[0] is Constraint.COMPUTE
    assert Reach(world.links, fleet.participants).of({0: 5}) is None  # full mesh


@pytest.mark.parametrize(("cnn", "tau"), list(itertools.product(["lenet", "cifar_cnn", "vgg16"], [0.4, 0.6, 0.8])))
def test_rules_follow_the_limits(cnn: str, tau: float) -> None:
    world = make_world(sources=[{"cnn": cnn}], privacy={"max_ssim": tau})
    limits, net = world.limits[cnn], world.cnns[cnn]
    rules = layer_rules(net, limits)
    for rule, layer in zip(rules, net.layers, strict=True):
        assert rule.on_source == limits.on_source(layer.index)
        assert rule.cap == (None if rule.on_source else limits.max_maps(layer.index))
        assert (rule.segment_mults, rule.segment_weight_bytes) == (layer.segment_mults, layer.segment_weight_bytes)
    assert min_participants(rules) == limits.min_participants(net)
    capped = next(r for r in rules if r.cap is not None)
    counts = np.zeros(5, dtype=np.int64)
    counts[2] = capped.cap + 1
    assert over_cap(capped, counts).tolist() == [2]
