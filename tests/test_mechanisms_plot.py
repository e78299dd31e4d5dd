"""``distsim plot --kind mechanisms`` on a small mechanisms sweep."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from distsim.cli import main
from distsim.plots.checks import referee
from distsim.plots.io import make_figure
from tests.conftest import scenario_dict, write_scenario


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mech")
    write_scenario(root / "base.yaml", scenario_dict(workload={"requests": 12, "rate_per_s": 2.0}))
    sweep = {
        "name": "mech",
        "base": "base.yaml",
        "grid": {
            "privacy": [
                {"max_ssim": 0.4, "mechanism": "feature_split"},
                {"max_ssim": 0.8, "mechanism": "feature_split"},
                {"max_ssim": 0.6, "mechanism": "none"},
                {"max_ssim": 0.6, "mechanism": "dp_noise", "params": {"epsilon": 200}},
            ],
            "participants.total": [8, 16],
        },
        "replications": 1,
        "seed": 1,
        "output": {"dir": str(root / "out")},
    }
    (root / "sweep.yaml").write_text(yaml.safe_dump(sweep), encoding="utf-8")
    assert main(["sweep", str(root / "sweep.yaml")]) == 0
    return root / "out"


def test_mechanisms_figure_passes_the_referee_checks(sweep_dir: Path, tmp_path: Path) -> None:
    fig = make_figure("mechanisms", [sweep_dir])
    assert referee(fig) == []
    axes = fig.axes
    assert len(axes) == 3
    # (a) black-box points (feature_split x2, none) per fleet size; (b), (c) dp_noise only.
    assert sum(len(line.get_xdata()) for line in axes[0].lines) == 6
    assert sum(len(line.get_xdata()) for line in axes[1].lines) == 2
    assert all(0 <= x <= 1 for line in axes[0].lines for x in line.get_xdata())
    assert main(["plot", str(sweep_dir), "--kind", "mechanisms", "--out", str(tmp_path), "--format", "png"]) == 0
    assert list(tmp_path.glob("*.png"))


def test_mechanisms_plot_needs_a_privacy_sweep(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path
    write_scenario(root / "base.yaml", scenario_dict(workload={"requests": 4, "rate_per_s": 2.0}))
    sweep = {"name": "p", "base": "base.yaml", "grid": {"participants.total": [8]}, "output": {"dir": str(root / "o")}}
    (root / "s.yaml").write_text(yaml.safe_dump(sweep), encoding="utf-8")
    assert main(["sweep", str(root / "s.yaml")]) == 0
    assert main(["plot", str(root / "o"), "--kind", "mechanisms"]) == 2
    assert "privacy" in capsys.readouterr().err
