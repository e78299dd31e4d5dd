"""The benchmark suites ship in the package and every spelling of the command offers the same ones."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from setuptools import find_packages

from distsim.benchmarks import SUITES, packaged_scenario
from distsim.benchmarks import timing_divergence as timing
from distsim.cli import build_parser
from tests.conftest import ROOT


def _choices(argv: list[str]) -> str:
    out = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, check=True).stdout
    return out.split("{", 1)[1].split("}", 1)[0]


def test_every_spelling_offers_the_same_suites() -> None:
    expected = ",".join(sorted(SUITES))
    assert _choices([sys.executable, "-m", "distsim", "bench", "--help"]) == expected
    assert _choices([sys.executable, "-m", "distsim.benchmarks", "--help"]) == expected
    assert _choices([sys.executable, "-m", "benchmarks", "--help"]) == expected
    assert {"perf", "schedulers", "timing"} <= set(SUITES)


def test_the_wheel_has_no_top_level_benchmarks_package() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    packages = find_packages(str(ROOT), include=config["packages"]["find"]["include"])
    assert "distsim.benchmarks" in packages
    assert not [name for name in packages if name.split(".")[0] != "distsim"], packages
    assert "data/scenarios/*.yaml" in config["package-data"]["distsim"]


@pytest.mark.parametrize("name", ["paper", "quickstart"])
def test_packaged_scenarios_are_the_repository_ones(name: str) -> None:
    assert packaged_scenario(name).read_bytes() == (ROOT / "scenarios" / f"{name}.yaml").read_bytes()


def test_unknown_suite_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["bench", "nope"])
    assert exc.value.code == 2
    assert "invalid choice: 'nope'" in capsys.readouterr().err


def test_timing_suite_measures_both_modes(tmp_path: Path) -> None:
    from distsim.scenario import load_scenario

    rows = timing.measure(load_scenario(packaged_scenario("quickstart")), (2.0,), 1, 8, progress=lambda line: None)
    assert [row.timing for row in rows] == ["analytic", "contention"]
    assert all(row.served <= row.requests == 8 for row in rows)
    timing.save_figure(rows, tmp_path / "t.png")
    assert (tmp_path / "t.png").stat().st_size > 0
