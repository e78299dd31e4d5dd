"""``edge_cloud`` (Osia et al.): the fixed camera / server split, its closed-form latency, bad input, paper.yaml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from distsim.cli import main
from distsim.engine.records import MemorySink
from distsim.engine.simulation import Simulation
from distsim.model.cnn import BYTES_PER_VALUE
from distsim.scheduling.base import ClusterView, Placement, Request
from distsim.scheduling.offload import Offload
from distsim.world import World
from tests.conftest import make_world, scenario_dict, write_scenario
from tests.test_mechanisms import TINY

ROOT = Path(__file__).resolve().parents[1]
SERVER = {"mults_per_s": 2.0e9, "uplink_bps": 1.0e6, "rtt_s": 0.05}


def tiny_world(tmp_path: Path, params: dict[str, object]) -> World:
    table = tmp_path / "tiny.csv"
    table.write_text(
        "dataset,cnn,layer,paper_label,maps_per_device,ssim\nx,tiny,relu1,R1,1,0.2\nx,tiny,relu1,R1,3,0.5\n",
        encoding="utf-8",
    )
    return make_world(
        cnns=TINY,
        sources=[{"cnn": "tiny"}],
        participants={"groups": [{"type": "rpi3", "count": 1}]},
        workload={"requests": 1, "rate_per_s": 1.0},
        privacy={"max_ssim": 0.6, "mechanism": "edge_cloud", "params": params, "ssim_table": str(table)},
        servers={"edge": SERVER},
    )


@pytest.mark.parametrize("dims", [None, 5])
def test_latency_matches_the_closed_form(tmp_path: Path, dims: int | None) -> None:
    world = tiny_world(tmp_path, {} if dims is None else {"dims": dims})
    cnn, fleet = world.cnns["tiny"], world.fleet
    # Default cut: relu1, the shallowest layer whose full-map SSIM (3 maps: 0.5) is within 0.6.
    assert world.offload["tiny"].cut == 2
    camera = float(fleet.mults_per_s[fleet.participants])
    assert world.server == fleet.size - 1 and fleet.names[world.server] == "edge"
    n = 3 * 6 * 6  # relu1's output: 3 maps of 6 x 6
    sent = (n if dims is None else dims) * BYTES_PER_VALUE
    pca = 0 if dims is None else dims * n
    camera_mults = cnn.layer(1).total_mults + cnn.layer(2).total_mults
    server_mults = sum(cnn.layer(k).total_mults for k in (3, 4, 5))
    expected = (
        (camera_mults + pca) / camera
        + sent * 8 / SERVER["uplink_bps"]
        + SERVER["rtt_s"]
        + (server_mults + pca) / SERVER["mults_per_s"]
    )
    sink = MemorySink()
    summary = Simulation(world, sink).run()
    (record,) = sink.records
    assert summary.served == 1 and summary.scheduler == "offload"
    assert record.latency_s == pytest.approx(expected, rel=1e-12)
    assert record.transfer_s == pytest.approx(sent * 8 / SERVER["uplink_bps"] + SERVER["rtt_s"], rel=1e-12)
    assert record.shared_bytes == sent
    # The radios are busy for the upload only (the round trip is waiting): what the energy meter charges.
    placed = Offload(world).place(Request(0, fleet.participants, "tiny", 0.0), ClusterView.idle(world))
    assert isinstance(placed, Placement)
    assert placed.cost.tx_s[fleet.participants] == placed.cost.rx_s[world.server] == sent * 8 / SERVER["uplink_bps"]
    assert placed.cost.compute_mults[world.server] == server_mults + pca
    # The server holds relu1's whole output: Table I's full-map value, an upper bound under PCA.
    assert record.exposure_ssim == 0.5 and record.exposure_layer == "conv2"
    assert record.exposure_extrapolated is (dims is not None)


def test_paper_cnns_cut_where_the_whole_map_is_within_tau() -> None:
    world = make_world(
        sources=[{"cnn": c} for c in ("lenet", "cifar_cnn", "vgg16", "vgg19")],
        participants={"total": 4},
        privacy={"max_ssim": 0.6, "mechanism": "edge_cloud"},
        servers={"edge": SERVER},
    )
    cuts = {name: world.cnns[name].layer(plan.cut).name for name, plan in world.offload.items()}
    # Table I full-map SSIM: cifar relu32 0.60, vgg16 relu43 0.36, vgg19 relu34 0.56; LeNet has none <= 0.6.
    assert cuts == {"cifar_cnn": "relu32", "vgg16": "relu43", "vgg19": "relu34", "lenet": "fc3"}
    assert world.offload["lenet"].sent_values(world.cnns["lenet"]) == 0  # the camera keeps LeNet whole


@pytest.mark.parametrize(
    ("privacy", "servers", "timing", "expect"),
    [
        ({"cut_layer": "conv9"}, {"edge": SERVER}, "analytic", "privacy.params.cut_layer"),
        ({"cut_layer": {"resnet": "relu1"}}, {"edge": SERVER}, "analytic", "privacy.params.cut_layer.resnet"),
        ({"dims": 0}, {"edge": SERVER}, "analytic", "privacy.params.dims"),
        ({"dims": -3}, {"edge": SERVER}, "analytic", "privacy.params.dims"),
        ({"dims": 2.5}, {"edge": SERVER}, "analytic", "privacy.params.dims"),
        ({"dims": 10**6, "cut_layer": "relu11"}, {"edge": SERVER}, "analytic", "privacy.params.dims"),
        ({}, {}, "analytic", "servers"),
        ({"server": "cloud"}, {"edge": SERVER}, "analytic", "privacy.params.server"),
        ({}, {"edge": SERVER, "cloud": dict(SERVER)}, "analytic", "privacy.params.server"),
        ({"epsilon": 200}, {"edge": SERVER}, "analytic", "privacy.params"),
        ({}, {"edge": SERVER}, "contention", "simulation.timing"),
        ({}, {"edge": {"mults_per_s": 1e9, "rtt_s": 0.1}}, "analytic", "servers.edge.uplink_bps"),
        ({}, {"edge": {**SERVER, "rtt_s": -1}}, "analytic", "servers.edge.rtt_s"),
        ({}, {"p0": SERVER}, "analytic", "servers.p0"),
    ],
)
def test_bad_edge_cloud_input_exits_2_with_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    privacy: dict[str, object],
    servers: dict[str, object],
    timing: str,
    expect: str,
) -> None:
    data = scenario_dict(
        privacy={"max_ssim": 0.6, "mechanism": "edge_cloud", "params": privacy},
        servers=servers,
        simulation={"timing": timing},
    )
    path = write_scenario(tmp_path / "s.yaml", data)
    assert main(["run", str(path), "--no-write"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expect in err, err


@pytest.mark.parametrize(
    ("mechanism", "extra"),
    [
        ("feature_split", []),
        ("none", []),
        ("dp_noise", ["--set", "privacy.params.epsilon=200"]),
        ("edge_cloud", []),
    ],
)
def test_paper_scenario_runs_with_each_mechanism(tmp_path: Path, mechanism: str, extra: list[str]) -> None:
    out = tmp_path / "out"
    args = ["run", str(ROOT / "scenarios" / "paper.yaml"), "--out", str(out)]
    args += ["--set", f"privacy.mechanism={mechanism}", "--set", "workload.requests=24", *extra]
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["mechanism"] == mechanism and summary["served"] > 0
    if mechanism == "edge_cloud":
        assert summary["scheduler"] == "offload" and summary["exposure_max"] <= 0.6
