"""Privacy mechanisms, exposure on every served request, and the per-scheduler idle-fleet check (issue 10.1)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distsim.cli import main
from distsim.engine.records import MemorySink, Summary
from distsim.engine.simulation import Simulation
from distsim.errors import InputError
from distsim.model.cnn import Layer, build_cnn
from distsim.model.privacy import SsimRow
from distsim.privacy.exposure import exposure_of, received_maps, row_ssim
from distsim.privacy.registry import mechanism_names
from distsim.scheduling.base import ClusterView, Placement, Request, min_participants
from distsim.scheduling.registry import make_scheduler
from distsim.world import World
from tests.conftest import make_world, scenario_dict, write_scenario


def run(world: World) -> tuple[Summary, MemorySink]:
    sink = MemorySink()
    return Simulation(world, sink).run(), sink


# -- exposure ------------------------------------------------------------------------------------------

ROW = SsimRow("x", "relu1", (2, 4, 8, 16), (0.1, 0.3, 0.25, 0.7))


def test_row_ssim_rounds_up_and_is_a_running_maximum() -> None:
    assert row_ssim(ROW, 0) == (0.0, False)
    assert row_ssim(ROW, 1) == (0.1, False)  # below the smallest count: rounds up to 2
    assert row_ssim(ROW, 3) == (0.3, False)  # between 2 and 4: rounds up to 4
    assert row_ssim(ROW, 8) == (0.3, False)  # 8 maps include a 4-map subset
    assert row_ssim(ROW, 16) == (0.7, False)
    assert row_ssim(ROW, 17) == (0.7, True)  # beyond the largest measured count: extrapolated


def brute_exposure(world: World, cnn_name: str, assignments: list[np.ndarray], colluders: int) -> float:
    """Every coalition of ``colluders`` participants, every layer, maps recounted segment by segment."""
    cnn, limits = world.cnns[cnn_name], world.limits[cnn_name]
    table = world.mechanism.settings.table
    rows = {row.layer: row for row in table.for_cnn(cnn_name)}
    d = world.fleet.participants
    worst = 0.0
    for coalition in itertools.combinations(range(d), colluders):
        members = set(coalition)
        for layer, limit, array in zip(cnn.layers, limits.layers, assignments, strict=True):
            maps = 0
            for device in array.tolist():
                if device in members:
                    gathers = layer.feed.value == "gather" and layer.prev_kind.value != "fc"
                    maps += layer.prev_out_maps if gathers else 1
            if maps == 0:
                continue
            row = rows[limit.governing_layer]
            # The smallest measured count >= maps (else the largest), then the largest SSIM up to it.
            reach = [n for n in row.counts if n >= maps]
            upto = reach[0] if reach else row.counts[-1]
            worst = max(worst, max(s for n, s in zip(row.counts, row.ssim, strict=True) if n <= upto))
    return worst


@pytest.mark.parametrize(("scheduler", "mechanism"), [("distprivacy", "feature_split"), ("layerwise", "none")])
@pytest.mark.parametrize("colluders", [1, 2, 3])
def test_exposure_matches_a_brute_force_recount(scheduler: str, mechanism: str, colluders: int) -> None:
    world = make_world(
        sources=[{"cnn": "lenet"}, {"cnn": "cifar_cnn"}],
        participants={"total": 7},
        privacy={"max_ssim": 0.8, "mechanism": mechanism},
    )
    sched = make_scheduler(scheduler, {}, world, np.random.default_rng(0))
    rng = np.random.default_rng(4)
    fleet = world.fleet
    checked = 0
    for k in range(6):
        scale = rng.uniform(0.3, 1.0, size=fleet.size)
        view = ClusterView(
            world,
            (fleet.compute_budget_mults * scale).astype(np.int64),
            fleet.memory_bytes.copy(),
            fleet.bandwidth_budget_bytes.copy(),
        )
        source = fleet.participants + k % 2
        cnn = fleet.source_cnn[k % 2]
        decision = sched.place(Request(k, source, cnn, 0.0), view)
        if not isinstance(decision, Placement):
            continue
        counts = received_maps(world.cnns[cnn], decision.assignments, fleet.participants)
        got = world.mechanism.exposure(world.cnns[cnn], counts, colluders)
        assert got.ssim == pytest.approx(brute_exposure(world, cnn, list(decision.assignments), colluders))
        checked += 1
    assert checked >= 3


@settings(max_examples=25, deadline=None)
@given(
    tau=st.sampled_from([0.4, 0.6, 0.8]),
    cnn=st.sampled_from(["lenet", "cifar_cnn"]),
    participants=st.integers(8, 40),
    seed=st.integers(0, 2**16),
)
def test_certified_distprivacy_placements_stay_within_tau(tau: float, cnn: str, participants: int, seed: int) -> None:
    world = make_world(sources=[{"cnn": cnn}], participants={"total": participants}, privacy={"max_ssim": tau})
    fleet = world.fleet
    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.05, 1.0, size=fleet.size)
    view = ClusterView(
        world,
        (fleet.compute_budget_mults * scale).astype(np.int64),
        (fleet.memory_bytes * rng.uniform(0.05, 1.0, size=fleet.size)).astype(np.int64),
        (fleet.bandwidth_budget_bytes * scale).astype(np.int64),
    )
    decision = make_scheduler("distprivacy", {}, world, rng).place(Request(0, fleet.participants, cnn, 0.0), view)
    if not isinstance(decision, Placement):
        return
    net = world.cnns[cnn]
    counts = received_maps(net, decision.assignments, fleet.participants)
    single = world.mechanism.exposure(net, counts, 1)
    if not single.extrapolated:
        assert single.ssim <= tau
    # More colluders never expose less.
    previous = single.ssim
    for c in (2, 3, 5):
        pooled = world.mechanism.exposure(net, counts, c).ssim
        assert pooled >= previous
        previous = pooled


def test_exposure_grows_with_colluders_on_a_run() -> None:
    means = []
    for c in (1, 2, 4):
        world = make_world(participants={"total": 30}, privacy={"max_ssim": 0.6, "colluders": c})
        sim, sink = run(world)
        served = [r for r in sink.records if not r.dropped]
        assert served and all(0.0 <= r.exposure_ssim <= 1.0 for r in served)
        means.append(sim.exposure_mean)
    assert means[0] <= 0.6
    assert means[0] < means[1] <= means[2]


def test_every_served_request_carries_its_exposure() -> None:
    sim, sink = run(make_world())
    summary = sim
    served = [r for r in sink.records if not r.dropped]
    assert summary.exposure_max == max(r.exposure_ssim for r in served) <= 0.6
    assert summary.exposure_above_tau_share == 0.0
    assert all(r.exposure_layer for r in served)
    dropped = [r for r in sink.records if r.dropped]
    assert all(np.isnan(r.exposure_ssim) for r in dropped)


def test_no_protection_exposes_more_than_feature_split() -> None:
    split, _ = run(make_world(participants={"total": 30}))
    none, _ = run(make_world(participants={"total": 30}, privacy={"max_ssim": 0.6, "mechanism": "none"}))
    assert none.exposure_mean > split.exposure_mean
    assert none.exposure_above_tau_share > 0


def test_no_privacy_is_distprivacy_under_the_none_mechanism() -> None:
    lifted = make_world(participants={"total": 9}, privacy={"max_ssim": 0.4, "mechanism": "none"})
    plain = make_world(participants={"total": 9}, privacy={"max_ssim": 0.4})
    a = make_scheduler("distprivacy", {}, lifted, np.random.default_rng(0))
    b = make_scheduler("no_privacy", {}, plain, np.random.default_rng(0))
    for k, source in enumerate(range(9, 11)):
        request = Request(k, source, plain.fleet.source_cnn[source - 9], 0.0)
        pa, pb = a.place(request, ClusterView.idle(lifted)), b.place(request, ClusterView.idle(plain))
        assert isinstance(pa, Placement) and isinstance(pb, Placement)
        assert [x.tolist() for x in pa.assignments] == [x.tolist() for x in pb.assignments]


# -- issue 10.1: the idle-fleet check asks the scheduler -----------------------------------------------


def test_layerwise_serves_vgg16_on_51_participants_at_tau_04() -> None:
    world = make_world(
        sources=[{"cnn": "vgg16"}],
        participants={"total": 51},
        workload={"requests": 12, "rate_per_s": 1.0},
        privacy={"max_ssim": 0.4},
        scheduler={"name": "layerwise"},
    )
    assert world.mechanism.min_participants(world.cnns["vgg16"]) > 51
    sim, _ = run(world)
    assert sim.served == 12 and sim.dropped_fleet_too_small == 0
    # distprivacy is still held to the privacy minimum on the same fleet.
    strict = make_world(
        sources=[{"cnn": "vgg16"}],
        participants={"total": 51},
        workload={"requests": 4, "rate_per_s": 1.0},
        privacy={"max_ssim": 0.4},
    )
    sim, _ = run(strict)
    assert sim.dropped_fleet_too_small == 4


@pytest.mark.parametrize("name", ["layerwise", "no_privacy", "source_only"])
def test_privacy_free_baselines_are_not_held_to_the_privacy_minimum(name: str) -> None:
    # CIFAR at tau 0.4 needs more participants than 5 under the caps (64 maps of relu11 at 8 per device).
    world = make_world(
        sources=[{"cnn": "cifar_cnn"}],
        participants={"total": 5},
        workload={"requests": 6, "rate_per_s": 1.0},
        privacy={"max_ssim": 0.4},
        scheduler={"name": name},
    )
    assert world.mechanism.min_participants(world.cnns["cifar_cnn"]) > 5
    sched = make_scheduler(name, {}, world, np.random.default_rng(0))
    assert min_participants(sched, world, "cifar_cnn") == 0
    sim, _ = run(world)
    assert sim.served == 6 and sim.dropped == 0


# -- bad input -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("privacy", "expect"),
    [
        ({"max_ssim": 0.6, "mechanism": "magic"}, "privacy.mechanism"),
        ({"max_ssim": 0.6, "colluders": 0}, "privacy.colluders"),
        ({"max_ssim": 0.6, "mechanism": "none", "params": {"epsilon": 1}}, "privacy.params"),
        ({"max_ssim": 0.6, "mechanism": "feature_split", "params": {"epsilon": 1}}, "privacy.params"),
    ],
)
def test_bad_privacy_settings_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], privacy: dict[str, object], expect: str
) -> None:
    path = write_scenario(tmp_path / "s.yaml", scenario_dict(privacy=privacy))
    assert main(["run", str(path), "--no-write"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expect in err


def test_registry_lists_the_built_in_mechanisms() -> None:
    assert {"feature_split", "none"} <= set(mechanism_names())
    world = make_world()
    assert exposure_of  # the function the mechanisms share
    assert world.mechanism.name == "feature_split"


# -- dp_noise (Ryu et al.) and closed forms on a tiny CNN ---------------------------------------------

TINY = {
    "tiny": {
        "input_channels": 2,
        "input_side": 8,
        "layers": [
            {"name": "conv1", "kind": "conv", "maps": 3, "kernel": 3},
            {"name": "relu1", "kind": "relu"},
            {"name": "conv2", "kind": "conv", "maps": 2, "kernel": 3},
            {"name": "relu2", "kind": "relu"},
            {"name": "fc1", "kind": "fc", "neurons": 4},
        ],
    }
}


def tiny_world(mechanism: str, params: dict[str, object] | None, table: Path) -> World:
    table.write_text(
        "dataset,cnn,layer,paper_label,maps_per_device,ssim\nx,tiny,relu1,R1,3,0.5\nx,tiny,relu1,R1,1,0.2\n",
        encoding="utf-8",
    )
    return make_world(
        cnns=TINY,
        sources=[{"cnn": "tiny"}],
        participants={"groups": [{"type": "rpi3", "count": 1}]},
        privacy={"max_ssim": 1.0, "mechanism": mechanism, "params": params or {}, "ssim_table": str(table)},
    )


def catalog_mults(layer: Layer) -> int:
    """The layer's own multiplications, as the CNN declares them (a relu has none)."""
    built = build_cnn({"name": "tiny", **TINY["tiny"]})
    return built.layer(layer.index).total_mults


def closed_form_latency(world: World, on_source: set[str], noise: tuple[str, int] | None = None) -> float:
    """Eq. 5 by hand for a chain whose layers run whole on the source or on participant 0.

    ``noise``: (split layer, multiplications per element) of dp_noise's clip-and-noise step.
    """
    cnn, fleet = world.cnns["tiny"], world.fleet
    src, helper = fleet.participants, 0
    total, prev_device, prev = 0.0, src, None
    for layer in cnn.layers:
        device = src if layer.name in on_source else helper
        mults = layer.segments * layer.segment_mults
        if noise is not None and layer.name == noise[0]:
            # dp_noise: clip and noise on the camera, noise[1] mults per output element, rounded up per segment.
            mults = catalog_mults(layer) + layer.segments * -(-noise[1] * layer.neurons // layer.segments)
        compute = mults / float(fleet.mults_per_s[device])
        moved = 0
        if prev is not None and device != prev_device:
            if layer.feed.value == "gather":
                moved = prev.out_maps * layer.feed_unit_bytes  # the whole previous output
            else:
                moved = layer.segments * layer.feed_unit_bytes  # one map (or partial sum) per segment
        total += moved * float(fleet.sec_per_byte[prev_device]) + compute
        prev_device, prev = device, layer
    return total


@pytest.mark.parametrize(
    ("mechanism", "params", "on_source"),
    [
        ("none", {}, {"conv1", "fc1"}),
        ("dp_noise", {"epsilon": 200, "split_layer": "relu1"}, {"conv1", "relu1", "fc1"}),
        (
            "dp_noise",
            {"epsilon": 200, "split_layer": "relu1", "noise_mults_per_element": 40},
            {"conv1", "relu1", "fc1"},
        ),
        ("feature_split", {}, {"conv1", "fc1"}),
        ("dp_noise", {"epsilon": 200, "case": 2}, {"conv1", "relu1", "conv2", "relu2", "fc1"}),
    ],
)
def test_mechanism_latency_matches_the_closed_form(
    tmp_path: Path, mechanism: str, params: dict[str, object], on_source: set[str]
) -> None:
    table = tmp_path / "tiny.csv"
    if "case" in params:
        # Case 2 splits after relu2: only the last layer (on the camera anyway) would be left.
        with pytest.raises(InputError, match="leaves nothing"):
            tiny_world(mechanism, params, table)
        return
    world = tiny_world(mechanism, params, table)
    limits = world.limits["tiny"]
    assert {layer.name for layer in limits.layers if layer.on_source} == on_source
    view = ClusterView.idle(world)
    request = Request(0, world.fleet.participants, "tiny", 0.0)
    decision = make_scheduler("distprivacy", {}, world, np.random.default_rng(0)).place(request, view)
    assert isinstance(decision, Placement)
    for layer, array in zip(world.cnns["tiny"].layers, decision.assignments, strict=True):
        assert set(array.tolist()) == ({request.source} if layer.name in on_source else {0})
    noise = None
    if mechanism == "dp_noise":
        noise = (str(params["split_layer"]), int(params.get("noise_mults_per_element", 4)))  # type: ignore[call-overload]
        # The camera's relu1 now computes: 4 (or the given count) mults per element of its 3 x 6 x 6 output.
        assert world.cnns["tiny"].layer(2).total_mults == noise[1] * 3 * 6 * 6
    assert decision.cost.latency_s == pytest.approx(closed_form_latency(world, on_source, noise), rel=1e-12)


def test_dp_noise_reports_the_papers_ssim_and_accuracy() -> None:
    world = make_world(privacy={"max_ssim": 0.6, "mechanism": "dp_noise", "params": {"epsilon": 500}})
    summary, sink = run(world)
    served = [r for r in sink.records if not r.dropped]
    # Ryu et al. Table 6 (CIFAR-10, case 1, epsilon 500): white-box SSIM 0.33, accuracy 75.756 %.
    assert {r.exposure_ssim for r in served} == {0.33}
    assert {r.accuracy_pct for r in served} == {75.756}
    assert summary.exposure_attack == "whitebox_noisy_output" and summary.accuracy_mean_pct == 75.756
    # The camera keeps the layers up to the split (relu11 for the CIFAR CNN, relu1 for LeNet).
    assert world.limits["cifar_cnn"].on_source(world.cnns["cifar_cnn"].index_of("relu11"))


@pytest.mark.parametrize(
    ("params", "expect"),
    [
        ({"epsilon": 0}, "privacy.params.epsilon"),
        ({"epsilon": -1}, "privacy.params.epsilon"),
        ({"epsilon": 3}, "privacy.params.epsilon"),  # not one of the tabulated values
        ({}, "privacy.params.epsilon"),
        ({"epsilon": 200, "split_layer": "conv9"}, "privacy.params.split_layer"),
        ({"epsilon": 200, "case": 4}, "privacy.params.case"),
        ({"epsilon": 200, "dataset": "imagenet"}, "privacy.params.dataset"),
        ({"epsilon": 200, "noise": 1}, "privacy.params"),
        ({"epsilon": 200, "noise_mults_per_element": -1}, "privacy.params.noise_mults_per_element"),
        ({"epsilon": 200, "noise_mults_per_element": 1.5}, "privacy.params.noise_mults_per_element"),
    ],
)
def test_bad_dp_noise_parameters_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], params: dict[str, object], expect: str
) -> None:
    privacy = {"max_ssim": 0.6, "mechanism": "dp_noise", "params": params}
    path = write_scenario(tmp_path / "s.yaml", scenario_dict(privacy=privacy))
    assert main(["run", str(path), "--no-write"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expect in err, err
