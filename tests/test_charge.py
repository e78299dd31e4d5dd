"""The remaining-charge series (charge.csv) and its plot kind (docs/energy.md)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest

from distsim.cli import main
from distsim.plots.checks import referee
from distsim.plots.io import make_figure
from distsim.run import simulate
from tests.conftest import make_world
from tests.test_energy import _idle_only


def test_charge_series_is_exact_on_constant_power(tmp_path: Path) -> None:
    """rpi3 at exactly 1 W from 0.001 Wh: the charge falls linearly to 0 at 3.6 s, sampled every 0.5 s."""
    world = _idle_only(
        0.001,
        workload={"requests": 30, "rate_per_s": 3.0},
        sources=[{"cnn": "lenet"}],
        energy={"batteries": True, "charge_sample_s": 0.5},
    )
    result = simulate(world, out_dir=tmp_path / "run")
    charge = result.charge
    assert charge is not None and len(charge.devices) == 7  # 3 rpi3 + 4 nexus5 participants
    assert charge.at[0] == 0.0 and charge.at[-1] == pytest.approx(result.summary.makespan_s)
    rpi = [k for k, name in enumerate(charge.devices) if world.fleet.types[world.fleet.names.index(name)] == "rpi3"]
    for at, row in zip(charge.at, charge.charge_wh, strict=True):
        for k in rpi:
            assert row[k] == pytest.approx(max(0.0, 0.001 - at / 3600.0), abs=1e-12)
    assert 3.6 in [round(t, 9) for t in charge.at]  # the death instant is a sample
    assert all(b - a <= 0.5 + 1e-9 for a, b in zip(charge.at, charge.at[1:], strict=False))
    # The same series on disk; and sampling does not change the run.
    rows = list(csv.reader(io.StringIO((tmp_path / "run" / "charge.csv").read_text())))
    assert rows[0] == ["at", *charge.devices] and len(rows) == len(charge.at) + 1
    assert float(rows[1][1]) == pytest.approx(charge.charge_wh[0][0])
    # Instants are plain numbers in both files (a battery timer once made fleet.csv print "np.float64(...)").
    fleet_rows = (tmp_path / "run" / "fleet.csv").read_text().splitlines()[1:]
    assert len(fleet_rows) > 1 and all(float(line.split(",")[0]) >= 0 for line in fleet_rows)
    sparse = simulate(
        _idle_only(
            0.001,
            workload={"requests": 30, "rate_per_s": 3.0},
            sources=[{"cnn": "lenet"}],
            energy={"batteries": True, "charge_sample_s": 7.0},
        )
    )
    assert sparse.summary == result.summary


def test_no_charge_file_without_batteries(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    simulate(make_world(workload={"requests": 5, "rate_per_s": 5.0}), out_dir=tmp_path / "run")
    assert not (tmp_path / "run" / "charge.csv").exists()
    status = main(["plot", str(tmp_path / "run"), "--kind", "charge", "--out", str(tmp_path / "fig")])
    err = capsys.readouterr().err.strip()
    assert status == 2 and "charge.csv" in err and len(err.splitlines()) == 1


def test_charge_plot_passes_the_referee(tmp_path: Path) -> None:
    for name, size in (("small", 0.002), ("large", 0.004)):
        world = make_world(
            energy={"batteries": True},
            devices={"rpi3": {"battery_wh": size}, "nexus5": {"battery_wh": size / 2}},
            workload={"requests": 40, "rate_per_s": 4.0},
        )
        simulate(world, out_dir=tmp_path / name)
    fig = make_figure("charge", [tmp_path / "small", tmp_path / "large"])
    assert referee(fig) == []
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines] == [
        f"{run}: {kind} ({n} batteries)" for run in ("small", "large") for kind, n in (("nexus5", 4), ("rpi3", 4))
    ]
    for line in lines:
        # Percent of capacity: starts full, never rises (a battery only drains), stays in [0, 100].
        y = np.asarray(line.get_ydata(), dtype=float)
        assert y[0] == pytest.approx(100.0) and y[-1] < 100.0
        assert (np.diff(y) <= 1e-9).all() and (y >= 0).all()
