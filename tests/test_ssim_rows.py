"""User SSIM rows extend or override the paper's Table I per (CNN, layer) (issue 10.4)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml

from distsim import catalog
from distsim.cli import main
from distsim.errors import InputError
from distsim.model.privacy import check_rows, derive_limits, load_ssim_table, merge_tables
from distsim.scenario import load_scenario
from distsim.world import build_world
from tests.conftest import scenario_dict

HEADER = "dataset,cnn,layer,paper_label,maps_per_device,ssim\n"
TINY = {
    "input_channels": 1,
    "input_side": 12,
    "layers": [
        {"name": "conv1", "kind": "conv", "maps": 4, "kernel": 3},
        {"name": "relu1", "kind": "relu"},
        {"name": "fc1", "kind": "fc", "neurons": 10},
    ],
}


def _table(tmp_path: Path, rows: str, *, bom: bool = False, name: str = "own.csv") -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + (HEADER + rows).encode("utf-8"))
    return path


def _scenario(tmp_path: Path, table: Path, **extra: object) -> Path:
    data = scenario_dict(privacy={"max_ssim": 0.5, "ssim_table": table.name}, **extra)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_rows_override_one_layer_and_keep_the_rest(tmp_path: Path) -> None:
    # LeNet conv1 at 4 maps: the paper measures 0.28; say 0.9 instead, so tau = 0.5 needs finer splits.
    own = load_ssim_table(_table(tmp_path, "mnist,lenet,conv1,Conv1,2,0.3\nmnist,lenet,conv1,Conv1,4,0.9\n"))
    base = catalog.builtin_ssim_table()
    merged = merge_tables(base, own)
    assert len(merged.rows) == len(base.rows)
    assert [r for r in merged.rows if (r.cnn, r.layer) == ("lenet", "conv1")] == list(own.rows)
    assert [r for r in merged.rows if r.cnn != "lenet" or r.layer != "conv1"] == [
        r for r in base.rows if r.cnn != "lenet" or r.layer != "conv1"
    ]
    lenet = catalog.builtin_cnns()["lenet"]
    paper = derive_limits(lenet, base, 0.5)
    mine = derive_limits(lenet, merged, 0.5)
    assert paper.max_maps(2) == 4 and mine.max_maps(2) == 2


def test_a_declared_cnn_beside_the_built_in_ones(tmp_path: Path) -> None:
    """Rows for one's own CNN no longer drop the paper's rows: LeNet and the CIFAR CNN keep theirs."""
    table = _table(tmp_path, "x,tiny,conv1,,1,0.2\nx,tiny,conv1,,2,0.6\n", bom=True)
    path = _scenario(tmp_path, table, cnns={"tiny": TINY}, sources=[{"cnn": "tiny"}, {"cnn": "lenet"}])
    world = build_world(load_scenario(path), file=str(path))
    assert set(world.cnns) == {"tiny", "lenet"}
    assert world.limits["tiny"].max_maps(2) == 1


@pytest.mark.parametrize(
    ("rows", "words"),
    [
        ("mnist,lenet,conv1,Conv1,9,0.3\n", "maps_per_device 9 exceeds the 8 maps"),
        ("mnist,lenet,conv9,,2,0.3\n", "has no layer 'conv9'"),
    ],
)
def test_rows_that_cannot_be_are_one_line(
    rows: str, words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _scenario(tmp_path, _table(tmp_path, rows))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and words in err and "own.csv" in err, err


def test_ssim_rising_as_maps_fall_is_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    table = _table(tmp_path, "mnist,lenet,conv1,Conv1,2,0.5\nmnist,lenet,conv1,Conv1,4,0.3\n")
    warnings = check_rows(load_ssim_table(table), dict(catalog.builtin_cnns()))
    assert len(warnings) == 1 and "SSIM rises as maps per device fall" in warnings[0]
    with caplog.at_level(logging.WARNING, logger="distsim"):
        build_world(load_scenario(_scenario(tmp_path, table)))
    assert any("SSIM rises" in r.getMessage() for r in caplog.records)
    # The paper's Table I itself is non-monotone in 8 rows (measurement noise); only user rows are warned about.
    assert len(check_rows(catalog.builtin_ssim_table(), dict(catalog.builtin_cnns()))) == 8


def test_check_rows_raises_input_error_with_the_row() -> None:
    from distsim.model.privacy import SsimRow, SsimTable

    bad = SsimTable((SsimRow("lenet", "conv1", (1, 99), (0.1, 0.2)),), "mem")
    with pytest.raises(InputError, match="lenet/conv1"):
        check_rows(bad, dict(catalog.builtin_cnns()))


def test_catalog_with_a_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = _table(tmp_path, "x,tiny,conv1,,1,0.2\nx,tiny,conv1,,2,0.6\n")
    path = _scenario(tmp_path, table, cnns={"tiny": TINY}, sources=[{"cnn": "tiny"}])
    assert main(["catalog", "cnns", "--scenario", str(path)]) == 0
    out = capsys.readouterr().out
    assert "tiny" in out and "lenet" in out
    assert main(["catalog", "limits", "--scenario", str(path), "--cnn", "tiny"]) == 0
    out = capsys.readouterr().out
    assert "CNN tiny, tau = 0.5" in out
    assert main(["catalog", "limits", "--cnn", "tiny", "--tau", "0.5"]) == 2
    assert "unknown CNN 'tiny'" in capsys.readouterr().err
