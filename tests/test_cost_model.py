"""Cost model numbers (SPEC section 2) and closed-form traffic checks (Eq. 5-7)."""

from __future__ import annotations

import numpy as np
import pytest

from distsim import catalog
from distsim.errors import InputError
from distsim.model.cnn import Feed, LayerKind, build_cnn
from distsim.model.cost import evaluate, layer_transfers
from distsim.model.devices import FullMesh, build_fleet

CNNS = catalog.builtin_cnns()


def test_cifar_totals_match_the_spec() -> None:
    cnn = CNNS["cifar_cnn"]
    assert cnn.depth == 17
    assert round(cnn.total_mults / 1e6, 2) == 116.07


@pytest.mark.parametrize(
    ("name", "depth", "segments", "mults_m"),
    [("lenet", 9, 60, 0.36164), ("vgg16", 34, 9414, 5062.279168), ("vgg19", 40, 11974, 6420.594688)],
)
def test_builtin_cnn_sizes(name: str, depth: int, segments: int, mults_m: float) -> None:
    cnn = CNNS[name]
    assert cnn.depth == depth
    assert cnn.total_segments == segments
    assert cnn.total_mults / 1e6 == pytest.approx(mults_m)


def test_segment_costs_follow_eq_2_to_4() -> None:
    cnn = CNNS["cifar_cnn"]
    conv12 = cnn.layer(3)
    assert conv12.name == "conv12" and conv12.segments == 64
    assert conv12.segment_mults == 3 * 3 * 64 * 32 * 32  # S^2 P_l o_l^2
    assert conv12.segment_weight_bytes == 3 * 3 * 64 * 4  # S^2 P_l b
    relu = cnn.layer(2)
    assert relu.segment_mults == 0 and relu.segment_weight_bytes == 0
    fc1 = cnn.layer(16)
    assert fc1.kind is LayerKind.FC and fc1.segments == 1
    assert fc1.segment_mults == 128 * 4 * 4 * 512  # n*_{l-1} n*_l
    assert fc1.feed is Feed.GATHER
    assert cnn.layer(17).feed is Feed.VECTOR


def test_lenet_shapes() -> None:
    cnn = CNNS["lenet"]
    sides = [layer.out_side for layer in cnn.layers[:6]]
    assert sides == [24, 24, 12, 8, 8, 4]
    assert cnn.layer(7).segment_mults == 16 * 4 * 4 * 120


def _fleet(n_participants: int, rate_bps: float = 8e6, speed: float = 1e6) -> tuple:
    kind = catalog.device_models()["rpi3"].with_budgets(1.0)
    from dataclasses import replace

    kind = replace(kind, mults_per_s=speed, radio=replace(kind.radio, rate_bps=rate_bps))
    fleet = build_fleet([kind] * n_participants, [kind], ["tiny"])
    return fleet, FullMesh(fleet)


TINY = build_cnn(
    {
        "name": "tiny",
        "input_channels": 2,
        "input_side": 4,
        "layers": [
            {"kind": "conv", "maps": 2, "kernel": 3, "padding": 1},
            {"kind": "relu"},
            {"kind": "conv", "maps": 2, "kernel": 1},
            {"kind": "fc", "neurons": 3},
        ],
    }
)


def test_traffic_and_latency_closed_form() -> None:
    # Devices 0, 1 participants; 2 the source. 1 byte/s radios (8 bits/s) make
    # transfer seconds equal to bytes; 1 mult/s CPUs make compute seconds equal to mults.
    fleet, links = _fleet(2, rate_bps=8.0, speed=1.0)
    conv1 = np.array([2, 2])  # source computes both input channels
    relu = np.array([0, 1])  # map 0 on device 0, map 1 on device 1
    conv2 = np.array([1, 1])  # both maps convolved on device 1
    fc = np.array([2])
    cost = evaluate(TINY, [conv1, relu, conv2, fc], fleet, links)
    unit = 4 * 4 * 4  # o^2 * b = 64 bytes per map
    c1 = 3 * 3 * 2 * 16  # conv1 segment mults
    # layer 1: source computes 2 segments: 2 * c1 seconds, no transfers
    # layer 2 (partial sums): source sends 1 map to each participant: 64 s, relu costs 0
    # layer 3 (maps): map 0 moves 0 -> 1: 64 s; device 1 computes 2 * (1*1*2*16) = 64 mults
    # layer 4 (gather from conv): device 1 sends its P_l * o^2 * b = 2 * 64 = 128 bytes to the source
    c3 = 2 * 1 * 1 * 2 * 16
    fc_mults = 2 * 16 * 3
    expected = [2 * c1, unit, unit + c3, 2 * unit + fc_mults]
    assert [lc.latency_s for lc in cost.layers] == pytest.approx(expected)
    assert cost.latency_s == pytest.approx(sum(expected))
    assert cost.shared_bytes == 2 * unit + unit + 2 * unit
    assert cost.bandwidth_bytes.tolist() == [unit, 2 * unit, 2 * unit]
    assert cost.compute_mults.tolist() == [0, c3, 2 * c1 + fc_mults]
    assert cost.devices_used == 3


def test_partial_sums_go_from_every_contributor() -> None:
    fleet, _ = _fleet(3)
    layer = TINY.layer(2)
    flows = layer_transfers(layer, np.array([0, 1]), np.array([2, 2]), fleet.size)
    assert flows.senders.tolist() == [0, 1] and flows.receivers.tolist() == [2, 2]
    assert flows.bytes.tolist() == [2 * 64, 2 * 64]


@pytest.mark.parametrize(
    ("layers", "field"),
    [
        ([{"kind": "conv", "maps": 2, "kernel": 9}], "layers.0.kernel"),
        ([{"kind": "fc", "neurons": 3}, {"kind": "relu"}], "layers.1.kind"),
        ([{"kind": "conv", "maps": 0, "kernel": 1}], "layers.0.maps"),
        ([{"kind": "dense", "neurons": 3}], "layers.0.kind"),
        ([{"kind": "pool"}], "layers.0.kernel"),
        ([{"kind": "relu", "size": 2}], "layers.0.size"),
    ],
)
def test_bad_layer_lists_name_the_field(layers: list, field: str) -> None:
    with pytest.raises(InputError) as info:
        build_cnn({"name": "x", "input_channels": 1, "input_side": 4, "layers": layers})
    assert info.value.field == field
