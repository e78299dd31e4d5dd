"""Mobility (random waypoint), distance-dependent rates and churn over topologies (docs/dynamics.md)."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distsim.engine.records import MemorySink
from distsim.engine.simulation import Simulation
from distsim.model.mobility import RandomWaypoint
from distsim.model.topology import Topology, geometric_topology, hop_rates
from distsim.run import simulate
from distsim.scheduling.base import ClusterView, Constraint, Placement, Rejection, Request
from distsim.world import World
from tests.conftest import make_world
from tests.test_engine import run_checked

GEOMETRIC: dict[str, Any] = {"topology": "geometric", "range_m": 45.0, "area_m": 100.0, "seed": 2}
MOVING: dict[str, Any] = {**GEOMETRIC, "mobility": {"speed_mps": [2.0, 6.0], "pause_s": 1.0, "interval_s": 0.5}}


@settings(max_examples=30)
@given(
    seed=st.integers(0, 2**32 - 1),
    low=st.floats(0.1, 5.0),
    spread=st.floats(0.0, 5.0),
    pause=st.floats(0.0, 3.0),
    times=st.lists(st.floats(0.0, 200.0), min_size=2, max_size=20),
)
def test_waypoints_stay_in_the_area_at_speeds_within_the_range(
    seed: int, low: float, spread: float, pause: float, times: list[float]
) -> None:
    area = 50.0
    rng = np.random.default_rng(seed)
    start = rng.uniform(0, area, size=(4, 2))
    walk = RandomWaypoint(start, area, (low, low + spread), pause, list(np.random.default_rng(seed + 1).spawn(4)))
    before = start.copy()
    last = 0.0
    for at in sorted(times):
        legs_before = list(walk.leg_counts)
        now = walk.positions_at(at)
        assert ((now >= 0) & (now <= area)).all()
        # Straight walks at most max speed: never farther than speed x elapsed time.
        moved = np.hypot(*(now - before).T)
        assert (moved <= (low + spread) * (at - last) + 1e-9).all()
        for leg, count, was in zip(walk.legs, walk.leg_counts, legs_before, strict=True):
            assert low - 1e-12 <= leg.speed_mps <= low + spread + 1e-12
            assert count >= was
            assert leg.leave_at == pytest.approx(leg.arrive_at + pause)
        before, last = now, at


def test_waypoint_walk_reaches_its_waypoint_pauses_and_goes_on() -> None:
    walk = RandomWaypoint(np.array([[0.0, 0.0]]), 10.0, (1.0, 1.0), 2.0, [np.random.default_rng(0)])
    leg = walk.legs[0]
    distance = float(np.hypot(*leg.end))
    assert leg.arrive_at == pytest.approx(distance)  # 1 m/s from the origin
    halfway = walk.positions_at(distance / 2)[0]
    assert np.allclose(halfway, leg.end / 2)
    assert np.allclose(walk.positions_at(distance + 1.0)[0], leg.end)  # pausing
    walk.positions_at(distance + 2.5)
    assert walk.leg_counts == [2] and np.allclose(walk.legs[0].start, leg.end)
    with pytest.raises(ValueError, match="min speed"):
        RandomWaypoint(np.zeros((1, 2)), 10.0, (0.0, 1.0), 0.0, [np.random.default_rng(0)])


def test_rate_table_steps_by_distance_per_direction() -> None:
    world = make_world(participants={"groups": [{"type": "rpi3", "count": 2}, {"type": "stm32h7", "count": 1}]})
    fleet = world.fleet
    positions = np.array([[0.0, 0.0], [10.0, 0.0], [40.0, 0.0], [0.0, 5.0], [0.0, 6.0]])
    tables = {"802.11n": ((15.0, 8e6), (35.0, 4e6))}
    rates = hop_rates(positions, [(0, 1), (1, 2), (0, 2)], fleet.radios, tables)
    assert rates[(0, 1)] == 8.0 / 8e6 and rates[(1, 0)] == 8.0 / 8e6
    assert rates[(1, 2)] == 8.0 / 4e6  # 30 m: second step
    assert math.isinf(rates[(0, 2)])  # 40 m: beyond the table, no hop from the rpi3
    assert (2, 1) not in rates and (2, 0) not in rates  # the stm32h7's radio has no table: catalogue rate
    topology = geometric_topology(fleet, positions, 45.0, tables)
    assert topology.hop_sec_per_byte(1, 2) == 8.0 / 4e6
    assert topology.hop_sec_per_byte(2, 1) == fleet.sec_per_byte[2]
    # p0 -> p2 directly is refused by the table: it goes through p1 at the table's rates.
    assert topology.route(0, 2) == (0, 1, 2)
    assert topology.pair(0, 2) == pytest.approx(8.0 / 8e6 + 8.0 / 4e6)
    # Down devices lose every edge: no route through p1, p0 -> p2 impossible.
    down = np.zeros(fleet.size, dtype=bool)
    down[1] = True
    cut = geometric_topology(fleet, positions, 45.0, tables, down)
    assert not cut.reachable(0, 2) and not cut.reachable(0, 1)
    assert isinstance(cut, Topology) and cut.graph.degree(1) == 0


def _sim(world: World, **kwargs: Any) -> tuple[Simulation, Any]:
    sim = Simulation(world, MemorySink(), **kwargs)
    return sim, sim.run()


def _moving(**extra: Any) -> World:
    return make_world(
        participants={"total": 14},
        network={**MOVING, **extra.pop("network", {})},
        workload={"requests": 40, "rate_per_s": 4.0},
        **extra,
    )


def test_routes_change_when_positions_change() -> None:
    world = _moving()
    assert world.mobility is not None and len(world.mobility.movers) == 14
    sim = Simulation(world, MemorySink())
    assert sim.live is not None
    start = world.links
    sim.run()
    live = sim.live
    assert live.updates >= live.rebuilds >= 10 and live.positions is not None and world.layout is not None
    assert live.positions.min() >= 0 and live.positions.max() <= world.layout.area_m
    moved = np.hypot(*(live.positions - world.layout.positions).T)
    assert (moved[: world.fleet.participants] > 0).all() and (moved[world.fleet.participants :] == 0).all()
    n = world.fleet.size
    before = [start.to_all(i) for i in range(n)]  # type: ignore[attr-defined]
    after = [live.links.to_all(i) for i in range(n)]  # type: ignore[attr-defined]
    assert any(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    # The world the schedulers saw last is the current one; the static world is untouched.
    assert sim.world_now.links is live.links and world.links is start


@pytest.mark.parametrize("timing", ["analytic", "contention"])
def test_invariants_hold_with_mobility_churn_and_batteries(timing: str) -> None:
    world = _moving(
        simulation={"seed": 4, "timing": timing, "retry": {"interval_s": 0.5, "max_attempts": 30}},
        churn={"random": {"rpi3": {"up_mean_s": 4.0, "down_mean_s": 1.0}}, "policy": "restart"},
        energy={"batteries": True},
        devices={"nexus5": {"battery_wh": 0.004}},
        network={"rate_tables": {"802.11n": [{"up_to_m": 20, "rate_bps": 72.2e6}, {"up_to_m": 45, "rate_bps": 20e6}]}},
    )
    summary, sink, checked = run_checked(world)
    assert checked.placements >= summary.served > 0
    assert summary.restarts + summary.battery_deaths > 0
    assert all(r.attempts >= 1 for r in sink.records)


def test_same_seed_byte_identical_outputs_with_mobility(tmp_path: Path) -> None:
    world = _moving(churn={"random": {"nexus5": {"up_mean_s": 3.0, "down_mean_s": 1.0}}, "policy": "fail"})
    simulate(world, out_dir=tmp_path / "a")
    simulate(world, out_dir=tmp_path / "b")
    simulate(world, out_dir=tmp_path / "c", seed=11)
    for name in ("requests.csv", "devices.csv", "summary.json", "fleet.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a" / "requests.csv").read_bytes() != (tmp_path / "c" / "requests.csv").read_bytes()


def test_a_move_that_changes_no_link_changes_nothing() -> None:
    """Crawling at 1 µm/s no pair comes into or out of range: the links object stays, results equal the static run."""
    common: dict[str, Any] = {"participants": {"total": 14}, "workload": {"requests": 40, "rate_per_s": 4.0}}
    # Encrypted links: no relay is refused, so no request is unplaceable on the idle fleet (a static run drops
    # those at once by one probe; with links that may change the engine retries them instead).
    still = {**GEOMETRIC, "encrypted_links": True}
    crawl = make_world(**common, network={**still, "mobility": {"speed_mps": [1e-6, 1e-6], "interval_s": 0.5}})
    sim = Simulation(crawl, MemorySink())
    summary = sim.run()
    assert sim.live is not None and sim.live.updates > 10 and sim.live.rebuilds == 0
    assert sim.live.links is crawl.links
    assert summary == simulate(make_world(**common, network=still)).summary


def test_moving_changes_results_and_static_geometric_runs_are_unchanged() -> None:
    still = make_world(participants={"total": 14}, network=GEOMETRIC, workload={"requests": 40, "rate_per_s": 4.0})
    assert Simulation(still, MemorySink()).live is None  # nothing moves or goes down: links are the world's
    a = simulate(still).summary
    b = simulate(_moving()).summary
    assert (a.latency_mean_s, a.shared_bytes) != (b.latency_mean_s, b.shared_bytes)


def test_a_down_device_neither_receives_nor_relays() -> None:
    """Churn over an ``edges`` topology: no served request used (or relayed through) a device while it was down."""
    # s0 - p0 - p1 - p2 - p3 with a shortcut p0 - p2: every map leaves the camera through p0.
    edges = [["s0", "p0"], ["p0", "p1"], ["p1", "p2"], ["p2", "p3"], ["p0", "p2"]]
    outages = [(2.0, 5.0), (8.0, 9.5)]
    world = make_world(
        sources=[{"cnn": "lenet"}],
        participants={"groups": [{"type": "nexus5", "count": 4}]},
        privacy={"max_ssim": 0.4},  # LeNet then needs every participant
        # Encrypted: capped maps may cross participant relays (in clear this chain can place nothing; the
        # relays are then not listed in the placements file, but the routes through p2 are still used).
        network={"topology": "edges", "edges": edges, "encrypted_links": True},
        workload={"requests": 60, "rate_per_s": 5.0},
        churn={"schedule": [{"device": "p2", "down_at": a, "up_at": b} for a, b in outages], "policy": "restart"},
        simulation={"seed": 2, "retry": {"interval_s": 0.2, "max_attempts": 100}},
    )
    lines = io.StringIO()
    sim = Simulation(world, MemorySink(), placements=lines)
    summary = sim.run()
    assert summary.served == summary.requests == 60
    records = {r.request_id: r for r in sim.sink.records}  # type: ignore[attr-defined]
    used_p2 = 0
    for line in lines.getvalue().splitlines():
        placed = json.loads(line)
        devices = {name for layer in placed["layers"] for name in (*layer["segments"], *layer["relays"])}
        if "p2" not in devices:
            continue
        used_p2 += 1
        record = records[placed["request_id"]]
        for down_at, up_at in outages:
            assert record.finish_at <= down_at or record.start_at >= up_at, (placed["request_id"], down_at)
    assert used_p2 > 0
    # Requests arriving during an outage waited for p2 to come back.
    assert any(
        down_at < r.arrival_at < up_at and r.start_at >= up_at for r in records.values() for down_at, up_at in outages
    )


class _AllOnLast:
    """The first layer on the camera, the rest on the last participant (the devices between them only relay)."""

    name = "all_on_last"
    honours_privacy = False

    def __init__(self, world: World) -> None:
        self.world = world

    def place(self, request: Request, view: ClusterView) -> Placement | Rejection:
        last = view.fleet.participants - 1
        if not np.isfinite(view.links.pair(request.source, last)):
            return Rejection(request.id, 0, "", Constraint.UNREACHABLE, "no route to the last participant")
        first, *rest = self.world.cnns[request.cnn].layers
        assignments = [np.full(first.segments, request.source)] + [np.full(layer.segments, last) for layer in rest]
        return view.make_placement(request, assignments)


def test_a_relay_going_down_fails_the_request_it_carries() -> None:
    """s0 - p0 - p1 - p2 - p3, all work on p3: p0..p2 only relay, and p1 going down mid-service fails it."""
    base: dict[str, Any] = {
        "sources": [{"cnn": "lenet"}],
        "participants": {"groups": [{"type": "stm32h7", "count": 4}]},
        "privacy": {"max_ssim": 1.0},
        "network": {"topology": "edges", "edges": [["s0", "p0"], ["p0", "p1"], ["p1", "p2"], ["p2", "p3"]]},
        "workload": {"requests": 1, "rate_per_s": 1.0},
    }
    world = make_world(**base)
    sim = Simulation(world, MemorySink(), scheduler=_AllOnLast(world))  # type: ignore[arg-type]
    sim.run()
    (alone,) = sim.sink.records  # type: ignore[attr-defined]
    assert alone.finish_at > alone.start_at
    halfway = (alone.start_at + alone.finish_at) / 2
    outage = {"schedule": [{"device": "p1", "down_at": halfway, "up_at": halfway + 1.0}], "policy": "fail"}
    world = make_world(**base, churn=outage)
    sim = Simulation(world, MemorySink(), scheduler=_AllOnLast(world))  # type: ignore[arg-type]
    summary = sim.run()
    (record,) = sim.sink.records  # type: ignore[attr-defined]
    assert summary.failed == 1 and record.failure == "down:p1" and record.finish_at == pytest.approx(halfway)
    assert sim.ledger.is_idle()


def test_mobility_input_errors() -> None:
    from distsim.errors import InputError

    with pytest.raises(InputError, match=r"network\.mobility\.types\.0"):
        make_world(network={**MOVING, "mobility": {"speed_mps": [1, 2], "types": ["rpi9"]}})
    with pytest.raises(InputError, match=r"network\.rate_tables\.wifi7"):
        make_world(network={**GEOMETRIC, "rate_tables": {"wifi7": [{"up_to_m": 1, "rate_bps": 1e6}]}})


def test_the_living_fleet_scenario_passes_the_invariants() -> None:
    """scenarios/fleet/living.yaml: energy, batteries, churn and mobility together (README, docs/dynamics.md)."""
    from distsim.scenario import load_scenario
    from distsim.world import build_world

    world = build_world(load_scenario(Path(__file__).resolve().parent.parent / "scenarios" / "fleet" / "living.yaml"))
    assert world.mobility is not None and world.mobility.movers and world.churn.active and world.energy.batteries
    summary, _, checked = run_checked(world)
    assert summary.battery_deaths > 0 and summary.failed > 0 and summary.energy_j > 0
    assert checked.placements >= summary.served > 0
