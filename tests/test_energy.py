"""Energy and batteries against closed forms (docs/energy.md), and churn availability (docs/dynamics.md)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from distsim import catalog
from distsim.engine.energy import J_PER_WH, Meter
from distsim.errors import InputError
from distsim.model.cost import layer_transfers
from distsim.run import simulate
from distsim.scheduling.base import ClusterView, Placement, Request
from distsim.scheduling.registry import make_scheduler
from distsim.world import World
from tests.conftest import make_world
from tests.test_engine import run_checked

ONE = {"workload": {"requests": 1, "rate_per_s": 1.0}}


def _watts(world: World) -> Any:
    """The meter's power arrays by device id (from ``World.power``)."""
    import simpy

    return Meter(simpy.Environment(), world).model


def _placement(world: World, source_name: str, cnn: str) -> Placement:
    source = world.fleet.names.index(source_name)
    decision = make_scheduler("distprivacy", {}, world, np.random.default_rng(0)).place(
        Request(0, source, cnn, 0.0), ClusterView.idle(world)
    )
    assert isinstance(decision, Placement)
    return decision


def _expected_energy(world: World, placement: Placement) -> tuple[float, float]:
    """Power x analytic phase times, written out from Eq. 6 and Eq. 7 (full mesh)."""
    model = _watts(world)
    fleet = world.fleet
    compute = float((model.compute_w * placement.cost.compute_mults / fleet.mults_per_s).sum())
    radio = 0.0
    prev = None
    for layer, cur in zip(world.cnns[placement.cnn].layers, placement.assignments, strict=True):
        flows = layer_transfers(layer, prev, cur, fleet.size)
        prev = cur
        for i, j, nbytes in zip(flows.senders.tolist(), flows.receivers.tolist(), flows.bytes.tolist(), strict=True):
            seconds = 8.0 * nbytes / fleet.rate_bps[i]
            radio += (model.tx_w[i] + model.rx_w[j]) * seconds
    return compute, radio


@pytest.mark.parametrize("timing", ["analytic", "contention"])
def test_single_request_energy_is_power_times_analytic_phase_times(timing: str) -> None:
    world = make_world(**ONE, simulation={"seed": 3, "timing": timing})
    summary, sink, _ = run_checked(world)
    (record,) = sink.records
    compute, radio = _expected_energy(world, _placement(world, record.source, record.cnn))
    assert compute > 0 and radio > 0
    # Alone on the fleet, contention's busy intervals are the analytic phase times.
    assert record.energy_compute_j == pytest.approx(compute, rel=1e-9)
    assert record.energy_radio_j == pytest.approx(radio, rel=1e-9)
    assert summary.energy_per_served_j == pytest.approx(compute + radio, rel=1e-9)
    assert summary.energy_requests_j == pytest.approx(compute + radio, rel=1e-9)


def test_device_energy_is_idle_over_the_run_plus_activity() -> None:
    world = make_world(workload={"requests": 20, "rate_per_s": 5.0})
    result = simulate(world)
    model = _watts(world)
    end = result.summary.makespan_s
    for i, device in enumerate(result.devices):
        assert device.idle_energy_j == pytest.approx(model.idle_w[i] * end, rel=1e-9, abs=1e-12)
        assert device.energy_j == pytest.approx(
            device.idle_energy_j + device.compute_energy_j + device.radio_energy_j, rel=1e-12
        )
        assert math.isnan(device.battery_left_wh) and math.isnan(device.died_at)
    assert result.records is not None
    activity = sum(d.compute_energy_j + d.radio_energy_j for d in result.devices)
    assert activity == pytest.approx(sum(r.energy_compute_j + r.energy_radio_j for r in result.records), rel=1e-9)
    assert result.summary.energy_j == pytest.approx(sum(d.energy_j for d in result.devices), rel=1e-12)


def test_shared_channel_stretches_radio_energy() -> None:
    """Contention charges actual busy intervals: a shared channel keeps radios on longer than Eq. 5 says."""
    common: dict[str, Any] = {"workload": {"requests": 12, "rate_per_s": 20.0}}
    alone = simulate(make_world(**common, simulation={"seed": 3, "timing": "contention"}))
    shared = simulate(
        make_world(**common, simulation={"seed": 3, "timing": "contention"}, network={"shared_channel": True})
    )
    assert alone.records is not None and shared.records is not None
    radio_alone = sum(r.energy_radio_j for r in alone.records)
    radio_shared = sum(r.energy_radio_j for r in shared.records)
    assert radio_shared > radio_alone
    # CPU batches run at full speed either way: compute energy is compute_w x busy time, device by device.
    model = _watts(make_world(**common))
    for result in (alone, shared):
        for i, device in enumerate(result.devices):
            assert device.compute_energy_j == pytest.approx(model.compute_w[i] * device.busy_s, rel=1e-9, abs=1e-12)


def test_power_overrides_and_catalogue_sources() -> None:
    specs = catalog.power_models()
    assert set(specs) == set(catalog.device_models())
    for spec in specs.values():
        assert set(spec.sources) >= {"idle_w", "compute_w", "tx_w", "rx_w"}
        assert all(text for text in spec.sources.values())
    world = make_world(devices={"rpi3": {"power": {"idle_w": 0.5, "tx_w": 2.0}}})
    model = _watts(world)
    rpi = world.fleet.types.index("rpi3")
    assert model.idle_w[rpi] == 0.5 and model.tx_w[rpi] == 2.0
    assert model.compute_w[rpi] == specs["rpi3"].compute_w
    assert np.isinf(model.battery_j).all()  # batteries off by default
    # One power record per device: the override is marked as such, the rest keep their sources.
    assert world.power[rpi].sources["idle_w"] == "scenario override"
    assert world.power[rpi].sources["compute_w"] == specs["rpi3"].sources["compute_w"]


def _idle_only(capacity_wh: float, **extra: Any) -> World:
    """rpi3 participants drawing exactly 1 W, nothing above idle."""
    return make_world(
        participants={"groups": [{"type": "rpi3", "count": 3}, {"type": "nexus5", "count": 4}]},
        energy=extra.pop("energy", {"batteries": True}),
        devices={
            "rpi3": {"battery_wh": capacity_wh, "power": {"idle_w": 1.0, "compute_w": 0, "tx_w": 0, "rx_w": 0}},
            "nexus5": {"battery_wh": 1000.0},
        },
        **extra,
    )


def test_battery_death_at_capacity_over_constant_power() -> None:
    world = _idle_only(0.001, workload={"requests": 30, "rate_per_s": 3.0}, sources=[{"cnn": "lenet"}])
    summary, _, _ = run_checked(world)
    result = simulate(world)
    for device in result.devices:
        if device.type == "rpi3" and device.role == "participant":
            # 1 W drains 0.001 Wh = 3.6 J in exactly 3.6 s.
            assert device.died_at == pytest.approx(3.6, abs=1e-9)
            assert device.energy_j == pytest.approx(3.6, abs=1e-9)
            assert device.battery_left_wh == pytest.approx(0.0, abs=1e-12)
            assert device.up_s == pytest.approx(3.6, abs=1e-9)
    assert summary.battery_deaths == 3 and summary.first_death_at == pytest.approx(3.6, abs=1e-9)
    # 7 battery-powered participants, lifetime fraction 0.5: ends at the 4th death, never reached here.
    assert math.isnan(summary.lifetime_at)


def test_battery_death_during_a_request_at_the_integral_crossing() -> None:
    """Idle P0 until s, then P0 + E/T during the service [s, s+T]: dies where the integral meets C."""
    base: dict[str, Any] = {"workload": {"requests": 1, "rate_per_s": 1.0}, "sources": [{"cnn": "cifar_cnn"}]}
    free = simulate(make_world(**base))
    assert free.records is not None
    (record,) = free.records
    start, service = record.start_at, record.finish_at - record.start_at
    busiest = max((d for d in free.devices if d.role == "participant"), key=lambda d: d.compute_energy_j)
    kind = busiest.type
    model = _watts(make_world(**base))
    idle = float(model.idle_w[free.devices.index(busiest)])
    extra = (busiest.compute_energy_j + busiest.radio_energy_j) / service
    # Capacity reached halfway through the service.
    crossing = start + service / 2
    capacity_j = idle * crossing + extra * (crossing - start)
    world = make_world(
        **base,
        energy={"batteries": True},
        devices={kind: {"battery_wh": capacity_j / J_PER_WH}},
        churn={"policy": "fail"},
    )
    result = simulate(world)
    died = result.devices[free.devices.index(busiest)]
    assert died.died_at == pytest.approx(crossing, rel=1e-9)
    assert died.energy_j == pytest.approx(capacity_j, rel=1e-9)
    assert result.summary.failed == 1 and result.records is not None
    assert result.records[0].failure == f"battery:{busiest.device}"


def test_exponential_churn_availability_within_its_confidence_interval() -> None:
    up, down = 4.0, 2.0
    world = make_world(
        participants={"groups": [{"type": "rpi3", "count": 60}]},
        sources=[{"cnn": "lenet"}],
        churn={"random": {"rpi3": {"up_mean_s": up, "down_mean_s": down}}},
        workload={"requests": 300, "rate_per_s": 1.0},
        simulation={"seed": 11},
    )
    summary, _, _ = run_checked(world)
    result = simulate(world)
    end = result.summary.makespan_s
    fractions = np.array([d.up_s / end for d in result.devices if d.role == "participant"])
    # Devices are independent (one child stream each) and start stationary: each fraction has mean p.
    p = up / (up + down)
    half_width = 4.0 * fractions.std(ddof=1) / math.sqrt(len(fractions))
    assert abs(fractions.mean() - p) < half_width
    assert summary.availability_mean == pytest.approx(fractions.mean(), rel=1e-9)


def test_restart_policy_serves_everything_and_budgets_end_where_they_began() -> None:
    world = make_world(
        churn={
            "random": {"rpi3": {"up_mean_s": 1.5, "down_mean_s": 0.5}, "nexus5": {"up_mean_s": 2, "down_mean_s": 1}}
        },
        workload={"requests": 60, "rate_per_s": 6.0},
        simulation={"seed": 2, "retry": {"max_attempts": 50}},
    )
    summary, sink, _ = run_checked(world)
    assert summary.restarts > 0 and summary.failed == 0
    assert summary.served + summary.dropped == summary.requests
    restarted = [r for r in sink.records if r.restarts]
    assert restarted and all(r.latency_s > r.finish_at - r.start_at for r in restarted if not r.dropped)


def test_fail_policy_counts_failures_with_reasons() -> None:
    outages = [{"device": f"p{i}", "down_at": 1.0 + 0.25 * i, "up_at": 1.2 + 0.25 * i} for i in range(12)]
    world = make_world(
        churn={"schedule": outages, "policy": "fail"},
        sources=[{"cnn": "cifar_cnn"}],
        workload={"requests": 60, "rate_per_s": 20.0},
    )
    summary, sink, _ = run_checked(world)
    assert summary.failed > 0
    downs = {o["down_at"]: o["device"] for o in outages}
    for record in sink.records:
        if record.failed:
            # It fails at the instant one of its devices leaves, and says which.
            (instant,) = [t for t in downs if abs(t - record.finish_at) < 1e-12]
            assert record.failure == f"down:{downs[instant]}"


def test_churn_input_errors() -> None:
    with pytest.raises(InputError, match=r"churn\.random\.rpi9"):
        make_world(churn={"random": {"rpi9": {"up_mean_s": 1, "down_mean_s": 1}}})
    with pytest.raises(InputError, match=r"churn\.schedule\.0\.device"):
        make_world(churn={"schedule": [{"device": "s0", "down_at": 1}]})


def test_periodic_placement_places_a_window_together_at_its_end() -> None:
    period = 0.5
    world = make_world(
        simulation={"seed": 3, "placement_period_s": period}, workload={"requests": 40, "rate_per_s": 6.0}
    )
    summary, sink, _ = run_checked(world)
    assert summary.served == summary.requests
    for record in sink.records:
        # Placed at the end of the window it arrived in (or a later one after a rejection).
        windows = record.start_at / period
        assert abs(windows - round(windows)) < 1e-9
        assert record.start_at > record.arrival_at
        if not record.rejected:
            assert round(windows) == math.floor(record.arrival_at / period) + 1
    on_arrival, _, _ = run_checked(make_world(simulation={"seed": 3}, workload={"requests": 40, "rate_per_s": 6.0}))
    assert summary.latency_mean_s > on_arrival.latency_mean_s  # waiting for the window costs latency


def test_fleet_series_file(tmp_path: Any) -> None:
    world = make_world(
        churn={"schedule": [{"device": "p1", "down_at": 1.0, "up_at": 2.0}, {"device": "p2", "down_at": 1.5}]},
        workload={"requests": 20, "rate_per_s": 5.0},
    )
    result = simulate(world, out_dir=tmp_path / "out")
    lines = (tmp_path / "out" / "fleet.csv").read_text().splitlines()
    assert lines[0] == "at,participants_up"
    rows = [(float(a), int(b)) for a, b in (line.split(",") for line in lines[1:])]
    assert rows[:4] == [(0.0, 12), (1.0, 11), (1.5, 10), (2.0, 11)]
    assert result.fleet == rows
    plain = simulate(make_world(workload={"requests": 5, "rate_per_s": 5.0}), out_dir=tmp_path / "plain")
    assert plain.fleet is None and not (tmp_path / "plain" / "fleet.csv").exists()
