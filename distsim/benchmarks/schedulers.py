"""Scheduler benchmark: every scheduler against the CP-SAT optimum (``distsim bench schedulers``).

The suite (see ``docs/schedulers.md``) places one request of a CNN on an idle
fleet of ``D`` participants whose device types are drawn uniformly from the
catalogue with a seed, at each tolerated SSIM ``tau``, with every scheduler,
and compares each placement's latency with the CP-SAT solution: the gap to the
optimum where CP-SAT proves it, else the gap to CP-SAT's best lower bound (an
upper bound of the true gap). Every placement passes the shared validator.
It also runs the batch target (60 LeNet requests over 30 participants placed
jointly) and times the per-request target (one LeNet request on 30
participants at tau = 0.4, both seeds, five runs each). Results:
``schedulers.csv`` (one row per instance and scheduler), ``batch.csv``,
``target.csv``, ``schedulers.md`` (tables) and ``schedulers.png``, written
atomically into the output directory.
"""

from __future__ import annotations

import math
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import astuple, dataclass, fields
from pathlib import Path

import numpy as np

from distsim.io import atomic_path, csv_text, write_text
from distsim.scenario import Scenario
from distsim.scheduling.base import ClusterView, Placement, Request
from distsim.scheduling.exact import ExactParams, solve_batch, solve_request
from distsim.scheduling.registry import make_scheduler
from distsim.scheduling.validate import check_placement, validation_flags
from distsim.world import World, build_world

#: Schedulers compared with CP-SAT, in table order.
#: ``policy`` without a file runs the paper's weights: the cross-entropy learner found none better
#: (docs/schedulers.md); pass a learned file through ``run_instance(..., schedulers=...)`` to compare.
SCHEDULERS = ("distprivacy", "no_privacy", "random", "round_robin", "layerwise", "source_only", "minmax", "policy")
DEVICE_TYPES = ("nexus5", "rpi3", "stm32h7")
TAUS = (0.4, 0.6, 0.8)


@dataclass(frozen=True, slots=True)
class Instance:
    """One benchmark instance: a request of ``cnn`` on ``participants`` random devices at ``tau``."""

    cnn: str
    participants: int
    tau: float
    seed: int


@dataclass(frozen=True, slots=True)
class Row:
    """One scheduler on one instance.

    Attributes:
        cnn, participants, tau, seed: the instance.
        scheduler: scheduler name (``exact`` is CP-SAT).
        status: ``heuristic`` / ``optimal`` / ``feasible`` for a placement, else ``rejected``.
        reason: the rejection's ``constraint@layer`` ('' when placed).
        latency_s: Eq. 5 latency of the placement, s (NaN when rejected).
        gap_opt: ``latency / optimum - 1`` where CP-SAT proved the optimum, else NaN.
        gap_bound: ``latency / (CP-SAT lower bound - E) - 1`` (an upper bound of the gap), NaN if unknown.
        shared_bytes: bytes exchanged between distinct devices.
        devices_used: distinct devices computing a segment.
        decision_s: wall-clock time of ``place``, s.
        exact_bound_s: proved lower bound of the true optimum (CP-SAT's bound minus E), s (NaN if none).
        rounding_bound_s: CP-SAT's rounding bound E on this instance, s.
        exact_build_s: part of CP-SAT's decision time spent building the model, bounds and hints, s.
        exact_by_bounds: True when a hint met the per-layer lower bounds (optimality without search).
        exact_gap: CP-SAT's own relative gap (model objective vs model bound, both in rounded units,
            so without E); 0 when optimal, NaN if no solution.
    """

    cnn: str
    participants: int
    tau: float
    seed: int
    scheduler: str
    status: str
    reason: str
    latency_s: float
    gap_opt: float
    gap_bound: float
    shared_bytes: int
    devices_used: int
    decision_s: float
    exact_bound_s: float
    rounding_bound_s: float
    exact_build_s: float
    exact_by_bounds: bool
    exact_gap: float


@dataclass(frozen=True, slots=True)
class BatchRow:
    """The batch target: ``requests`` LeNet requests placed jointly.

    Attributes:
        cnn, participants, tau, requests: the batch.
        status: CP-SAT status of the joint solve.
        total_latency_s: sum of the placed latencies (cost model), s.
        bound_s: CP-SAT's lower bound of the sum, s.
        gap: relative gap of the joint solve.
        placed: requests placed.
        wall_s: wall-clock time including the single-request bounds, s.
        heuristic_total_s: sum of latencies when DistPrivacy places them one after another, s.
        squeeze: devices the single optimum uses keep this many times its compute (0: idle fleet).
        binding: True when the single-request optima do not fit the shared budgets together.
        sequential_total_s: sum of latencies of the exact optima placed one after another, s
            (NaN when not binding).
        joint_gain: ``1 - total_latency_s / sequential_total_s`` (how much the joint solve beats
            the sequential optima; NaN when not binding).
    """

    cnn: str
    participants: int
    tau: float
    requests: int
    status: str
    total_latency_s: float
    bound_s: float
    gap: float
    placed: int
    wall_s: float
    heuristic_total_s: float
    squeeze: float = 0.0
    binding: bool = False
    sequential_total_s: float = math.nan
    joint_gain: float = math.nan


@dataclass(frozen=True, slots=True)
class TargetRow:
    """One timed CP-SAT solve of the per-request target (LeNet, 30 participants, tau = 0.4).

    Attributes:
        seed: instance seed (device types drawn with it).
        repeat: 0-based repetition.
        status: CP-SAT status.
        wall_s: wall-clock time of ``solve_request``, s (pre-check, model, bounds, hints and solve).
        build_s: part of ``wall_s`` before CP-SAT's solve, s.
        by_bounds: True when the hint met the per-layer lower bounds (no search).
        latency_s: cost-model latency of the placement, s.
    """

    seed: int
    repeat: int
    status: str
    wall_s: float
    build_s: float
    by_bounds: bool
    latency_s: float


@dataclass(frozen=True, slots=True)
class ScaleRow:
    """One solve of a target at scale (CIFAR with 30 participants, VGG-16 with 100).

    Attributes:
        cnn, participants, tau: the instance (seed 0, idle fleet, as in the suite).
        limit_s: ``time_limit_s`` of the solve, s.
        status: ``optimal`` (proved) or ``feasible``.
        latency_s: cost-model latency of the placement, s.
        bound_s: proved lower bound of the true optimum (CP-SAT's bound minus E), s.
        gap: ``1 - bound_s / latency_s``.
        wall_s: wall-clock time of ``solve_request``, s.
        build_s: part of ``wall_s`` before the search (pre-check, hints, model), s.
        model_s: building the class model alone, s (0 when the per-device model decided).
        variables: variables of the model that decided.
    """

    cnn: str
    participants: int
    tau: float
    limit_s: float
    status: str
    latency_s: float
    bound_s: float
    gap: float
    wall_s: float
    build_s: float
    model_s: float
    variables: int


def run_scale(quick: bool) -> list[ScaleRow]:
    """The targets at scale: CIFAR/30 at tau 0.4 and 0.6 (10 s), VGG-16/100 at tau 0.6 (60 s)."""
    cases = [("cifar_cnn", 30, 0.4, 10.0), ("cifar_cnn", 30, 0.6, 10.0), ("vgg16", 100, 0.6, 60.0)]
    if quick:
        cases = [("cifar_cnn", 10, 0.6, 2.0)]
    rows = []
    for cnn, d, tau, limit in cases:
        world = make_world(cnn, d, tau, 0)
        request = Request(0, world.fleet.participants, cnn, 0.0)
        started = time.perf_counter()
        decision, report = solve_request(request, ClusterView.idle(world), world, ExactParams(time_limit_s=limit))
        wall = time.perf_counter() - started
        latency = decision.cost.latency_s if isinstance(decision, Placement) else math.nan
        bound = report.bound_s - report.rounding_bound_s
        gap = 1.0 - bound / latency if latency > 0 and math.isfinite(bound) else math.nan
        rows.append(
            ScaleRow(
                cnn,
                d,
                tau,
                limit,
                report.status,
                latency,
                bound,
                gap,
                wall,
                report.build_s,
                report.model_s,
                report.variables,
            )
        )
    return rows


def run_target(exact: ExactParams, repeats: int, seeds: Sequence[int] = (0, 1)) -> list[TargetRow]:
    """Time the per-request target ``repeats`` times per seed."""
    rows = []
    for seed in seeds:
        world = make_world("lenet", 30, 0.4, seed)
        view = ClusterView.idle(world)
        request = Request(0, world.fleet.participants, "lenet", 0.0)
        for k in range(repeats):
            started = time.perf_counter()
            decision, report = solve_request(request, view, world, exact)
            wall = time.perf_counter() - started
            latency = decision.cost.latency_s if isinstance(decision, Placement) else math.nan
            rows.append(TargetRow(seed, k, report.status, wall, report.build_s, report.by_bounds, latency))
    return rows


def make_world(cnn: str, participants: int, tau: float, seed: int) -> World:
    """A world with one source of ``cnn`` and ``participants`` devices of types drawn uniformly with ``seed``."""
    rng = np.random.default_rng(seed)
    drawn = rng.choice(len(DEVICE_TYPES), size=participants)
    counts = np.bincount(drawn, minlength=len(DEVICE_TYPES))
    groups = [{"type": t, "count": int(k)} for t, k in zip(DEVICE_TYPES, counts, strict=True) if k]
    scenario = Scenario.model_validate(
        {
            "name": f"bench-{cnn}-{participants}-{tau}-{seed}",
            "sources": [{"cnn": cnn}],
            "participants": {"groups": groups},
            "workload": {"requests": 1, "rate_per_s": 1.0},
            "privacy": {"max_ssim": tau},
        }
    )
    return build_world(scenario)


def suite(quick: bool = False) -> list[Instance]:
    """The instances: LeNet and CIFAR with 5-30 participants, VGG-16 with 30-100, VGG-19 with 100; each tau."""
    if quick:
        return [Instance("lenet", d, tau, 0) for d in (5, 10) for tau in (0.4, 0.8)]
    out = [Instance("lenet", d, tau, seed) for d in (5, 10, 20, 30) for tau in TAUS for seed in (0, 1)]
    out += [Instance("cifar_cnn", d, tau, 0) for d in (5, 10, 20, 30) for tau in TAUS]
    out += [Instance("vgg16", d, tau, 0) for d in (30, 100) for tau in TAUS]
    out += [Instance("vgg19", 100, tau, 0) for tau in TAUS]
    return out


def _gap(latency: float, reference: float) -> float:
    if not (math.isfinite(latency) and math.isfinite(reference)) or reference <= 0:
        return math.nan
    return latency / reference - 1.0


def run_instance(instance: Instance, exact: ExactParams, schedulers: Sequence[str] = SCHEDULERS) -> list[Row]:
    """Every scheduler and CP-SAT on one instance; placements are validated."""
    world = make_world(instance.cnn, instance.participants, instance.tau, instance.seed)
    view = ClusterView.idle(world)
    request = Request(0, world.fleet.participants, instance.cnn, 0.0)
    started = time.perf_counter()
    decision, report = solve_request(request, view, world, exact)
    exact_s = time.perf_counter() - started
    optimum = decision.cost.latency_s if isinstance(decision, Placement) and report.status == "optimal" else math.nan
    # The true optimum is at least the model's bound minus the rounding bound E.
    bound = report.bound_s - report.rounding_bound_s
    rows = []
    results = [("exact", decision, exact_s)]
    for k, name in enumerate(schedulers):
        scheduler = make_scheduler(name, {}, world, np.random.default_rng([instance.seed, k]))
        started = time.perf_counter()
        placed = scheduler.place(request, view)
        results.append((name, placed, time.perf_counter() - started))
    for name, placed, seconds in results:
        if isinstance(placed, Placement):
            flags = validation_flags(make_scheduler(name, {}, world, np.random.default_rng(0)))
            check_placement(placed, request, view, **flags)
            latency = placed.cost.latency_s
            rows.append(
                Row(
                    instance.cnn,
                    instance.participants,
                    instance.tau,
                    instance.seed,
                    name,
                    placed.status,
                    "",
                    latency,
                    _gap(latency, optimum),
                    _gap(latency, bound),
                    placed.cost.shared_bytes,
                    placed.cost.devices_used,
                    seconds,
                    bound,
                    report.rounding_bound_s,
                    report.build_s,
                    report.by_bounds,
                    report.gap,
                )
            )
        else:
            nan = math.nan
            rows.append(
                Row(
                    instance.cnn,
                    instance.participants,
                    instance.tau,
                    instance.seed,
                    name,
                    "rejected",
                    placed.reason,
                    nan,
                    nan,
                    nan,
                    0,
                    0,
                    seconds,
                    bound,
                    report.rounding_bound_s,
                    report.build_s,
                    report.by_bounds,
                    report.gap,
                )
            )
    return rows


def run_batch(
    requests: int, participants: int, tau: float, exact: ExactParams, seed: int = 0, squeeze: float = 0.0
) -> BatchRow:
    """Place ``requests`` LeNet requests (two cameras) jointly on ``participants`` devices.

    With ``squeeze > 0`` the shared budgets bind: every participant the single
    request's optimum uses keeps only ``squeeze * requests / 2`` times the
    compute that optimum puts on it (the others keep their budgets), so the
    requests cannot all have their single optima.
    """
    world = make_world("lenet", participants, tau, seed)
    world = _with_sources(world, 2)
    d = world.fleet.participants
    batch = [Request(k, d + k % 2, "lenet", 0.0) for k in range(requests)]
    view = ClusterView.idle(world)
    if squeeze > 0:
        single, _ = solve_request(batch[0], view, world, exact)
        if isinstance(single, Placement):
            used = single.cost.compute_mults[:d]
            comp = world.fleet.compute_budget_mults.copy()
            keep = (used * squeeze * max(requests / 2, 1)).astype(np.int64)
            comp[:d] = np.where(used > 0, np.minimum(keep, comp[:d]), comp[:d])
            view = ClusterView(world, comp, world.fleet.memory_bytes.copy(), world.fleet.bandwidth_budget_bytes.copy())
    result = solve_batch(batch, view, world, exact)
    for request, decision in zip(batch, result.decisions, strict=True):
        if isinstance(decision, Placement):
            check_placement(decision, request, view)
    total = result.total_latency_s
    # DistPrivacy one after another, each reserving what it holds.
    heuristic = make_scheduler("distprivacy", {}, world, np.random.default_rng(0))
    comp, mem, bw = view.residuals()
    heuristic_total = 0.0
    for request in batch:
        decision = heuristic.place(request, ClusterView(world, comp, mem, bw))
        if isinstance(decision, Placement):
            heuristic_total += decision.cost.latency_s
            comp -= decision.cost.compute_mults
            mem -= decision.cost.memory_bytes
            bw -= decision.cost.bandwidth_bytes
    report = result.report
    placed = sum(isinstance(x, Placement) for x in result.decisions)
    return BatchRow(
        "lenet",
        participants,
        tau,
        requests,
        report.status,
        total,
        report.bound_s,
        report.gap,
        placed,
        report.wall_s,
        heuristic_total,
        squeeze,
        math.isfinite(result.sequential_latency_s),
        result.sequential_latency_s,
        1.0 - total / result.sequential_latency_s if result.sequential_latency_s > 0 else math.nan,
    )


def _with_sources(world: World, count: int) -> World:
    scenario = world.scenario
    spec = scenario.model_dump()
    spec["sources"] = [{"cnn": "lenet", "count": count}]
    return build_world(Scenario.model_validate(spec))


# -- reporting -----------------------------------------------------------------
def _csv(rows: Sequence[object], cls: type) -> str:
    return csv_text([f.name for f in fields(cls)], (astuple(row) for row in rows))  # type: ignore[call-overload]


def _mean(values: Sequence[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


def _fmt(value: float, scale: float = 1.0, digits: int = 2) -> str:
    return "-" if not math.isfinite(value) else f"{value * scale:.{digits}f}"


def summary_markdown(
    rows: Sequence[Row], batch: Sequence[BatchRow], target: Sequence[TargetRow] = (), scale: Sequence[ScaleRow] = ()
) -> str:
    """Tables: per CNN and scheduler, and the targets."""
    lines = []
    if scale:
        lines.append("### Targets at scale (one solve each, idle fleet, seed 0)\n")
        lines.append(
            "| cnn | participants | tau | limit (s) | status | latency (ms) | proved bound (ms) | gap "
            "| wall (s) | build (s) | class model built (s) | variables |"
        )
        lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for r in scale:
            lines.append(
                f"| {r.cnn} | {r.participants} | {r.tau} | {r.limit_s:g} | {r.status} | {_fmt(r.latency_s, 1e3, 3)} "
                f"| {_fmt(r.bound_s, 1e3, 3)} | {_fmt(r.gap, 100, 2)}% | {r.wall_s:.2f} | {r.build_s:.2f} "
                f"| {r.model_s:.3f} | {r.variables} |"
            )
        lines.append("")
    if target:
        lines.append("### Per-request target: LeNet, 30 participants, tau = 0.4\n")
        lines.append(
            "| seed | runs | proved optimal | by bounds | min wall (s) | median wall (s) | max wall (s) "
            "| mean build (s) | latency (ms) |"
        )
        lines.append("|---|---|---|---|---|---|---|---|---|")
        for seed in sorted({t.seed for t in target}):
            runs_of_seed = [t for t in target if t.seed == seed]
            walls = [t.wall_s for t in runs_of_seed]
            lines.append(
                f"| {seed} | {len(runs_of_seed)} | {sum(t.status == 'optimal' for t in runs_of_seed)} "
                f"| {sum(t.by_bounds for t in runs_of_seed)} | {min(walls):.3f} | {float(np.median(walls)):.3f} "
                f"| {max(walls):.3f} | {_mean([t.build_s for t in runs_of_seed]):.3f} "
                f"| {_fmt(_mean([t.latency_s for t in runs_of_seed]), 1e3, 4)} |"
            )
        lines.append("")
    names = ("exact", *SCHEDULERS)
    for cnn in sorted({r.cnn for r in rows}, key=lambda c: ("lenet", "cifar_cnn", "vgg16", "vgg19").index(c)):
        mine = [r for r in rows if r.cnn == cnn]
        instances = len({(r.participants, r.tau, r.seed) for r in mine})
        exact_rows = [r for r in mine if r.scheduler == "exact"]
        proved = sum(r.status == "optimal" for r in exact_rows)
        lines.append(f"### {cnn}: {instances} instances, CP-SAT proved the optimum on {proved}\n")
        lines.append(
            "| scheduler | rejected | mean latency (ms) | mean gap to optimum (n) | max gap to optimum "
            "| mean gap to bound | mean shared (KB) | mean decision (ms) |"
        )
        lines.append("|---|---|---|---|---|---|---|---|")
        for name in names:
            sel = [r for r in mine if r.scheduler == name]
            if not sel:
                continue
            rejected = sum(r.status == "rejected" for r in sel)
            opt = [r.gap_opt for r in sel if math.isfinite(r.gap_opt)]
            lines.append(
                f"| {name} | {rejected}/{len(sel)} | {_fmt(_mean([r.latency_s for r in sel]), 1e3, 3)} "
                f"| {_fmt(_mean(opt), 100, 1)}% ({len(opt)}) | {_fmt(max(opt) if opt else math.nan, 100, 1)}% "
                f"| {_fmt(_mean([r.gap_bound for r in sel]), 100, 1)}% "
                f"| {_fmt(_mean([float(r.shared_bytes) for r in sel if r.status != 'rejected']), 1e-3, 1)} "
                f"| {_fmt(_mean([r.decision_s for r in sel]), 1e3, 1)} |"
            )
        lines.append("")
    lines.append("### CP-SAT per instance class\n")
    lines.append(
        "| cnn | participants | tau | instances | proved optimal | of which by bounds | mean time (s) "
        "| max time (s) | mean build (s) | mean CP-SAT gap | mean gap to bound |"
    )
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
    exact_rows = [r for r in rows if r.scheduler == "exact"]
    for key in sorted(
        {(r.cnn, r.participants, r.tau) for r in exact_rows},
        key=lambda k: (("lenet", "cifar_cnn", "vgg16", "vgg19").index(k[0]), k[1], k[2]),
    ):
        sel = [r for r in exact_rows if (r.cnn, r.participants, r.tau) == key]
        gaps = [
            0.0 if r.status == "optimal" else (r.latency_s / r.exact_bound_s - 1 if r.exact_bound_s > 0 else math.nan)
            for r in sel
            if r.status != "rejected"
        ]
        lines.append(
            f"| {key[0]} | {key[1]} | {key[2]} | {len(sel)} | {sum(r.status == 'optimal' for r in sel)} "
            f"| {sum(r.exact_by_bounds for r in sel)} "
            f"| {_mean([r.decision_s for r in sel]):.2f} | {max(r.decision_s for r in sel):.2f} "
            f"| {_mean([r.exact_build_s for r in sel]):.2f} "
            f"| {_fmt(_mean([r.exact_gap for r in sel]), 100, 2)}% | {_fmt(_mean(gaps), 100, 2)}% |"
        )
    lines.append("")
    if batch:
        lines.append("### Batch (joint placement, shared budgets)\n")
        lines.append(
            "| cnn | participants | tau | requests | budgets | status | placed | total latency (s) | bound (s) "
            "| gap | wall (s) | exact sequential total (s) | joint gain | DistPrivacy sequential total (s) |"
        )
        lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for b in batch:
            budgets = f"binding (x{b.squeeze:g})" if b.binding else ("squeezed, not binding" if b.squeeze else "idle")
            lines.append(
                f"| {b.cnn} | {b.participants} | {b.tau} | {b.requests} | {budgets} | {b.status} | {b.placed} "
                f"| {b.total_latency_s:.5f} | {_fmt(b.bound_s, 1, 5)} | {_fmt(b.gap, 100, 3)}% "
                f"| {b.wall_s:.1f} | {_fmt(b.sequential_total_s, 1, 5)} | {_fmt(b.joint_gain, 100, 2)}% "
                f"| {b.heuristic_total_s:.5f} |"
            )
        lines.append("")
    return "\n".join(lines)


def plot(rows: Sequence[Row], path: Path) -> None:
    """Latency relative to CP-SAT per scheduler and CNN, and decision time (drawn by distsim.plots.bench)."""
    from distsim.plots.bench import scheduler_figure
    from distsim.plots.style import FigureOptions, save_one

    opts = FigureOptions(dpi=200)
    save_one(scheduler_figure(rows, SCHEDULERS, opts), path, opts)


def run(out_dir: str | Path, *, quick: bool = False, progress: Callable[[str], None] | None = None) -> Path:
    """Run the suite and write ``schedulers.csv``, ``batch.csv``, ``target.csv``, ``scale.csv``,
    ``schedulers.md`` and ``schedulers.png`` atomically."""
    say = progress or (lambda message: None)
    exact = ExactParams(time_limit_s=2.0 if quick else 10.0)
    rows: list[Row] = []
    started = time.perf_counter()
    instances = suite(quick)
    for k, instance in enumerate(instances, start=1):
        rows.extend(run_instance(instance, exact))
        say(
            f"[{k}/{len(instances)}] {instance.cnn} D={instance.participants} tau={instance.tau} "
            f"seed={instance.seed} ({time.perf_counter() - started:.0f} s)"
        )
    if quick:
        batch = [
            run_batch(6, 10, 0.4, ExactParams(time_limit_s=10.0)),
            run_batch(6, 10, 0.4, ExactParams(time_limit_s=5.0), squeeze=0.75),
        ]
    else:
        batch = [
            run_batch(60, 30, 0.4, ExactParams(time_limit_s=60.0)),
            run_batch(60, 30, 0.4, ExactParams(time_limit_s=60.0), squeeze=0.75),
        ]
    say(f"batch done ({time.perf_counter() - started:.0f} s)")
    target_rows = run_target(exact, 1 if quick else 5)
    say(f"per-request target timed ({time.perf_counter() - started:.0f} s)")
    scale = run_scale(quick)
    say(f"targets at scale done ({time.perf_counter() - started:.0f} s)")
    target = Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        write_text(staging / "schedulers.csv", _csv(rows, Row))
        write_text(staging / "batch.csv", _csv(batch, BatchRow))
        write_text(staging / "target.csv", _csv(target_rows, TargetRow))
        write_text(staging / "scale.csv", _csv(scale, ScaleRow))
        header = (
            f"# Scheduler benchmark ({'quick' if quick else 'full'} suite)\n\n"
            f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
            f"CP-SAT {exact.workers} workers, time limit {exact.time_limit_s} s per request; "
            f"total {time.perf_counter() - started:.0f} s.\n\n"
        )
        write_text(staging / "schedulers.md", header + summary_markdown(rows, batch, target_rows, scale))
        with atomic_path(staging / "schedulers.png", suffix=".png") as tmp:
            plot(rows, tmp)
        # The folder may hold other files (figures the docs show), so files are replaced one by one.
        for name in ("schedulers.csv", "batch.csv", "target.csv", "scale.csv", "schedulers.md", "schedulers.png"):
            os.replace(staging / name, target / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
