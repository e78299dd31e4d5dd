"""Hardened input (issue 10.3): every bad-input kind is one line, exit 2, nothing written."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from distsim.cli import main
from distsim.fields import MAX_BUDGET, MAX_DEVICES, MAX_REQUESTS
from distsim.reading import read_text
from distsim.scenario import parse_yaml
from tests.conftest import scenario_dict

NAN, INF = float("nan"), float("inf")

#: (case, top-level overrides, field path in the message, words in the message)
BAD: list[tuple[str, dict[str, Any], str, str]] = [
    ("nan rate", {"workload": {"requests": 3, "rate_per_s": NAN}}, "workload.rate_per_s", "finite"),
    ("infinite rate", {"workload": {"requests": 3, "rate_per_s": INF}}, "workload.rate_per_s", "finite"),
    ("nan window", {"budgets": {"window_s": NAN}}, "budgets.window_s", "finite"),
    ("infinite window", {"budgets": {"window_s": INF}}, "budgets.window_s", "finite"),
    ("nan tau", {"privacy": {"max_ssim": NAN}}, "privacy.max_ssim", "finite"),
    ("nan weight", {"sources": [{"cnn": "lenet", "weight": NAN}]}, "sources.0.weight", "finite"),
    ("nan mix", {"participants": {"total": 4, "mix": {"rpi3": NAN}}}, "participants.mix.rpi3", "finite"),
    ("nan interval", {"simulation": {"retry": {"interval_s": NAN}}}, "simulation.retry.interval_s", "finite"),
    ("nan alpha", {"scheduler": {"name": "distprivacy", "params": {"alpha": NAN}}}, "scheduler.params.alpha", "finite"),
    ("infinite beta", {"scheduler": {"params": {"beta": INF}}}, "scheduler.params.beta", "finite"),
    (
        "nan position",
        {"network": {"topology": "geometric", "range_m": 10, "positions": {"p0": [NAN, 1.0]}}},
        "network.positions.p0.0",
        "finite",
    ),
    ("infinite range", {"network": {"topology": "geometric", "range_m": INF}}, "network.range_m", "finite"),
    ("bool as integer", {"workload": {"requests": True, "rate_per_s": 1.0}}, "workload.requests", "integer"),
    ("bool as count", {"sources": [{"cnn": "lenet", "count": True}]}, "sources.0.count", "integer"),
    ("bool as float", {"workload": {"requests": 3, "rate_per_s": True}}, "workload.rate_per_s", "number"),
    ("int as bool", {"network": {"shared_channel": 1}}, "network.shared_channel", "boolean"),
    ("text as number", {"budgets": {"window_s": "5"}}, "budgets.window_s", "number"),
    ("fractional count", {"participants": {"total": 2.5}}, "participants.total", "integer"),
    ("huge camera count", {"sources": [{"cnn": "lenet", "count": 10**8}]}, "sources.0.count", str(MAX_DEVICES)),
    ("huge fleet", {"participants": {"total": 10**9}}, "participants.total", str(MAX_DEVICES)),
    (
        "fleet over the bound in all",
        {"sources": [{"cnn": "lenet", "count": MAX_DEVICES}], "participants": {"total": 1}},
        "",
        f"at most {MAX_DEVICES} devices",
    ),
    ("huge request count", {"workload": {"requests": 10**12, "rate_per_s": 1.0}}, "workload.requests", "less than"),
    ("budget beyond int64", {"devices": {"rpi3": {"compute_budget_mults": 2**70}}}, "devices.rpi3", "less than"),
    (
        "derived budget too large",
        {"devices": {"rpi3": {"mults_per_s": 1e15}}, "budgets": {"window_s": 1e6}},
        "budgets.window_s",
        f"{MAX_BUDGET:.3g}",
    ),
    ("huge seed", {"simulation": {"seed": 2**64}}, "simulation.seed", "less than"),
    ("huge attempts", {"simulation": {"retry": {"max_attempts": 10**12}}}, "simulation.retry.max_attempts", "less"),
    ("name dotdot", {"name": ".."}, "name", "folder name"),
    ("name dot", {"name": "."}, "name", "folder name"),
    ("name with separator", {"name": "a/b"}, "name", "path separators"),
    ("name with newline", {"name": "a\nb"}, "name", "control characters"),
    ("name option-like", {"name": "-rf"}, "name", "'-'"),
]


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _yaml(data: dict[str, Any]) -> str:
    # yaml.safe_dump writes .nan / .inf, which YAML reads back as floats.
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def assert_one_line(status: int, err: str, *words: str) -> None:
    lines = err.strip().splitlines()
    assert status == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for word in words:
        assert word in err, err


@pytest.mark.parametrize(("case", "mutation", "field", "words"), BAD, ids=[b[0] for b in BAD])
def test_bad_value_is_one_line_and_writes_nothing(
    case: str, mutation: dict[str, Any], field: str, words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(_yaml(scenario_dict(**copy.deepcopy(mutation))), encoding="utf-8")
    out_dir = tmp_path / "out"
    for command in (["validate", str(path)], ["run", str(path), "--out", str(out_dir)]):
        status, _, err = run_cli(command, capsys)
        assert_one_line(status, err, "bad.yaml", field, words)
    assert not out_dir.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


def test_scientific_notation_reads_as_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``4.0e7`` and ``2e8`` are numbers (YAML 1.2), and an integral float is accepted for an integer."""
    text = _yaml(scenario_dict()) + "devices:\n  stm32h7: {mults_per_s: 4.0e7, compute_budget_mults: 2.0e8}\n"
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    status, _, err = run_cli(["validate", str(path)], capsys)
    assert status == 0, err
    assert parse_yaml("a: 1e9\nb: -2.5E-3\nc: 7\nd: '1e9'\n") == {"a": 1e9, "b": -2.5e-3, "c": 7, "d": "1e9"}


def test_yaml_alias_bomb_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    for k in range(1, 9):
        bomb += f"{chr(97 + k)}: &{chr(97 + k)} [" + ",".join([f"*{chr(96 + k)}"] * 9) + "]\n"
    path = tmp_path / "bomb.yaml"
    path.write_text(bomb, encoding="utf-8")
    status, _, err = run_cli(["validate", str(path)], capsys)
    assert_one_line(status, err, "bomb.yaml", "aliases", "line 2")


def test_endless_and_huge_files_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if Path("/dev/zero").exists():
        status, _, err = run_cli(["validate", "/dev/zero"], capsys)
        assert_one_line(status, err, "/dev/zero", "larger than")
    big = tmp_path / "big.yaml"
    with open(big, "wb") as handle:
        handle.truncate(17 * 2**20)
    status, _, err = run_cli(["run", str(big), "--out", str(tmp_path / "o")], capsys)
    assert_one_line(status, err, "big.yaml", "larger than 16 MiB")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("data", "words"),
    [(b"\xff\xfename: x\n", "not UTF-8"), (b"name: \0x\n", "binary"), (b"[" * 100_000, "")],
)
def test_binary_and_deep_files_are_one_line(
    data: bytes, words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "odd.yaml"
    path.write_bytes(data)
    status, _, err = run_cli(["validate", str(path)], capsys)
    assert_one_line(status, err, "odd.yaml", words)


def test_directory_and_missing_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run_cli(["validate", str(tmp_path)], capsys)
    assert_one_line(status, err, "got a directory")
    status, _, err = run_cli(["validate", str(tmp_path / "nope.yaml")], capsys)
    assert_one_line(status, err, "nope.yaml", "file not found")


def test_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfcnn,layer\n")
    assert read_text(path) == "cnn,layer\n"


def test_every_bound_is_documented() -> None:
    import distsim.fields as fields

    text = (Path(__file__).resolve().parent.parent / "docs" / "scenarios.md").read_text(encoding="utf-8")
    bounds = [name for name in fields.__all__ if name.startswith("MAX_")]
    assert bounds and all(f"(`{name}`" in text for name in bounds), bounds
    assert f"{MAX_REQUESTS:,}" in text and f"{MAX_DEVICES:,}" in text
