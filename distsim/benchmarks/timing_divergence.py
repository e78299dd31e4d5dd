"""How far ``analytic`` and ``contention`` latency diverge as load grows (docs/timing-models.md).

Runs the paper scenario (``scenarios/paper.yaml``) at several arrival rates in
both timing modes, a few seeds each, and writes ``timing_divergence.csv`` (one
row per run) plus a figure of mean latency and its split (retry queueing,
waiting behind other requests, service) against the rate. Requests are
shortened (``--requests``, default 160 instead of 320) to keep the sweep in
minutes; every other setting is the paper's.

    .venv/bin/distsim bench timing --out results/timing_divergence    # the suite (also --quick)
    .venv/bin/python -m distsim.benchmarks.timing_divergence --out results/timing_divergence \\
        --figure docs/figures/timing_divergence.png                   # with every option
"""

from __future__ import annotations

import argparse
import csv
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from distsim.io import csv_text, write_text
from distsim.run import simulate
from distsim.scenario import Scenario, load_scenario

RATES = (0.5, 1.0, 2.0, 3.0, 4.0, 6.0)


@dataclass(frozen=True, slots=True)
class Row:
    """One run.

    Attributes:
        timing: ``analytic`` or ``contention``.
        rate_per_s: arrival rate, requests per second.
        seed: run seed.
        requests: requests that arrived.
        served: requests served.
        latency_mean_s: mean latency of served requests, s.
        latency_p95_s: 95th percentile latency, s.
        queue_mean_s: mean time spent rejected and retried before placement, s.
        wait_mean_s: mean time queued behind other requests' work on CPUs and radios, s.
        service_mean_s: mean time from placement to completion, s.
        rejection_rate: share of requests rejected at their first attempt.
        wall_s: wall-clock time of the run, s.
    """

    timing: str
    rate_per_s: float
    seed: int
    requests: int
    served: int
    latency_mean_s: float
    latency_p95_s: float
    queue_mean_s: float
    wait_mean_s: float
    service_mean_s: float
    rejection_rate: float
    wall_s: float


def variant(base: Scenario, timing: str, rate: float, requests: int) -> Scenario:
    """``base`` with another timing mode, arrival rate and request count."""
    return base.model_copy(
        update={
            "simulation": base.simulation.model_copy(update={"timing": timing}),
            "workload": base.workload.model_copy(update={"rate_per_s": rate, "requests": requests}),
        }
    )


def run_one(base: Scenario, timing: str, rate: float, seed: int, requests: int) -> Row:
    """Simulate one point and reduce its records."""
    started = time.perf_counter()
    result = simulate(variant(base, timing, rate, requests), seed=seed)
    wall = time.perf_counter() - started
    assert result.records is not None
    served = [r for r in result.records if not r.dropped]
    s = result.summary

    def mean(values: list[float]) -> float:
        return float(np.mean(values)) if values else math.nan

    return Row(
        timing,
        rate,
        seed,
        s.requests,
        s.served,
        s.latency_mean_s,
        s.latency_p95_s,
        s.queue_mean_s,
        mean([r.wait_s for r in served]),
        mean([r.finish_at - r.start_at - r.wait_s for r in served]),
        s.rejection_rate,
        wall,
    )


def figure(rows: list[Row]) -> Figure:
    """Mean latency vs rate per mode (left), and the latency split (right): distsim.plots.bench draws it."""
    from distsim.plots.bench import timing_divergence_figure

    return timing_divergence_figure(rows)


def rows_csv(rows: list[Row]) -> str:
    return csv_text([f.name for f in fields(Row)], (astuple(row) for row in rows))


def measure(
    base: Scenario, rates: Sequence[float], seeds: int, requests: int, progress: Callable[[str], None] = print
) -> list[Row]:
    """Every rate x timing mode x seed (seeds 1..``seeds``), in that order."""
    rows = []
    for rate in rates:
        for timing in ("analytic", "contention"):
            for seed in range(1, seeds + 1):
                row = run_one(base, timing, rate, seed, requests)
                rows.append(row)
                progress(
                    f"{timing:<10} rate {rate:>4g} seed {seed}: latency {row.latency_mean_s:8.3f} s "
                    f"(queue {row.queue_mean_s:.3f}, wait {row.wait_mean_s:.3f}, service {row.service_mean_s:.3f})"
                    f" served {row.served}/{row.requests}  [{row.wall_s:.1f} s]"
                )
    return rows


def run(out: Path, *, quick: bool = False, progress: Callable[[str], None] = print) -> Path:
    """The ``distsim bench timing`` suite on the packaged paper scenario; returns the CSV path.

    Full: every rate of :data:`RATES`, 3 seeds, 160 requests; quick: rates 1
    and 4, one seed, 30 requests.
    """
    from distsim.benchmarks import packaged_scenario

    base = load_scenario(packaged_scenario("paper"))
    rates, seeds, requests = ((1.0, 4.0), 1, 30) if quick else (RATES, 3, 160)
    rows = measure(base, rates, seeds, requests, progress)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "timing_divergence.csv", rows_csv(rows))
    save_figure(rows, out / "timing_divergence.png")
    return out / "timing_divergence.csv"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default=None, help="scenario file (default: the packaged scenarios/paper.yaml)")
    parser.add_argument("--rates", type=float, nargs="+", default=list(RATES))
    parser.add_argument("--seeds", type=int, default=3, help="replications per point (seeds 1..N)")
    parser.add_argument("--requests", type=int, default=160)
    parser.add_argument("--out", default="results/timing_divergence", help="directory of the CSV")
    parser.add_argument("--figure", default=None, help="figure path (default: <out>/timing_divergence.png)")
    parser.add_argument("--replot", action="store_true", help="redraw the figure from <out>/timing_divergence.csv")
    args = parser.parse_args(argv)
    out = Path(args.out)
    target = Path(args.figure) if args.figure else out / "timing_divergence.png"
    if args.replot:
        with open(out / "timing_divergence.csv", newline="", encoding="utf-8") as handle:
            types = {f.name: f.type for f in fields(Row)}

            def typed(key: str, text: str) -> Any:
                # Row's annotations are strings (``from __future__ import annotations``).
                return text if types[key] == "str" else int(text) if types[key] == "int" else float(text)

            rows = [Row(**{k: typed(k, v) for k, v in record.items()}) for record in csv.DictReader(handle)]
        save_figure(rows, target)
        return 0
    from distsim.benchmarks import packaged_scenario

    base = load_scenario(args.scenario or packaged_scenario("paper"))
    rows = measure(base, args.rates, args.seeds, args.requests, lambda line: print(line, flush=True))
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "timing_divergence.csv", rows_csv(rows))
    save_figure(rows, target)
    print(f"wrote {out / 'timing_divergence.csv'} and {target}")
    return 0


def save_figure(rows: list[Row], target: Path) -> None:
    """Draw :func:`figure` into ``target`` (PDF, SVG or PNG from the suffix; written aside, then moved)."""
    from distsim.plots.style import FigureOptions, save_one

    save_one(figure(rows), target, FigureOptions(dpi=200))


if __name__ == "__main__":
    raise SystemExit(main())
