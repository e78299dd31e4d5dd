"""Topologies: multi-hop routes, cached shortest paths, unreachable pairs ruled out by the schedulers."""

from __future__ import annotations

import math
from typing import Any

import networkx as nx
import numpy as np
import pytest

from distsim.engine.records import MemorySink
from distsim.engine.simulation import Simulation
from distsim.errors import InputError
from distsim.model.cost import layer_transfers
from distsim.model.devices import FullMesh
from distsim.model.topology import Topology, geometric_edges
from distsim.scheduling.base import ClusterView, Placement, Rejection, Request
from distsim.world import World
from tests.conftest import make_world
from tests.test_distprivacy import assert_same, decide_both, random_view


def chain_world(**extra: Any) -> World:
    """4 participants + 1 source linked as a chain s0 - p0 - p1 - p2 - p3."""
    edges = [["s0", "p0"], ["p0", "p1"], ["p1", "p2"], ["p2", "p3"]]
    return make_world(
        sources=[{"cnn": "lenet"}],
        participants={"groups": [{"type": "rpi3", "count": 2}, {"type": "stm32h7", "count": 2}]},
        network={"topology": "edges", "edges": edges, **extra},
    )


def test_chain_routes_sum_per_hop_times() -> None:
    world = chain_world()
    links = world.links
    assert isinstance(links, Topology)
    spb = world.fleet.sec_per_byte  # p0, p1 rpi3 (802.11n); p2, p3 stm32h7 (802.11ah); s0 rpi3
    s0 = 4
    assert links.hops(s0, 3) == ((4, 0), (0, 1), (1, 2), (2, 3))
    assert links.pair(s0, 3) == pytest.approx(spb[4] + spb[0] + spb[1] + spb[2], rel=1e-15)
    assert links.pair(3, s0) == pytest.approx(spb[3] + spb[2] + spb[1] + spb[0], rel=1e-15)
    assert links.pair(2, 2) == 0.0
    assert links.hops(2, 2) == ()
    np.testing.assert_allclose(links.pairs(np.array([4, 3]), np.array([3, 4])), [links.pair(4, 3), links.pair(3, 4)])


def test_max_weighted_matches_brute_force() -> None:
    rng = np.random.default_rng(5)
    world = make_world(participants={"total": 9}, network={"topology": "geometric", "range_m": 40.0, "seed": 2})
    links = world.links
    n = world.fleet.size
    for _ in range(20):
        senders = np.sort(rng.choice(n, size=int(rng.integers(1, 5)), replace=False))
        weights = rng.integers(1, 10_000, size=len(senders))
        expected = np.zeros(n)
        for j in range(n):
            values = [w * links.pair(int(i), j) for i, w in zip(senders, weights, strict=True) if i != j]
            expected[j] = max(values, default=0.0)
        np.testing.assert_array_equal(links.max_weighted(senders, weights), expected)


def test_routes_are_cached_one_dijkstra_per_sender(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    original = nx.single_source_dijkstra

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(nx, "single_source_dijkstra", counting)
    world = make_world(
        participants={"total": 8},
        network={"topology": "geometric", "range_m": 60.0, "seed": 1},
        workload={"requests": 25, "rate_per_s": 5.0},
        simulation={"timing": "contention", "seed": 2},
    )
    sink = MemorySink()
    Simulation(world, sink).run()
    links = world.links
    assert isinstance(links, Topology)
    assert calls["n"] == links.route_computations
    assert 0 < links.route_computations <= world.fleet.size
    served = [r for r in sink.records if not r.dropped]
    assert served, "the run should serve requests"


def test_unreachable_is_inf_and_hops_raise() -> None:
    world = make_world(participants={"total": 3}, network={"topology": "edges", "edges": [["p0", "p1"]]})
    links = world.links
    assert math.isinf(links.pair(0, 2))
    assert not links.reachable(0, 2)
    assert links.reachable(0, 1)
    with pytest.raises(ValueError, match="unreachable"):
        links.hops(0, 2)
    row = links.to_all(0)
    assert row[0] == 0.0 and math.isinf(row[2])
    # Zero bytes from an isolated sender cost nothing (not NaN).
    assert np.isfinite(links.max_weighted(np.array([2]), np.array([0]))).all()


def test_geometric_layout_is_seeded_and_respects_range() -> None:
    a = make_world(participants={"total": 10}, network={"topology": "geometric", "range_m": 35.0, "seed": 4})
    b = make_world(participants={"total": 10}, network={"topology": "geometric", "range_m": 35.0, "seed": 4})
    c = make_world(participants={"total": 10}, network={"topology": "geometric", "range_m": 35.0, "seed": 5})
    edges_a, edges_b, edges_c = (sorted(w.links.graph.edges()) for w in (a, b, c))  # type: ignore[attr-defined]
    assert edges_a == edges_b
    assert edges_a != edges_c
    positions = np.array([[0.0, 0.0], [3.0, 4.0], [10.0, 0.0], [100.0, 100.0]])
    assert geometric_edges(positions, 5.0) == [(0, 1)]
    assert geometric_edges(positions, 8.1) == [(0, 1), (1, 2)]  # |(3,4)-(10,0)| = 8.06


def test_fixed_positions_are_used() -> None:
    positions = {"p0": [0.0, 0.0], "p1": [1.0, 0.0], "p2": [500.0, 500.0]}
    world = make_world(
        participants={"total": 3},
        sources=[{"cnn": "lenet"}],
        network={"topology": "geometric", "range_m": 2.0, "area_m": 1.0, "positions": positions},
    )
    # s0 is drawn inside the 1 m square, so it reaches p0 and p1, never p2 (500 m away).
    links = world.links
    assert links.reachable(3, 0) and links.reachable(3, 1) and not links.reachable(3, 2)


@pytest.mark.parametrize(
    ("network", "field", "message"),
    [
        ({"topology": "edges", "edges": [["p0", "p99"]]}, "network.edges.0", "unknown device id 'p99'"),
        ({"topology": "edges"}, "network", "expects an 'edges' list"),
        ({"topology": "geometric"}, "network", "range_m"),
        ({"topology": "full", "range_m": 3.0}, "network", "only used with topology 'geometric'"),
        ({"topology": "geometric", "range_m": 3.0, "positions": {"x1": [0, 0]}}, "network.positions.x1", "unknown"),
        ({"topology": "ring"}, "network.topology", "full"),
        ({"mac_efficiency": 0.0}, "network.mac_efficiency", "greater than 0"),
    ],
)
def test_bad_network_sections_name_the_field(network: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        make_world(participants={"total": 3}, network=network)
    assert info.value.field == field
    assert message in str(info.value)


def placement_pairs(world: World, placement: Placement) -> list[tuple[int, int]]:
    cnn = world.cnns[placement.cnn]
    prev = None
    out = []
    for layer, cur in zip(cnn.layers, placement.assignments, strict=True):
        flows = layer_transfers(layer, prev, cur, world.fleet.size)
        out.extend(zip(flows.senders.tolist(), flows.receivers.tolist(), strict=True))
        prev = cur
    return out


@pytest.mark.parametrize("seed", range(12))
def test_schedulers_never_use_unreachable_pairs_and_agree(seed: int) -> None:
    rng = np.random.default_rng(seed)
    cnn = ["lenet", "cifar_cnn"][seed % 2]
    world = make_world(
        sources=[{"cnn": cnn}],
        participants={"total": int(rng.integers(8, 30))},
        privacy={"max_ssim": float(rng.choice([0.6, 0.8]))},
        network={"topology": "geometric", "range_m": float(rng.uniform(15, 28)), "seed": seed},
    )
    source = world.fleet.participants
    request = Request(0, source, cnn, 0.0)
    seen_placement = False
    for view in (ClusterView.idle(world), random_view(rng, world), random_view(rng, world)):
        fast, ref = decide_both(world, request, view)
        assert_same(fast, ref, view)
        if isinstance(fast, Placement):
            seen_placement = True
            for i, j in placement_pairs(world, fast):
                assert world.links.reachable(i, j), f"placement uses unreachable pair {i}->{j}"
            assert math.isfinite(fast.cost.latency_s)
        else:
            assert isinstance(fast, Rejection)
    del seen_placement  # some layouts cut the source off: rejections are legitimate there


def test_isolated_participants_are_skipped_and_isolated_source_rejected() -> None:
    # p0..p3 linked to the source, p4..p7 isolated: placements use only p0..p3.
    edges = [["s0", f"p{k}"] for k in range(4)] + [["p0", "p1"], ["p1", "p2"], ["p2", "p3"]]
    world = make_world(
        sources=[{"cnn": "lenet"}],
        participants={"groups": [{"type": "nexus5", "count": 8}]},
        privacy={"max_ssim": 0.8},
        network={"topology": "edges", "edges": edges},
    )
    request = Request(0, 8, "lenet", 0.0)
    fast, ref = decide_both(world, request, ClusterView.idle(world))
    assert_same(fast, ref, ClusterView.idle(world))
    assert isinstance(fast, Placement)
    used = set(np.concatenate(fast.assignments).tolist())
    assert used <= {0, 1, 2, 3, 8}
    # A source with no link at all cannot run anything needing participants.
    cut = make_world(
        sources=[{"cnn": "lenet"}],
        participants={"groups": [{"type": "nexus5", "count": 4}]},
        privacy={"max_ssim": 0.8},
        network={"topology": "edges", "edges": [["p0", "p1"]]},
    )
    fast, ref = decide_both(cut, Request(0, 4, "lenet", 0.0), ClusterView.idle(cut))
    assert isinstance(fast, Rejection) and fast == ref
    assert fast.constraint == "unreachable"


def test_full_topology_is_the_full_mesh() -> None:
    world = make_world(network={"topology": "full"})
    assert isinstance(world.links, FullMesh)
    every = make_world(participants={"total": 5}, network={"topology": "geometric", "range_m": 1e6})
    mesh = FullMesh(every.fleet)
    n = every.fleet.size
    for i in range(n):
        np.testing.assert_array_equal(every.links.to_all(i), mesh.to_all(i))
