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
        privacy={"max_ssim": 0.8},
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
