"""Baseline decision times beside the DistPrivacy heuristic's (issue 16.3).

For every instance (CNN x fleet, full mesh or a geometric topology, idle or
loaded by half the placements that fit), each of ``distprivacy``, ``random``,
``round_robin`` and ``layerwise`` places the same request on the same view;
each decision is timed as the best of repeats lasting at least ``min_s``
(other processes on a shared machine only ever add time) and reported with
its ratio to DistPrivacy's on that instance. The target: every ratio at most 2.
Run it with ``distsim bench baselines [--quick]``; ``distsim bench perf`` runs
it too and adds its table to ``perf.md``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from distsim.io import write_csv, write_text

SCHEDULERS = ("distprivacy", "random", "round_robin", "layerwise")
#: (cnn, participants, topology range in m or None for a full mesh).
FULL = (
    ("lenet", 100, None),
    ("cifar_cnn", 100, None),
    ("vgg16", 100, None),
    ("vgg19", 100, None),
    ("cifar_cnn", 72, 30.0),
    ("vgg16", 300, None),
)
QUICK = (("lenet", 20, None), ("cifar_cnn", 30, None), ("cifar_cnn", 24, 40.0))


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
) -> list[dict[str, Any]]:
    """One row per (instance, load, scheduler): decision time and its ratio to DistPrivacy's."""
    from distsim.engine.ledger import Ledger
    from distsim.scheduling.base import ClusterView, Placement, Request
    from distsim.scheduling.registry import make_scheduler

    min_s = (0.02 if quick else 0.3) if min_s is None else min_s
    rows: list[dict[str, Any]] = []
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
        for load, view in (("idle", ClusterView.idle(world)), ("loaded", ledger.view())):
            times: dict[str, float] = {}
            for name in SCHEDULERS:
                scheduler = make_scheduler(name, {}, world, np.random.default_rng(0))
                decision = scheduler.place(request, view)
                times[name] = _best(partial(scheduler.place, request, view), min_s)
                rows.append(
                    {
                        "cnn": cnn,
                        "participants": d,
                        "network": "full" if range_m is None else f"geometric {range_m:g} m",
                        "load": load,
                        "scheduler": name,
                        "outcome": "placed" if isinstance(decision, Placement) else f"rejected ({decision.reason})",
                        "decision_ms": times[name] * 1e3,
                        "ratio_to_distprivacy": times[name] / times["distprivacy"],
                    }
                )
            progress(
                f"baselines {cnn:9s} D={d:<4d} {rows[-1]['network']:15s} {load:6s} "
                + "  ".join(f"{n} {t * 1e3:.2f} ms" for n, t in times.items())
            )
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table (one line per instance, one column per scheduler)."""
    head = "| CNN | D | network | load | " + " | ".join(f"{n} ms (x)" for n in SCHEDULERS) + " |"
    lines = [head, "|" + "---|" * (4 + len(SCHEDULERS))]
    keys: dict[tuple[Any, ...], dict[str, dict[str, Any]]] = {}
    for row in rows:
        keys.setdefault((row["cnn"], row["participants"], row["network"], row["load"]), {})[row["scheduler"]] = row
    for (cnn, d, network, load), by in keys.items():
        cells = [f"{by[n]['decision_ms']:.2f} ({by[n]['ratio_to_distprivacy']:.2f})" for n in SCHEDULERS]
        lines.append(f"| {cnn} | {d} | {network} | {load} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def run(out: Path, *, quick: bool = False, progress: Callable[[str], None] = print) -> Path:
    """Measure, write ``baselines.csv`` and ``baselines.md`` into ``out``; return the Markdown path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = measure_baseline_decisions(quick, progress)
    write_csv(out / "baselines.csv", list(rows[0]), rows)
    write_text(out / "baselines.md", markdown(rows))
    return out / "baselines.md"
