"""The contention timing mode against theory: Eq. 5 alone, M/D/1 under load, processor sharing, invariants."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from distsim.cli import main
from distsim.engine.contention import ContentionTiming, _Channel
from distsim.engine.records import MemorySink, RequestRecord
from distsim.engine.simulation import Simulation
from distsim.engine.timing import ServiceTiming
from distsim.errors import InputError
from distsim.run import simulate
from distsim.scenario import scenario_from_dict
from distsim.scheduling.base import ClusterView, Placement, Request
from distsim.scheduling.registry import make_scheduler
from distsim.world import World, build_world
from tests.conftest import ROOT, make_world, scenario_dict, write_scenario


def run(world: World, **kwargs: Any) -> tuple[Simulation, list[RequestRecord]]:
    sink = MemorySink()
    sim = Simulation(world, sink, **kwargs)
    sim.run()
    return sim, sink.records


def with_timing(world_kwargs: dict[str, Any], timing: str, seed: int = 0) -> World:
    kwargs = dict(world_kwargs)
    kwargs["simulation"] = {**kwargs.get("simulation", {}), "timing": timing, "seed": seed}
    return make_world(**kwargs)


# -- a request alone takes exactly its Eq. 5 latency -------------------------------------------
SINGLE_CASES = [
    ("lenet", 0.6),
    ("lenet", 0.8),
    ("cifar_cnn", 0.4),
    ("cifar_cnn", 0.8),
    ("vgg16", 0.8),
    ("vgg19", 0.8),
]


@pytest.mark.parametrize(("cnn", "tau"), SINGLE_CASES)
@pytest.mark.parametrize("seed", [0, 1])
def test_single_request_equals_analytic(cnn: str, tau: float, seed: int) -> None:
    rng = np.random.default_rng(seed * 100 + len(cnn))
    mix = {t: float(w) for t, w in zip(("rpi3", "nexus5", "stm32h7"), rng.uniform(0.1, 1, 3), strict=True)}
    spec = {
        "sources": [{"cnn": cnn}],
        "participants": {
            "total": int(rng.integers(60, 90) if cnn.startswith("vgg") else rng.integers(12, 40)),
            "mix": mix,
        },
        "privacy": {"max_ssim": tau},
        "budgets": {"window_s": 30.0 if cnn.startswith("vgg") else 5.0},
        "workload": {"requests": 1, "rate_per_s": 1.0},
    }
    _, analytic = run(with_timing(spec, "analytic", seed))
    _, contention = run(with_timing(spec, "contention", seed))
    a, c = analytic[0], contention[0]
    assert not a.dropped and not c.dropped, "the single request should be served"
    # Equal up to float rounding of the event clock (sums in another order): 1e-12 relative.
    assert c.latency_s == pytest.approx(a.latency_s, rel=1e-12, abs=1e-15)
    assert c.wait_s == 0.0
    assert c.compute_s + c.transfer_s == pytest.approx(c.latency_s, rel=1e-12)


def test_single_request_over_a_multi_hop_topology_equals_analytic() -> None:
    edges = [["s0", "p0"], ["p0", "p1"], ["p1", "p2"], ["p2", "p3"], ["p3", "p4"], ["p1", "p5"]]
    spec = {
        "sources": [{"cnn": "cifar_cnn"}],
        "participants": {"groups": [{"type": "nexus5", "count": 3}, {"type": "stm32h7", "count": 3}]},
        "privacy": {"max_ssim": 0.8},
        "budgets": {"window_s": 3.0},
        "workload": {"requests": 1, "rate_per_s": 1.0},
        # Encrypted: participants may relay capped maps (in clear a chain like this serves nothing).
        "network": {"topology": "edges", "edges": edges, "encrypted_links": True},
    }
    _, analytic = run(with_timing(spec, "analytic"))
    world = with_timing(spec, "contention")
    _, contention = run(world)
    assert contention[0].latency_s == pytest.approx(analytic[0].latency_s, rel=1e-12)
    # The placement really sends over several hops.
    placement = make_scheduler("distprivacy", {}, world, np.random.default_rng(0)).place(
        Request(0, 6, "cifar_cnn", 0.0), ClusterView.idle(world)
    )
    assert isinstance(placement, Placement)
    from tests.test_topology import placement_pairs

    assert max(len(world.links.hops(i, j)) for i, j in placement_pairs(world, placement)) > 1  # type: ignore[attr-defined]


# -- M/D/1 --------------------------------------------------------------------------------------
def md1_world(tmp_path: Path, seed: int, requests: int, rate: float, cores: int = 1) -> World:
    """One camera whose only layer runs on itself: a single CPU with deterministic service D = 1 s."""
    table = tmp_path / "ssim.csv"
    table.write_text("dataset,cnn,layer,paper_label,maps_per_device,ssim\nnone,md1,conv1,C1,1,0.1\n", encoding="utf-8")
    data = scenario_dict(
        cnns={
            "md1": {
                "input_channels": 1,
                "input_side": 10,
                "layers": [{"name": "conv1", "kind": "conv", "maps": 1, "kernel": 1}],
            }
        },
        sources=[{"cnn": "md1", "device": "rpi3"}],
        participants={"total": 0},
        devices={"rpi3": {"mults_per_s": 100.0, "compute_budget_mults": 10**12, "cores": cores}},
        workload={"requests": requests, "rate_per_s": rate},
        privacy={"max_ssim": 0.5, "ssim_table": str(table)},
        simulation={"timing": "contention", "seed": seed},
    )
    return build_world(scenario_from_dict(data))


def test_md1_mean_wait_matches_theory(tmp_path: Path) -> None:
    service, rate, warmup = 1.0, 0.5, 100
    rho = rate * service
    theory = rho / (2 * (1 / service) * (1 - rho))  # W_q = rho / (2 mu (1 - rho)) = 0.5 s
    means = []
    replications = 24
    t_995_23 = 2.807  # Student t quantile 0.995 with 23 degrees of freedom: a 99% two-sided interval
    for seed in range(replications):
        _, records = run(md1_world(tmp_path, seed, 1200, rate))
        waits = np.array([r.wait_s for r in records[warmup:]])
        latencies = np.array([r.latency_s for r in records[warmup:]])
        np.testing.assert_allclose(latencies, waits + service, rtol=1e-9)
        assert all(r.queue_s == 0.0 for r in records)
        means.append(waits.mean())
    m = np.mean(means)
    half = t_995_23 * np.std(means, ddof=1) / math.sqrt(replications)
    assert m - half <= theory <= m + half, f"mean wait {m:.4f} +- {half:.4f}, theory {theory}"
    assert half < 0.1 * theory, "the interval should be tight enough to mean something"


def test_two_cores_serve_two_batches_at_once(tmp_path: Path) -> None:
    sim, records = run(md1_world(tmp_path, 3, 300, 1.5, cores=2), trace=True)
    assert sim.timeline is not None
    busy = [s.busy for s in sim.timeline.samples if s.lane == "cpu"]
    assert max(busy) == 2
    slots = {s.slot for s in sim.timeline.spans if s.lane == "cpu"}
    assert slots == {0, 1}
    # rho = 0.75 per core: stable, mean wait far below the M/D/1 value at rho = 1.5 (unstable).
    assert np.mean([r.wait_s for r in records]) < 2.0


# -- shared channel: processor sharing -----------------------------------------------------------
def channel_durations(starts: list[tuple[float, float]], rate: float, efficiency: float = 1.0) -> list[float]:
    env = simpy.Environment()
    channel = _Channel(env, efficiency)
    out = [math.nan] * len(starts)

    def flow(k: int, at: float, bits: float) -> Any:
        yield env.timeout(at)
        begun = env.now
        yield channel.transmit(bits, rate)
        out[k] = env.now - begun

    for k, (at, bits) in enumerate(starts):
        env.process(flow(k, at, bits))
    env.run()
    return out


def test_two_equal_simultaneous_transfers_take_twice_as_long() -> None:
    bits, rate = 8e6, 7.2e6
    alone = channel_durations([(0.0, bits)], rate)[0]
    assert alone == pytest.approx(bits / rate, rel=1e-12)
    both = channel_durations([(0.0, bits), (0.0, bits)], rate)
    assert both == pytest.approx([2 * alone, 2 * alone], rel=1e-12)
    three = channel_durations([(0.0, bits)] * 3, rate)
    assert three == pytest.approx([3 * alone] * 3, rel=1e-12)


def test_processor_sharing_with_staggered_starts_and_mac_efficiency() -> None:
    bits, rate = 1e6, 1e6  # 1 s alone
    # A alone for 0.5 s (half done), then shares: its other half takes 1 s; C then finishes alone.
    assert channel_durations([(0.0, bits), (0.5, bits)], rate) == pytest.approx([1.5, 1.5], rel=1e-12)
    assert channel_durations([(0.0, bits)], rate, efficiency=0.5) == pytest.approx([2.0], rel=1e-12)
    # A short flow joining a long one: the long one resumes full speed after it.
    assert channel_durations([(0.0, bits), (0.0, bits / 4)], rate) == pytest.approx([1.25, 0.5], rel=1e-12)


def test_shared_channel_stretches_a_lone_request_by_one_over_efficiency() -> None:
    # One participant: every layer has at most one transfer, so nothing shares the channel but
    # efficiency still slows each transfer: latency = sum over layers of transfer / eff + compute.
    base = {
        "sources": [{"cnn": "lenet"}],
        "participants": {"groups": [{"type": "nexus5", "count": 1}]},
        "privacy": {"max_ssim": 1.0},  # no split limit: one participant holds every map
        "workload": {"requests": 1, "rate_per_s": 1.0},
        "simulation": {"timing": "contention"},
    }
    full = make_world(**base, network={"shared_channel": True, "mac_efficiency": 1.0})
    half = make_world(**base, network={"shared_channel": True, "mac_efficiency": 0.5})
    request = Request(0, 1, "lenet", 0.0)
    placement = make_scheduler("distprivacy", {}, full, np.random.default_rng(0)).place(request, ClusterView.idle(full))
    assert isinstance(placement, Placement)
    expected_half = sum(2 * layer.transfer_s + layer.compute_s for layer in placement.cost.layers)
    assert any(layer.transfer_s > 0 for layer in placement.cost.layers)
    assert run(full)[1][0].latency_s == pytest.approx(placement.cost.latency_s, rel=1e-12)
    assert run(half)[1][0].latency_s == pytest.approx(expected_half, rel=1e-9)


def test_shared_channel_only_slows_requests_down() -> None:
    spec = {
        "participants": {"total": 9},
        "workload": {"requests": 1, "rate_per_s": 1.0},
        "sources": [{"cnn": "cifar_cnn"}],
        "privacy": {"max_ssim": 0.8},
    }
    _, alone = run(with_timing(spec, "contention"))
    _, shared = run(with_timing({**spec, "network": {"shared_channel": True}}, "contention"))
    assert shared[0].latency_s > alone[0].latency_s  # the request's own parallel transfers now share airtime


# -- invariants under load -----------------------------------------------------------------------
LOADED = {
    "mesh": {},
    "shared": {"network": {"shared_channel": True, "mac_efficiency": 0.7}},
    "geometric": {"network": {"topology": "geometric", "range_m": 45.0, "seed": 3}},
    "cores_on_release": {
        "devices": {"nexus5": {"cores": 2}},
        "simulation": {"retry": {"mode": "on_release", "max_attempts": 5}},
    },
    "tight": {"budgets": {"window_s": 0.05}, "simulation": {"retry": {"interval_s": 0.2, "max_attempts": 4}}},
}


@pytest.mark.parametrize("case", sorted(LOADED))
def test_invariants_under_load(case: str) -> None:
    spec = {"workload": {"requests": 40, "rate_per_s": 12.0}, **LOADED[case]}
    spec["simulation"] = {**spec.get("simulation", {}), "timing": "contention", "seed": 5}
    world = make_world(**spec)
    sim, records = run(world)  # run() itself asserts every budget is back to full
    summary = sim._summary()
    assert summary.served + summary.dropped == summary.requests == 40
    assert len(records) == 40
    for r in records:
        if r.dropped:
            continue
        assert r.wait_s >= 0 and r.compute_s >= 0 and r.transfer_s >= 0
        service = r.finish_at - r.start_at
        assert r.compute_s + r.transfer_s + r.wait_s == pytest.approx(service, rel=1e-9, abs=1e-12)
    _, again = run(make_world(**spec))
    assert again == records, "same seed, same records"


def test_load_makes_requests_wait() -> None:
    spec = {
        "workload": {"requests": 60, "rate_per_s": 40.0},
        "budgets": {"window_s": 20.0},
        "sources": [{"cnn": "cifar_cnn"}],
        "participants": {"total": 6},
    }
    _, records = run(with_timing(spec, "contention", 2))
    assert sum(r.wait_s for r in records if not r.dropped) > 0


# -- observability -------------------------------------------------------------------------------
def test_timeline_spans_samples_and_chrome_trace(tmp_path: Path) -> None:
    spec = {
        "workload": {"requests": 30, "rate_per_s": 20.0},
        "devices": {"rpi3": {"cores": 2}},
        "simulation": {"timing": "contention", "seed": 1},
    }
    sim, records = run(make_world(**spec), trace=True)
    timeline = sim.timeline
    assert timeline is not None and timeline.spans
    lanes: dict[tuple[int, str, int], list[tuple[float, float]]] = {}
    for s in timeline.spans:
        assert s.end_at >= s.start_at
        lanes.setdefault((s.device, s.lane, s.slot), []).append((s.start_at, s.end_at))
    for intervals in lanes.values():  # one batch per core, one request per radio at a time
        intervals.sort()
        for (_, end), (start, _) in itertools.pairwise(intervals):
            assert start >= end - 1e-12
    assert all(q.queued >= 0 and q.busy >= 0 for q in timeline.samples)
    cpu_span_s: dict[str, float] = {}
    for s in timeline.spans:
        if s.lane == "cpu":
            name = timeline.names[s.device]
            cpu_span_s[name] = cpu_span_s.get(name, 0.0) + s.end_at - s.start_at
    for u in timeline.utilisation():
        if u.lane == "cpu":
            assert u.busy_s == pytest.approx(cpu_span_s.get(u.device, 0.0), rel=1e-9, abs=1e-12)
            assert 0.0 <= u.utilisation <= 1.0
    # CPU busy time equals what the cost model charges (compute mults / speed), per device.
    busy = {d.device: d.busy_s for d in sim.device_records()}
    for name, seconds in cpu_span_s.items():
        assert seconds == pytest.approx(busy[name], rel=1e-9)
    trace = json.loads(timeline.write_chrome_trace(tmp_path / "t.json").read_text(encoding="utf-8"))
    complete = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert len(complete) == len(timeline.spans)
    assert all(e["dur"] >= 0 and 0 <= e["pid"] < len(timeline.names) for e in complete)
    assert {e["cat"] for e in complete} == {"compute", "transfer"}
    header = timeline.series_csv().splitlines()[0]
    assert header == "at,device,lane,busy,queued"
    assert timeline.utilisation_csv().startswith("device,lane,capacity,busy_s,utilisation")
    from distsim.plots.gantt import save_gantt

    png = save_gantt(timeline, tmp_path / "g.png", 0.0, records[-1].finish_at)
    assert png.stat().st_size > 1000


def test_trace_needs_contention_timing() -> None:
    with pytest.raises(InputError, match="contention"):
        Simulation(make_world(), MemorySink(), trace=True)
    assert simulate(make_world(), trace=False).timeline is None


def test_cli_trace_series_gantt(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = scenario_dict(simulation={"timing": "contention", "seed": 2}, workload={"requests": 10, "rate_per_s": 5.0})
    path = write_scenario(tmp_path / "s.yaml", data)
    files = {k: tmp_path / f"out.{k}" for k in ("json", "csv", "png")}
    status = main(
        [
            "run",
            str(path),
            "--no-write",
            "--trace",
            str(files["json"]),
            "--series",
            str(files["csv"]),
            "--gantt",
            str(files["png"]),
            "--window",
            "0",
            "3",
        ]
    )
    assert status == 0
    assert all(f.exists() for f in files.values())
    assert "traceEvents" in json.loads(files["json"].read_text(encoding="utf-8"))
    analytic = write_scenario(tmp_path / "a.yaml", scenario_dict())
    assert main(["run", str(analytic), "--no-write", "--trace", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err
    assert "a.yaml" in err and "simulation.timing" in err and "contention" in err
    # --timing overrides the scenario's mode.
    override = ["run", str(analytic), "--no-write", "--timing", "contention", "--trace", str(tmp_path / "y.json")]
    assert main(override) == 0
    assert (tmp_path / "y.json").exists()


def test_contention_is_registered_without_importing_it() -> None:
    code = (
        "import sys; from distsim.engine.timing import timing_names; "
        "print(timing_names(), 'distsim.engine.contention' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "['analytic', 'contention'] False"
    assert isinstance(Simulation(with_timing({}, "contention"), MemorySink()).timing, ContentionTiming)


def tie_free_fleet(rng: np.random.Generator | None = None, participants: int = 12) -> dict[str, Any]:
    """Twelve participants and three cameras, each of its own type: no two devices compute or send at one speed.

    Requests that claim one resource at the same float instant are served in the order each engine reaches
    them, which differs between the two engines; on fleets of equal devices such ties are frequent (a request
    releasing several radios at once hands them to equal transfers that end together). Distinct speeds and
    rates make exact ties vanish, so the engines must then agree to the last bit.
    """
    count = participants + 3
    rate = 1 + 0.0731 * np.arange(count) if rng is None else rng.uniform(0.3, 3.0, count)
    speed = 1 + 0.0917 * np.arange(count) if rng is None else rng.uniform(0.1, 4.0, count)
    radios = {f"r{k}": {"rate_bps": 7.2e6 * float(rate[k])} for k in range(count)}
    types = {
        f"t{k}": {"mults_per_s": 3.5e8 * float(speed[k]), "memory_bytes": 2**30, "radio": f"r{k}"} for k in range(count)
    }
    return {
        "device_types": types,
        "radios": radios,
        "sources": [
            {"cnn": "lenet", "device": f"t{participants}"},
            {"cnn": "cifar_cnn", "device": f"t{participants + 1}"},
            {"cnn": "cifar_cnn", "device": f"t{participants + 2}"},
        ],
        "participants": {"groups": [{"type": f"t{k}", "count": 1} for k in range(participants)]},
        "workload": {"requests": 40, "rate_per_s": 20.0},
    }


TWIN_CASES: dict[str, dict[str, Any]] = {
    "mesh": {},
    "mesh_cores_on_release": {
        "devices": {"t3": {"cores": 2}, "t5": {"cores": 3}},
        "simulation": {"retry": {"mode": "on_release", "max_attempts": 5}},
    },
    "shared": {"network": {"shared_channel": True, "mac_efficiency": 0.7}},
    "geometric": {"network": {"topology": "geometric", "range_m": 45.0, "seed": 3}},
    "geometric_shared": {"network": {"topology": "geometric", "range_m": 45.0, "seed": 3, "shared_channel": True}},
    "mobility": {
        "network": {
            "topology": "geometric",
            "range_m": 45.0,
            "seed": 3,
            "mobility": {"speed_mps": [2.0, 6.0], "pause_s": 0.2, "interval_s": 0.1},
        }
    },
    "churn": {
        "churn": {
            "schedule": [
                {"device": "p1", "down_at": 0.4, "up_at": 0.9},
                {"device": "p4", "down_at": 0.7, "up_at": 1.3},
                {"device": "p7", "down_at": 1.1},
            ],
            "policy": "restart",
        }
    },
}


def _records(world: World, reference: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[str, list[str], int]:
    """Summary, records (energy to 12 significant digits) and SimPy events of one run on either engine."""
    from distsim.engine import simulation
    from distsim.engine.contention_reference import ReferenceContentionTiming

    with monkeypatch.context() as patch:
        if reference:
            original = simulation.make_timing

            def make(name: str, env: simpy.Environment, w: World, rng: Any) -> Any:
                return ReferenceContentionTiming(env, w, rng) if name == "contention" else original(name, env, w, rng)

            patch.setattr(simulation, "make_timing", make)
        sink = MemorySink()
        sim = Simulation(world, sink)
        summary = sim.run()
    events = next(sim.env._eid)

    # Energy sums the same joules in another order on the two engines (closed-form jobs are charged
    # when their request ends): equal to 12 significant digits, not to the last bit.
    def digits(value: float) -> float:
        return float(f"{value:.12g}")

    rounded = [
        dataclasses.replace(r, energy_compute_j=digits(r.energy_compute_j), energy_radio_j=digits(r.energy_radio_j))
        for r in sink.records
    ]
    summary = dataclasses.replace(
        summary,
        energy_j=digits(summary.energy_j),
        energy_requests_j=digits(summary.energy_requests_j),
        energy_per_served_j=digits(summary.energy_per_served_j),
    )
    return repr(summary), [repr(r) for r in rounded], events


@pytest.mark.parametrize("case", sorted(TWIN_CASES))
def test_calendar_engine_gives_the_per_transfer_records(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The calendar engine (no process per transfer or batch) against its readable twin, one SimPy process per
    transfer and per batch: every record and summary digit the same on contended runs (most requests wait),
    over a full mesh, a topology with relays, a shared channel, several cores with on-release retries, moving
    devices (requests pinned to the links they were placed on) and scheduled outages with restarts; and far
    fewer SimPy events."""
    spec: dict[str, Any] = {**tie_free_fleet(), **TWIN_CASES[case]}
    spec["simulation"] = {**spec.get("simulation", {}), "seed": 4, "timing": "contention"}
    fast_summary, fast, fast_events = _records(make_world(**spec), False, monkeypatch)
    slow_summary, slow, slow_events = _records(make_world(**spec), True, monkeypatch)
    assert fast_summary == slow_summary
    assert fast == slow
    assert sum("wait_s=0.0," not in r for r in slow) > 20, "most requests should queue"
    if case == "churn":
        assert any("restarts=0," not in r for r in slow), "some requests should restart"
    assert 5 * fast_events < slow_events


@settings(max_examples=10, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    participants=st.integers(6, 14),
    rate=st.floats(4.0, 40.0),
    network=st.sampled_from(["mesh", "shared", "geometric", "geometric_shared"]),
    cores=st.integers(1, 3),
    retry=st.sampled_from(["interval", "on_release"]),
)
def test_calendar_engine_equals_its_twin_on_random_fleets(
    seed: int, participants: int, rate: float, network: str, cores: int, retry: str
) -> None:
    """Property: on random fleets without equal speeds, any load, mode, core count and retry mode, the two
    engines give the same records (the fixed cases above, drawn at random)."""
    spec: dict[str, Any] = {
        **tie_free_fleet(np.random.default_rng(seed), participants),
        "workload": {"requests": 25, "rate_per_s": rate},
        "devices": {"t0": {"cores": cores}, "t2": {"cores": cores}},
        "simulation": {"seed": seed, "timing": "contention", "retry": {"mode": retry, "max_attempts": 4}},
    }
    if network != "mesh":
        spec["network"] = {"shared_channel": network.endswith("shared"), "mac_efficiency": 0.8}
    if network.startswith("geometric"):
        spec["network"].update({"topology": "geometric", "range_m": 50.0, "seed": seed % 7})
    with pytest.MonkeyPatch.context() as patch:
        fast = _records(make_world(**spec), False, patch)
        slow = _records(make_world(**spec), True, patch)
    assert fast[:2] == slow[:2]


def test_a_lone_vgg_request_takes_few_events_per_layer() -> None:
    """Events happen at state changes only: a lone VGG-16 request over 100 participants (its conv layers fan
    out to dozens of devices) costs a few events per layer, not one per transfer or per receiver."""
    spec = {
        "sources": [{"cnn": "vgg16"}],
        "participants": {"total": 100, "mix": {"rpi3": 1, "nexus5": 1, "stm32h7": 1}},
        "privacy": {"max_ssim": 0.6},
        "budgets": {"window_s": 30.0},
        "workload": {"requests": 1, "rate_per_s": 1.0},
        "simulation": {"timing": "contention"},
    }
    world = make_world(**spec)
    sim, records = run(world)
    assert not records[0].dropped
    placement = make_scheduler("distprivacy", {}, world, np.random.default_rng(0)).place(
        Request(0, world.fleet.participants, "vgg16", 0.0), ClusterView.idle(world)
    )
    assert isinstance(placement, Placement)
    from distsim.model.cost import layer_transfers

    transfers = receivers = 0
    prev = None
    for layer, cur in zip(world.cnns["vgg16"].layers, placement.assignments, strict=True):
        flows = layer_transfers(layer, prev, cur, world.fleet.size)
        transfers += len(flows.senders)
        receivers += len(set(flows.receivers.tolist()))
        prev = cur
    events = next(sim.env._eid)
    assert transfers > 1000 and receivers > 100
    # At most one event per receiving device and layer (its last arrival), plus a handful per layer and run.
    assert events <= receivers + 2 * len(placement.assignments) + 20, (events, receivers, transfers)


@pytest.mark.parametrize("reference", [False, True])
def test_a_pinned_request_runs_on_the_links_it_was_placed_on(reference: bool) -> None:
    """The in-flight rule: a request pinned to the links it was placed on (``pin_links``) takes their routes
    and rates, whatever the world's links are; alone, it takes exactly its Eq. 5 latency on those links."""
    from distsim.engine.contention_reference import ReferenceContentionTiming

    base = {
        "sources": [{"cnn": "cifar_cnn"}],
        "participants": {"groups": [{"type": "nexus5", "count": 3}, {"type": "stm32h7", "count": 3}]},
        "privacy": {"max_ssim": 0.8},
        "budgets": {"window_s": 3.0},
        "workload": {"requests": 1, "rate_per_s": 1.0},
        "simulation": {"timing": "contention"},
    }
    chain = [["s0", "p0"], ["p0", "p1"], ["p1", "p2"], ["p2", "p3"], ["p3", "p4"], ["p1", "p5"]]
    names = ["s0", *(f"p{k}" for k in range(6))]
    clique = [[a, b] for a, b in itertools.combinations(names, 2)]
    # Encrypted: capped maps may cross the chain's participant relays (in clear nothing can be placed on it).
    placed_on = make_world(**base, network={"topology": "edges", "edges": chain, "encrypted_links": True})
    running = make_world(**base, network={"topology": "edges", "edges": clique, "encrypted_links": True})
    request = Request(0, 6, "cifar_cnn", 0.0)
    placement = make_scheduler("distprivacy", {}, placed_on, np.random.default_rng(0)).place(
        request, ClusterView.idle(placed_on)
    )
    assert isinstance(placement, Placement)

    def latency(pin: bool) -> float:
        env = simpy.Environment()
        engine = (ReferenceContentionTiming if reference else ContentionTiming)(env, running)
        if pin:
            engine.pin_links(request.id, placed_on.links)
        process = env.process(engine.execute(request, placement))
        env.run()
        timing = process.value
        assert isinstance(timing, ServiceTiming) and timing.wait_s == 0.0
        return env.now

    assert latency(pin=True) == pytest.approx(placement.cost.latency_s, rel=1e-12)
    # Unpinned, the same placement runs on the world's routes (a clique: one hop each), so it is faster.
    assert latency(pin=False) < placement.cost.latency_s
