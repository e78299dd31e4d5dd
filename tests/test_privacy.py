"""Privacy limits from the SSIM table (SPEC section 3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from distsim import catalog
from distsim.errors import InputError
from distsim.model.privacy import UnmeasuredPolicy, derive_limits, load_ssim_table

CNNS = catalog.builtin_cnns()
TABLE = catalog.builtin_ssim_table()


def limits(cnn: str, tau: float, policy: UnmeasuredPolicy = UnmeasuredPolicy.FINEST):
    return derive_limits(CNNS[cnn], TABLE, tau, policy)


def test_cifar_relu11_output_allows_8_maps_at_0_4() -> None:
    lim = limits("cifar_cnn", 0.4)
    cnn = CNNS["cifar_cnn"]
    # Layers 2..9 receive maps derived from relu11's output (before relu22 is measured).
    for index in range(2, 10):
        assert lim.layers[index - 1].governing_layer == "relu11"
        assert lim.max_maps(index) == 8, cnn.layer(index).name
    assert lim.max_maps(10) == 16  # relu22 row: 16 maps at 0.34
    # The paper's worked example says 32 for ReLU32 while its table reads 0.41: follow the table.
    assert lim.max_maps(15) == 16


def test_split_point_and_source_fc() -> None:
    lim = limits("cifar_cnn", 0.4)
    assert lim.split_point == 18  # no row's full count is <= 0.4
    assert lim.on_source(16)  # first FC before SP runs on the source (Eq. 8h)
    lim6 = limits("cifar_cnn", 0.6)
    assert lim6.split_point == 15  # relu32 at 128 maps reads 0.6
    assert lim6.max_maps(15) is None and not lim6.on_source(16)
    assert lim6.on_source(1) and lim6.on_source(17)


def test_first_rows_govern_layers_before_the_first_measurement() -> None:
    lim = limits("vgg16", 0.8)
    assert lim.layers[0].governing_layer == "relu11"
    assert lim.max_maps(2) == 4  # relu11 row: 4 maps 0.69, 8 maps 0.88


def test_finest_policy_extrapolates_and_strict_refuses() -> None:
    lim = limits("vgg19", 0.4)
    assert lim.extrapolated
    flagged = [layer for layer in lim.layers if layer.extrapolated]
    assert all(layer.max_maps == 1 for layer in flagged)
    assert {layer.governing_layer for layer in flagged} == {"relu34"}
    assert lim.min_participants(CNNS["vgg19"]) == 512
    with pytest.raises(InputError) as info:
        limits("vgg19", 0.4, UnmeasuredPolicy.STRICT)
    message = str(info.value)
    assert "vgg19" in message and "relu34" in message and "0.4" in message and "0.45" in message


def test_nf_needs_every_smaller_count_safe() -> None:
    # CelebA relu22 at 0.6: 2 and 4 maps read 0.4, 8 and 16 read 0.59, 32 reads 0.71.
    lim = limits("vgg19", 0.6)
    governed = [layer for layer in lim.layers if layer.governing_layer == "relu22" and layer.max_maps]
    assert governed and all(layer.max_maps == 16 for layer in governed)


def test_lenet_fc_always_on_source() -> None:
    for tau in (0.4, 0.6, 0.8):
        lim = limits("lenet", tau)
        assert lim.on_source(7)
        assert lim.split_point == 10
    assert limits("lenet", 0.8).max_maps(5) == 8
    assert limits("lenet", 0.4).max_maps(5) == 4


def test_user_table(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        "dataset,cnn,layer,paper_label,maps_per_device,ssim\nx,lenet,relu1,R1,8,0.2\nx,lenet,relu1,R1,4,0.1\n",
        encoding="utf-8",
    )
    lim = derive_limits(CNNS["lenet"], load_ssim_table(path), 0.3)
    assert lim.split_point == 3  # pool1 receives relu1's 8 maps, safe at 0.2: no limit from there on
    assert not lim.on_source(7)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("cnn,layer,maps_per_device\n", "missing column 'ssim'"),
        ("cnn,layer,maps_per_device,ssim\nlenet,relu1,two,0.1\n", "line 2"),
        ("cnn,layer,maps_per_device,ssim\nlenet,relu1,2,1.5\n", "[0, 1]"),
        ("cnn,layer,maps_per_device,ssim\n", "no rows"),
        ("cnn,layer,maps_per_device,ssim\nlenet,relu1,2,0.1\nlenet,relu1,2,0.2\n", "twice"),
    ],
)
def test_malformed_tables(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_ssim_table(path)
    assert needle in str(info.value) and "bad.csv" in str(info.value)


def test_table_naming_an_unknown_layer(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("cnn,layer,maps_per_device,ssim\nlenet,relu9,2,0.1\n", encoding="utf-8")
    with pytest.raises(InputError, match="relu9"):
        derive_limits(CNNS["lenet"], load_ssim_table(path), 0.5)
