"""Baseline decision times beside the DistPrivacy heuristic's (issue 16.3).

Two measurements, every timing read against the other schedulers' in the same
run (the machine may be shared: each row carries the load average):

* **Decisions.** For every instance (CNN x fleet, full mesh or a geometric
  topology, idle or loaded by half the placements that fit), each of
  :data:`SCHEDULERS` places the same request on the same view, on the
  compiled path and on the pure-Python path (``DISTSIM_KERNEL``, see
  :mod:`distsim.model.compiled`); each decision is timed as the best of
  repeats lasting at least ``min_s`` (other processes only ever add time) and
  reported with its ratio to DistPrivacy's on that instance and path. The
  target: every ratio at most 2.
* **Runs.** ``distsim run scenarios/paper.yaml`` with ``distprivacy`` and
  with ``random``, each in a fresh process with the default kernel switch,
  alternately; the best wall time of each and the ratio (target: at most 2).

Run it with ``distsim bench baselines [--quick]``; ``distsim bench perf`` adds
the decision table to ``perf.md``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from distsim.io import write_csv, write_text

SCHEDULERS = ("distprivacy", "random", "round_robin", "layerwise", "minmax")
#: The paths timed: compiled kernels (from the first call) and pure Python.
KERNELS = ("numba", "python")
#: (cnn, participants, topology range in m or None for a full mesh).
FULL = (
    ("lenet", 100, None),
    ("cifar_cnn", 100, None),
    ("vgg16", 100, None),
    ("vgg19", 100, None),
    ("vgg16", 300, None),
    ("cifar_cnn", 72, 30.0),
    ("lenet", 100, 30.0),
    ("vgg16", 100, 40.0),
)
QUICK = (("lenet", 20, None), ("cifar_cnn", 30, None), ("cifar_cnn", 24, 40.0))


def _load() -> str:
    """The 1, 5 and 15 minute load averages."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return " ".join(f"{x:.2f}" for x in load)


def _world(cnn: str, participants: int, range_m: float | None) -> Any:
    from distsim.scenario import scenario_from_dict
    from distsim.world import build_world

    spec: dict[str, Any] = {
        "name": "baselines",
        "sources": [{"cnn": cnn, "count": 4}],
        "participants": {"total": participants},
        "workload": {"requests": 1, "rate_per_s": 1.0},
        "privacy": {"max_ssim": 0.6},
    }
    if range_m is not None:
        spec["network"] = {"topology": "geometric", "range_m": range_m, "area_m": 100.0, "seed": 1}
    return build_world(scenario_from_dict(spec))


def _best(place: Callable[[], Any], min_s: float) -> float:
    times: list[float] = []
    while len(times) < 3 or sum(times) < min_s:
        start = time.perf_counter()
        place()
        times.append(time.perf_counter() - start)
    return min(times)


def measure_baseline_decisions(
    quick: bool,
    progress: Callable[[str], None] = print,
    instances: tuple[tuple[str, int, float | None], ...] | None = None,
    min_s: float | None = None,
    kernels: Sequence[str] = KERNELS,
) -> list[dict[str, Any]]:
    """One row per (instance, load, kernel path, scheduler): decision time (ms) and its ratio to DistPrivacy's."""
    from distsim.engine.ledger import Ledger
    from distsim.model import compiled
    from distsim.scheduling.base import ClusterView, Placement, Request
    from distsim.scheduling.registry import make_scheduler

    min_s = (0.02 if quick else 0.3) if min_s is None else min_s
    rows: list[dict[str, Any]] = []
    before = compiled.kernel_mode()
    try:
        for cnn, d, range_m in instances or (QUICK if quick else FULL):
            world = _world(cnn, d, range_m)
            request = Request(0, world.fleet.size - 1, cnn, 0.0)
            heuristic = make_scheduler("distprivacy", {}, world, np.random.default_rng(0))
            ledger = Ledger(world)
            held = []
            for k, source in enumerate(list(world.fleet.sources)[:-1] * 4):
                decision = heuristic.place(Request(k + 1, source, cnn, 0.0), ledger.view())
                if isinstance(decision, Placement):
                    ledger.reserve(decision.cost)
                    held.append(decision)
            for placement in held[: len(held) // 2]:
                ledger.release(placement.cost)
            network = "full" if range_m is None else f"geometric {range_m:g} m"
            for load, view in (("idle", ClusterView.idle(world)), ("loaded", ledger.view())):
                for kernel in kernels:
                    compiled.set_kernel(kernel)
                    times: dict[str, float] = {}
                    for name in SCHEDULERS:
                        scheduler = make_scheduler(name, {}, world, np.random.default_rng(0))
                        decision = scheduler.place(request, view)
                        times[name] = _best(partial(scheduler.place, request, view), min_s)
                        rows.append(
                            {
                                "cnn": cnn,
                                "participants": d,
                                "network": network,
                                "load": load,
                                "kernel": kernel,
                                "scheduler": name,
                                "outcome": "placed"
                                if isinstance(decision, Placement)
                                else f"rejected ({decision.reason})",
                                "decision_ms": times[name] * 1e3,
                                "ratio_to_distprivacy": times[name] / times["distprivacy"],
                                "load_average": _load(),
                            }
                        )
                    progress(
                        f"baselines {cnn:9s} D={d:<4d} {network:15s} {load:6s} {kernel:6s} "
                        + "  ".join(f"{n} {t * 1e3:.2f} ms" for n, t in times.items())
                    )
    finally:
        compiled.set_kernel(before)
    return rows


def _distsim_run(scenario: Path, scheduler: str, out: Path, sets: Sequence[str]) -> float:
    """Wall seconds of ``distsim run SCENARIO`` with ``scheduler`` in a fresh process (default kernel switch)."""
    command = [sys.executable, "-m", "distsim", "-q", "run", str(scenario), "--out", str(out), "--no-progress"]
    command += ["--set", f"scheduler.name={scheduler}"]
    if scheduler != "distprivacy":
        command += ["--set", "scheduler.params={}"]
    for item in sets:
        command += ["--set", item]
    env = {k: v for k, v in os.environ.items() if k != "DISTSIM_KERNEL"}
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL, timeout=1800)
    return time.perf_counter() - start


def measure_paper_runs(
    repeats: int,
    progress: Callable[[str], None] = print,
    scenario: Path | None = None,
    sets: Sequence[str] = (),
    runner: Callable[[Path, str, Path, Sequence[str]], float] = _distsim_run,
) -> list[dict[str, Any]]:
    """``distsim run`` of ``scenario`` (default: the packaged paper.yaml) with ``distprivacy`` and ``random``,
    alternately ``repeats`` times each; one row per scheduler: best and median wall s, ratio to distprivacy's."""
    from distsim.benchmarks import packaged_scenario

    path = scenario or packaged_scenario("paper")
    walls: dict[str, list[float]] = {"distprivacy": [], "random": []}
    loads: list[str] = [_load()]
    with tempfile.TemporaryDirectory(prefix="distsim-bench-") as tmp:
        for k in range(repeats):
            for name in walls:
                walls[name].append(runner(path, name, Path(tmp) / f"{name}-{k}", sets))
                progress(f"baselines run {path.name} {name}: {walls[name][-1]:.2f} s")
    loads.append(_load())
    best = {name: min(times) for name, times in walls.items()}
    return [
        {
            "scenario": path.name,
            "scheduler": name,
            "runs": len(times),
            "best_s": best[name],
            "median_s": float(np.median(times)),
            "ratio_to_distprivacy": best[name] / best["distprivacy"],
            "load_average": " -> ".join(loads),
        }
        for name, times in walls.items()
    ]


def markdown(rows: list[dict[str, Any]], runs: list[dict[str, Any]] | None = None) -> str:
    """The rows as Markdown tables (one line per instance and path, one column per scheduler; then the runs)."""
    head = "| CNN | D | network | load | path | " + " | ".join(f"{n} ms (x)" for n in SCHEDULERS) + " |"
    lines = [head, "|" + "---|" * (5 + len(SCHEDULERS))] if rows else []
    keys: dict[tuple[Any, ...], dict[str, dict[str, Any]]] = {}
    for row in rows:
        key = (row["cnn"], row["participants"], row["network"], row["load"], row["kernel"])
        keys.setdefault(key, {})[row["scheduler"]] = row
    rejected: dict[str, set[str]] = {}
    for (cnn, d, network, load, kernel), by in keys.items():
        cells = []
        for n in SCHEDULERS:
            mark = ""
            if by[n]["outcome"] != "placed":  # a rejection costs less than a placement: say which cells are
                mark = " R"
                rejected.setdefault(n, set()).add(str(by[n]["outcome"]).removeprefix("rejected (").rstrip(")"))
            cells.append(f"{float(by[n]['decision_ms']):.3f} ({float(by[n]['ratio_to_distprivacy']):.2f}){mark}")
        lines.append(f"| {cnn} | {d} | {network} | {load} | {kernel} | " + " | ".join(cells) + " |")
    if rows:
        lines.append("\nms: best decision time; (x): ratio to distprivacy's on the same instance and path.")
        if rejected:
            why = "; ".join(f"{n}: {', '.join(sorted(reasons))}" for n, reasons in rejected.items())
            lines.append(f"R: the decision is a rejection ({why}).")
        lines.append(f"Load average (1, 5, 15 min) at the last row: {rows[-1]['load_average']}.")
    if runs:
        lines += ["", "| run | scheduler | runs | best s | median s | x distprivacy |", "|---|---|---|---|---|---|"]
        for run in runs:
            lines.append(
                f"| distsim run {run['scenario']} | {run['scheduler']} | {run['runs']} | {run['best_s']:.2f} | "
                f"{run['median_s']:.2f} | {run['ratio_to_distprivacy']:.2f} |"
            )
        lines.append(f"\nLoad average during the runs: {runs[0]['load_average']}.")
    return "\n".join(lines) + "\n"


def run(out: Path, *, quick: bool = False, progress: Callable[[str], None] = print) -> Path:
    """Measure, write ``baselines.csv``, ``baselines_runs.csv`` and ``baselines.md`` into ``out``; return the
    Markdown path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = measure_baseline_decisions(quick, progress)
    runs = measure_paper_runs(1 if quick else 3, progress)
    write_csv(out / "baselines.csv", list(rows[0]), rows)
    write_csv(out / "baselines_runs.csv", list(runs[0]), runs)
    write_text(out / "baselines.md", markdown(rows, runs))
    return out / "baselines.md"
