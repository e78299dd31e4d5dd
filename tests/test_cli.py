"""The command line: happy paths and one clear message (exit 2) per kind of bad input."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from distsim.cli import main
from tests.conftest import ROOT, scenario_dict, write_scenario


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        status = main(args)
    except SystemExit as exc:  # argparse usage errors
        status = int(exc.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


def test_run_quickstart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "q"
    status, out, _ = run_cli(["run", str(ROOT / "scenarios/quickstart.yaml"), "--out", str(out_dir)], capsys)
    assert status == 0
    assert "latency mean" in out and "shared data" in out and "rejected" in out
    assert {p.name for p in out_dir.iterdir()} == {
        "requests.csv",
        "devices.csv",
        "summary.json",
        "scenario.yaml",
        "manifest.json",
    }
    assert json.loads((out_dir / "summary.json").read_text())["requests"] == 40


def test_validate_and_catalog(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_cli(["validate", str(ROOT / "scenarios/paper.yaml")], capsys)
    assert status == 0 and "ok" in out
    status, out, _ = run_cli(["catalog", "limits", "--cnn", "cifar_cnn", "--tau", "0.4"], capsys)
    assert status == 0 and "relu11" in out and "split point" in out
    rows = [line.split() for line in out.splitlines() if line[:1].isdigit()]
    assert len(rows) == 17 and rows[2][5] == "8"  # conv12 receives relu11's maps: Nf = 8
    for what in ("devices", "radios", "cnns"):
        status, out, _ = run_cli(["catalog", what], capsys)
        assert status == 0 and out.strip()


BAD: list[tuple[str, Any, str, str]] = [
    # (case, mutation, expected field path, expected words)
    ("unknown device", {"participants": {"total": 3, "mix": {"rpi4": 1}}}, "participants.mix.rpi4", "unknown device"),
    ("unknown radio", {"devices": {"rpi3": {"radio": "lora"}}}, "devices.rpi3.radio", "unknown radio"),
    ("unknown cnn", {"sources": [{"cnn": "resnet"}]}, "sources.0.cnn", "unknown CNN"),
    ("missing field", {"workload": {"requests": 3}}, "workload.rate_per_s", "required"),
    ("extra field", {"workload": {"requests": 3, "rate_per_s": 1, "burst": 2}}, "workload.burst", "unknown field"),
    ("wrong type", {"workload": {"requests": "many", "rate_per_s": 1}}, "workload.requests", "integer"),
    ("zero rate", {"workload": {"requests": 3, "rate_per_s": 0}}, "workload.rate_per_s", "greater than 0"),
    ("negative rate", {"workload": {"requests": 3, "rate_per_s": -2}}, "workload.rate_per_s", "greater than 0"),
    ("tau too big", {"privacy": {"max_ssim": 1.5}}, "privacy.max_ssim", "less than or equal to 1"),
    ("tau zero", {"privacy": {"max_ssim": 0}}, "privacy.max_ssim", "greater than 0"),
    (
        "bad cnn shapes",
        {
            "cnns": {
                "mine": {"input_channels": 1, "input_side": 4, "layers": [{"kind": "conv", "maps": 2, "kernel": 7}]}
            },
            "sources": [{"cnn": "mine"}],
        },
        "cnns.mine.layers.0.kernel",
        "does not fit",
    ),
    (
        "strict uncertifiable",
        {"sources": [{"cnn": "vgg19"}], "privacy": {"max_ssim": 0.4, "policy": "strict"}},
        "privacy.policy",
        "cannot certify",
    ),
    ("unknown scheduler", {"scheduler": {"name": "magic"}}, "scheduler.name", "unknown scheduler"),
    (
        "bad scheduler param",
        {"scheduler": {"name": "distprivacy", "params": {"gamma": 1}}},
        "scheduler.params.gamma",
        "unknown field",
    ),
    ("unknown timing", {"simulation": {"timing": "quantum"}}, "simulation.timing", "unknown timing"),
    ("missing ssim table", {"privacy": {"max_ssim": 0.5, "ssim_table": "nope.csv"}}, "", "file not found"),
]


@pytest.mark.parametrize(("case", "mutation", "field", "words"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_gives_one_clear_message(
    case: str, mutation: dict, field: str, words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = scenario_dict(**copy.deepcopy(mutation))
    path = write_scenario(tmp_path / "bad.yaml", data)
    out_dir = tmp_path / "out"
    for command in (["validate", str(path)], ["run", str(path), "--out", str(out_dir)]):
        status, _, err = run_cli(command, capsys)
        assert status == 2, case
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        assert "Traceback" not in err
        assert "bad.yaml" in err or "nope.csv" in err
        assert field in err and words in err, err
    assert not out_dir.exists()


@pytest.mark.parametrize(
    ("text", "words"),
    [("name: [unclosed\n", "malformed YAML"), ("- just\n- a list\n", "expected a mapping"), ("", "expected a mapping")],
)
def test_malformed_yaml(text: str, words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    status, _, err = run_cli(["run", str(path), "--out", str(tmp_path / "o")], capsys)
    assert status == 2 and words in err and "broken.yaml" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_missing_file_and_bad_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run_cli(["run", str(tmp_path / "absent.yaml")], capsys)
    assert status == 2 and "absent.yaml: file not found" in err
    csv_path = tmp_path / "t.csv"
    csv_path.write_text("cnn,layer,maps_per_device,ssim\nlenet,relu1,x,0.1\n")
    data = scenario_dict(privacy={"max_ssim": 0.5, "ssim_table": str(csv_path)}, sources=[{"cnn": "lenet"}])
    status, _, err = run_cli(["run", str(write_scenario(tmp_path / "s.yaml", data))], capsys)
    assert status == 2 and "t.csv" in err and "line 2" in err


def test_failed_run_keeps_previous_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "keep"
    good = write_scenario(tmp_path / "good.yaml", scenario_dict())
    assert run_cli(["run", str(good), "--out", str(out_dir)], capsys)[0] == 0
    before = {p.name: p.read_bytes() for p in out_dir.iterdir()}
    bad = write_scenario(tmp_path / "bad.yaml", scenario_dict(sources=[{"cnn": "nope"}]))
    assert run_cli(["run", str(bad), "--out", str(out_dir)], capsys)[0] == 2
    assert {p.name: p.read_bytes() for p in out_dir.iterdir()} == before


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run_cli(["catalog", "limits", "--cnn", "lenet"], capsys)
    assert status == 2 and "--tau" in err
    status, _, err = run_cli(["frobnicate"], capsys)
    assert status == 2
