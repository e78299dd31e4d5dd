"""Command-line options at their edges: bad seeds, windows and row counts, interrupts, per-layer tables."""

from __future__ import annotations

import pytest

from distsim import catalog
from distsim.cli import main
from distsim.commands import run as run_command
from distsim.commands.format import table
from tests.conftest import ROOT

QUICKSTART = str(ROOT / "scenarios/quickstart.yaml")


@pytest.mark.parametrize(
    ("options", "field"),
    [
        (["--seed", "-1"], "--seed"),
        (["--window", "2", "1"], "--window"),
        (["--gantt-rows", "0"], "--gantt-rows"),
        (["--gantt-rows", "some"], "--gantt-rows"),
    ],
)
def test_bad_run_options_exit_2_naming_the_option(
    options: list[str], field: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", QUICKSTART, "--no-write", *options]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {field}: expected ")
    assert err.count("\n") == 1  # one line, no traceback


def test_an_interrupted_command_exits_130_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(run_command, "simulate", interrupted)
    assert main(["run", QUICKSTART, "--no-write"]) == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_catalog_cnns_per_layer_table_matches_the_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalog", "cnns", "--cnn", "lenet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    lenet = catalog.builtin_cnns()["lenet"]
    assert lines[0].split() == [
        "layer",
        "name",
        "kind",
        "in",
        "out",
        "segments",
        "segment_mults",
        "segment_weight_bytes",
        "feed",
    ]
    rows = [line.split() for line in lines[2:]]
    assert len(rows) == len(lenet.layers)
    for row, layer in zip(rows, lenet.layers, strict=True):
        assert row[:3] == [str(layer.index), layer.name, str(layer.kind)]
        assert int(row[5]) == layer.segments and int(row[6]) == layer.segment_mults


def test_text_table_of_nothing() -> None:
    assert table([]) == "(no rows)"
    assert table([{"a": 1, "b": "xy"}], columns=["b"]) == "b\n--\nxy"
