"""Relays see what they forward (unless links are encrypted), and ``distsim run --placements`` (issue 9.4, 9.5)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from distsim.cli import main
from distsim.engine.records import MemorySink
from distsim.engine.simulation import Simulation
from distsim.privacy.exposure import received_maps, relayed_maps
from distsim.scheduling.base import ClusterView, Placement, Request
from distsim.scheduling.registry import make_scheduler
from tests.conftest import make_world, scenario_dict, write_scenario

#: A line: p0 - p1 - p2 - p3 - s0 - s1 (every transfer between non-neighbours is relayed).
CHAIN = [["p0", "p1"], ["p1", "p2"], ["p2", "p3"], ["p3", "s0"], ["s0", "s1"]]


def chain_world(encrypted: bool = False, mechanism: str = "none"):  # type: ignore[no-untyped-def]
    return make_world(
        sources=[{"cnn": "lenet"}, {"cnn": "cifar_cnn"}],
        participants={"total": 4},
        privacy={"max_ssim": 0.8, "mechanism": mechanism},
        network={"topology": "edges", "edges": CHAIN, "encrypted_links": encrypted},
        scheduler={"name": "round_robin"},
    )


def test_relayed_maps_are_the_maps_routed_through_a_participant() -> None:
    world = chain_world()
    fleet = world.fleet
    request = Request(0, fleet.participants, "lenet", 0.0)
    decision = make_scheduler("round_robin", {}, world, np.random.default_rng(0)).place(
        request, ClusterView.idle(world)
    )
    assert isinstance(decision, Placement)
    cnn = world.cnns["lenet"]
    relays = relayed_maps(cnn, decision.assignments, world.links, fleet.participants, fleet.size)
    # Brute force: every transfer's route, every intermediate participant, the maps it carries.
    prev = None
    for layer, cur, got in zip(cnn.layers, decision.assignments, relays, strict=True):
        expected: dict[int, set[int]] = {}
        if prev is not None:
            for p in range(layer.segments):
                senders = {int(prev[p])} if layer.feed.value == "maps" else set(prev.tolist())
                for i in senders:
                    j = int(cur[p])
                    path = world.links.route(i, j) or ()
                    for r in path[1:-1]:
                        if r < fleet.participants:
                            expected.setdefault(r, set()).add(p)
        if layer.feed.value != "gather":
            assert got == {r: len(ps) for r, ps in expected.items()}, layer.name
        prev = cur
    assert any(relays)  # the chain forces relaying


def test_relays_raise_exposure_unless_links_are_encrypted(tmp_path: Path) -> None:
    def run(encrypted: bool) -> list[float]:
        sink = MemorySink()
        Simulation(chain_world(encrypted), sink).run()
        return [r.exposure_ssim for r in sink.records if not r.dropped]

    plain, encrypted = run(False), run(True)
    assert len(plain) == len(encrypted) > 0
    assert all(a >= b for a, b in zip(plain, encrypted, strict=True))
    assert sum(plain) > sum(encrypted)


def test_placements_file_lists_segments_and_relays(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    data = scenario_dict(
        participants={"total": 4},
        # No caps, so maps may cross the chain's participants (a capped layer may not: see the guard tests).
        privacy={"max_ssim": 0.8, "mechanism": "none"},
        network={"topology": "edges", "edges": CHAIN},
        workload={"requests": 6, "rate_per_s": 1.0},
    )
    path = write_scenario(tmp_path / "s.yaml", data)
    out = tmp_path / "placements.jsonl"
    assert main(["run", str(path), "--no-write", "--placements", str(out)]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines and {"request_id", "source", "cnn", "layers"} <= set(lines[0])
    world = make_world(**{k: data[k] for k in ("participants", "privacy", "network", "workload")})
    for line in lines:
        cnn = world.cnns[line["cnn"]]
        assert [layer["name"] for layer in line["layers"]] == [layer.name for layer in cnn.layers]
        for layer, entry in zip(cnn.layers, line["layers"], strict=True):
            assert sum(entry["segments"].values()) == layer.segments
    assert any(entry["relays"] for line in lines for entry in line["layers"])
    assert not list(tmp_path.glob(".placements*"))  # no staged leftovers
    # A bad destination is refused before the run, with one line.
    assert main(["run", str(path), "--no-write", "--placements", str(tmp_path / "no" / "x.jsonl")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_received_maps_count_segments_and_whole_gathers() -> None:
    world = make_world(sources=[{"cnn": "lenet"}], participants={"total": 6}, privacy={"max_ssim": 0.8})
    cnn = world.cnns["lenet"]
    decision = make_scheduler("no_privacy", {}, world, np.random.default_rng(0)).place(
        Request(0, world.fleet.participants, "lenet", 0.0), ClusterView.idle(world)
    )
    assert isinstance(decision, Placement)
    counts = received_maps(cnn, decision.assignments, world.fleet.participants)
    for layer, array, held in zip(cnn.layers, decision.assignments, counts, strict=True):
        on = array[array < world.fleet.participants]
        factor = layer.prev_out_maps if layer.feed.value == "gather" and layer.prev_kind.value != "fc" else 1
        assert int(held.sum()) == len(on) * factor


# -- relays in the caps (distsim.placement.Reach.for_rule) -------------------------------------------------


def guarded_world(encrypted: bool):  # type: ignore[no-untyped-def]
    """LeNet at tau 0.8 over a geometric layout where many routes cross participants."""
    return make_world(
        sources=[{"cnn": "lenet"}],
        participants={"total": 6},
        privacy={"max_ssim": 0.8},
        network={"topology": "geometric", "range_m": 45.0, "seed": 3, "encrypted_links": encrypted},
        workload={"requests": 12, "rate_per_s": 2.0},
    )


def test_capped_layers_never_cross_an_untrusted_relay() -> None:
    from distsim.placement import LayerRule

    world = guarded_world(False)
    cnn, fleet = world.cnns["lenet"], world.fleet
    limits = world.limits["lenet"]
    request = Request(0, fleet.participants, "lenet", 0.0)
    for name in ("distprivacy", "distprivacy_reference", "round_robin", "minmax"):
        decision = make_scheduler(name, {}, world, np.random.default_rng(0)).place(request, ClusterView.idle(world))
        if not isinstance(decision, Placement):
            # Greedy baselines may paint themselves into a corner; DistPrivacy places this layout.
            assert name not in ("distprivacy", "distprivacy_reference"), decision
            continue
        relays = relayed_maps(cnn, decision.assignments, world.links, fleet.participants, fleet.size)
        for layer, forwarded in zip(cnn.layers, relays, strict=True):
            if LayerRule.of(layer, limits).cap is not None:
                assert forwarded == {}, (name, layer.name)
    # With encrypted links the same layout relays capped maps (so the guard above did something).
    open_world = guarded_world(True)
    decision = make_scheduler("distprivacy", {}, open_world, np.random.default_rng(0)).place(
        request, ClusterView.idle(open_world)
    )
    assert isinstance(decision, Placement)
    relays = relayed_maps(cnn, decision.assignments, open_world.links, fleet.participants, fleet.size)
    assert any(relays[layer.index - 1] for layer in cnn.layers if LayerRule.of(layer, limits).cap is not None)


def test_validator_counts_relayed_maps_in_the_caps() -> None:
    from distsim.scheduling.validate import validate_placement

    # The chain p0 - p1 - p2 - p3 - s0: maps from s0 to p0 cross p3, p2 and p1. LeNet at 0.8 caps relu1,
    # pool1 and conv2 (8 segments each) at 4 per device: p1 computing 4 and relaying p0's 4 sees 8.
    def chain(encrypted: bool):  # type: ignore[no-untyped-def]
        return make_world(
            sources=[{"cnn": "lenet"}],
            participants={"total": 4},
            privacy={"max_ssim": 0.8},
            network={"topology": "edges", "edges": CHAIN[:4], "encrypted_links": encrypted},
        )

    world = chain(False)
    cnn, src = world.cnns["lenet"], world.fleet.participants
    split = np.array([0, 0, 0, 0, 1, 1, 1, 1], dtype=np.int64)
    assignments = []
    for layer in cnn.layers:
        if layer.index in (1, 7, 9):
            assignments.append(np.full(layer.segments, src, dtype=np.int64))
        elif layer.index in (2, 3, 4):
            assignments.append(split.copy())
        else:
            assignments.append(np.array([k % 2 for k in range(layer.segments)], dtype=np.int64))
    request = Request(0, src, "lenet", 0.0)
    placement = ClusterView.idle(world).make_placement(request, assignments)
    problems = validate_placement(placement, request, ClusterView.idle(world))
    assert any("relu1" in p and "p1 holds 4 maps and relays 4, Nf = 4" in p for p in problems), problems
    # With encrypted links relays see nothing: no cap is exceeded.
    clear = validate_placement(placement, request, ClusterView.idle(chain(True)))
    assert not any("Nf" in p for p in clear), clear


def test_no_certified_request_exceeds_tau_including_relays() -> None:
    # The engine asserts it on every served request (own plus relayed maps); the run must serve some.
    sink = MemorySink()
    summary = Simulation(guarded_world(False), sink).run()
    assert summary.served > 0
    assert summary.exposure_max <= 0.8
