"""Everyday conveniences (issue 10.5): --set, logging, progress, DataFrames."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest
import yaml

from distsim.cli import configure_logging, main
from distsim.progress import Progress
from distsim.scenario import load_scenario, parse_override
from tests.conftest import ROOT, scenario_dict

QUICKSTART = str(ROOT / "scenarios" / "quickstart.yaml")


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("privacy.max_ssim=0.4", ("privacy.max_ssim", 0.4)),
        ("workload.requests=1e3", ("workload.requests", 1000.0)),
        ("network.shared_channel=true", ("network.shared_channel", True)),
        ("participants.mix={rpi3: 1, nexus5: 2}", ("participants.mix", {"rpi3": 1, "nexus5": 2})),
        ("sources.0.cnn=vgg16", ("sources.0.cnn", "vgg16")),
        ("description=", ("description", "")),
    ],
)
def test_parse_override(text: str, expected: tuple[str, object]) -> None:
    assert parse_override(text) == expected


def test_set_on_run_and_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_cli(["validate", QUICKSTART, "--set", "participants.total=30"], capsys)
    assert status == 0 and "30 participants" in out
    status, out, _ = run_cli(
        ["run", QUICKSTART, "--no-write", "--set", "workload.requests=9", "--set", "privacy.max_ssim=0.8"], capsys
    )
    assert status == 0 and "9 arrived" in out and "max_ssim 0.8" in out
    scenario = load_scenario(QUICKSTART, [("simulation.seed", 11), ("simulation.seed", 12)])
    assert scenario.simulation.seed == 12, "applied in order"


@pytest.mark.parametrize(
    ("option", "words"),
    [
        ("nodots", "expected dotted.path=value"),
        ("=3", "expected dotted.path=value"),
        ("a..b=3", "expected dotted.path=value"),
        ("workload.requestz=3", "workload.requestz: unknown field"),
        ("workload.requests=nan", "workload.requests"),
        ("sources.7.cnn=lenet", "--set: sources.7: expected a list index below 2"),
        ("name=..", "name"),
        ("privacy.max_ssim=[unclosed", "malformed YAML"),
    ],
)
def test_bad_set_is_one_line(option: str, words: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run_cli(["validate", QUICKSTART, "--set", option], capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1 and words in err, err


def test_set_on_sweep(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sweep = tmp_path / "sw.yaml"
    base = scenario_dict(workload={"requests": 6, "rate_per_s": 3.0})
    sweep.write_text(yaml.safe_dump({"base": base, "grid": {"privacy.max_ssim": [0.5, 0.8]}}), encoding="utf-8")
    argv = ["sweep", str(sweep), "--jobs", "1", "--out", str(tmp_path / "o"), "--set", "workload.requests=4"]
    status, _, err = run_cli(argv, capsys)
    assert status == 0, err
    from distsim.experiments import load_table

    runs = load_table(tmp_path / "o")
    assert list(runs["requests"]) == [4, 4]
    assert list(runs["privacy.max_ssim"]) == [0.5, 0.8]
    summary = load_table(tmp_path / "o", "summary")
    assert len(summary) == 2 and "latency_mean_s_mean" in summary.columns
    status, _, err = run_cli([*argv[:-2], "--set", "privacy.max_ssim=0.4"], capsys)
    assert status == 2 and "grid key" in err


def test_frames_from_memory_and_from_disk(tmp_path: Path) -> None:
    from distsim import simulate

    scenario = load_scenario(QUICKSTART)
    kept = simulate(scenario)
    frame = kept.requests_frame()
    assert len(frame) == scenario.workload.requests
    assert frame["latency_s"].tolist() == [r.latency_s for r in kept.records or []]
    written = simulate(scenario, out_dir=tmp_path / "run")
    again = written.requests_frame()
    assert sorted(again["request_id"].tolist()) == sorted(frame["request_id"].tolist())
    devices = written.devices_frame()
    assert len(devices) == 14 and len(devices.columns) > 3


def test_progress_lines_off_a_terminal_and_quiet() -> None:
    stream = io.StringIO()
    bar = Progress(4, 1, unit="runs", desc="sweep", stream=stream, every_s=0.0)
    for _ in range(3):
        bar.advance()
    bar.close()
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("sweep: 2/4 runs (50.0%), elapsed") and "ETA" in lines[0]
    assert lines[-1].startswith("sweep: 4/4 runs (100.0%)")
    silent = io.StringIO()
    quiet = Progress(4, stream=silent, enabled=False, every_s=0.0)
    quiet.advance(4)
    quiet.close()
    assert silent.getvalue() == ""


def test_progress_bar_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    bar = Progress(5, unit="requests", stream=stream)
    bar.advance(5)
    bar.close()
    assert "5/5" in stream.getvalue() and "|" in stream.getvalue()


def test_run_progress_and_logging_levels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run_cli(["-v", "run", QUICKSTART, "--no-write"], capsys)
    assert status == 0 and "INFO distsim.run: quickstart: 40 requests simulated" in err
    status, _, err = run_cli(["-q", "run", QUICKSTART, "--no-write"], capsys)
    assert status == 0 and err == ""
    configure_logging()
    assert logging.getLogger("distsim").level == logging.WARNING
