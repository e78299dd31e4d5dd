"""Seeded golden runs: the shipped scenarios reproduce their recorded summaries exactly.

A change that moves these numbers changes the model's behaviour: if it is
intended, regenerate the files (see the docstring of ``regenerate``) and say so
in the commit message.
"""

from __future__ import annotations

import json

import pytest

from distsim import load_scenario, simulate
from distsim.run import summary_json
from tests.conftest import ROOT


def regenerate() -> None:
    """``python -c 'from tests.test_golden import regenerate; regenerate()'`` rewrites the golden files."""
    for name in ("quickstart", "paper"):
        result = simulate(load_scenario(ROOT / "scenarios" / f"{name}.yaml"))
        (ROOT / "tests" / "golden" / f"{name}_summary.json").write_text(summary_json(result.summary))


@pytest.mark.parametrize("name", ["quickstart", "paper"])
def test_golden_summary(name: str, kernel: str) -> None:
    expected = json.loads((ROOT / "tests" / "golden" / f"{name}_summary.json").read_text())
    result = simulate(load_scenario(ROOT / "scenarios" / f"{name}.yaml"))
    assert json.loads(summary_json(result.summary)) == expected


def test_paper_run_shape() -> None:
    expected = json.loads((ROOT / "tests" / "golden" / "paper_summary.json").read_text())
    assert expected["requests"] == 320 and expected["participants"] == 100
    assert expected["served"] + expected["dropped"] == 320
