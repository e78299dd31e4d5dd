"""distsim/benchmarks/timing_divergence.py, run small: the CSV, the figure and the replot path.

The benchmark itself sweeps the paper scenario over six rates (minutes); here
it runs one rate, one seed and a handful of requests, which is enough to check
what it writes and one property it relies on: a request alone takes the same
time in ``analytic`` and ``contention`` timing (docs/timing-models.md).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from distsim.benchmarks import timing_divergence

ROOT = Path(__file__).resolve().parent.parent


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_one_request_takes_the_same_time_in_both_modes_and_the_figure_is_written(tmp_path: Path) -> None:
    out = tmp_path / "out"
    figure = tmp_path / "fig.png"
    argv = ["--scenario", str(ROOT / "scenarios/paper.yaml"), "--rates", "1", "--seeds", "1", "--requests", "1"]
    assert timing_divergence.main([*argv, "--out", str(out), "--figure", str(figure)]) == 0
    rows = _rows(out / "timing_divergence.csv")
    assert [r["timing"] for r in rows] == ["analytic", "contention"]
    assert list(rows[0]) == [f.name for f in timing_divergence.fields(timing_divergence.Row)]
    analytic, contention = (float(r["latency_mean_s"]) for r in rows)
    assert math.isclose(analytic, contention, rel_tol=1e-9) and analytic > 0
    assert all(float(r["wait_mean_s"]) == 0.0 for r in rows)  # nobody else to wait behind
    assert figure.read_bytes().startswith(b"\x89PNG")

    figure.unlink()
    assert timing_divergence.main(["--out", str(out), "--figure", str(figure), "--replot"]) == 0
    assert figure.read_bytes().startswith(b"\x89PNG")
