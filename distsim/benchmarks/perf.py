"""Performance benchmarks (issue 3): decision time, end-to-end runs, scaling, and a bare SimPy floor.

``run(quick, out)`` measures, then writes ``perf.md`` (Markdown tables),
``decisions.csv``, ``runs.csv``, ``scaling.csv``, ``study.csv``,
``perf_decisions.png`` and ``perf_scaling.png`` into ``out``:

* **Decisions**: time of one DistPrivacy placement decision per CNN and number
  of participants, fast scheduler vs the per-segment reference (same world,
  same view, same process; the reference only where its estimated time is
  within the budget), on an *idle* fleet and on a *loaded* one: requests of
  the same CNN from other cameras are placed until the first rejection (at
  most ``load_cap``), then the older half is released, so the fleet holds
  what half a saturated fleet holds and the timed request comes from an idle
  camera. Every timed fast decision is checked equal to the reference's.
* **Runs**: ``scenarios/paper.yaml`` end to end in a fresh process (the
  run's own wall time as reported by :func:`distsim.run.simulate`, and a full
  ``python -m distsim run`` invocation), with peak RSS of that process.
* **Scaling**: mixed-CNN runs (LeNet, CIFAR, VGG-16, VGG-19 cameras, one per
  CNN per 100 participants, tau 0.6) over requests x participants, each in a
  fresh process (peak RSS per case), records streamed to ``requests.csv``.
  The rate grows with the fleet (``rate_per_participant * D``) so fleets are
  about equally busy.
* **Study**: the Figure-3 sweeps on both kernel paths (:mod:`distsim.benchmarks.study`).
* **Floor**: a bare SimPy loop with as many events and concurrent processes
  as each scaling run; the engine's overhead is the run's wall time over it.

Timings use ``time.perf_counter``; peak RSS is the child's own high-water
mark (``VmHWM``, see :func:`peak_rss_bytes`). Nothing here asserts: numbers are reported as measured.

Over 600 lines because the four measurements share one :class:`Plan`, one
child-process protocol (:func:`_run_child`, :func:`_child_main`) and one
report; each measurement is a short function of its own.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from distsim.io import csv_text, write_text

#: Folder holding the ``distsim`` package: children import this very copy (checkout or wheel).
PACKAGE_PARENT = Path(__file__).resolve().parent.parent.parent
DEFAULT_OUT = Path("results") / "bench-perf"
CNNS = ("lenet", "cifar_cnn", "vgg16", "vgg19")
MIX = {"rpi3": 1.0, "nexus5": 1.0, "stm32h7": 1.0}


@dataclass(frozen=True)
class Plan:
    """What a benchmark run measures.

    Attributes:
        participants: fleet sizes of the decision benchmark.
        cnns: CNNs of the decision benchmark.
        tau: tolerated SSIM of every world.
        reference_budget_s: skip the reference where its estimated time exceeds this, s.
        min_timing_s: repeat a fast decision until this much time has been spent, s.
        load_cap: at most this many placements to load a fleet.
        run_scenario: the scenario timed end to end (as in the repository; the packaged copy is run).
        run_repeats: how many times it is run (the best and the median are reported).
        scaling_requests: request counts of the scaling benchmark.
        scaling_participants: fleet sizes of the scaling benchmark.
        rate_per_participant: arrival rate per participant of the scaling runs, requests / s.
        study_replications: replications of the Figure-3 study (:mod:`distsim.benchmarks.study`);
            0 times the quick two-point sweep instead.
    """

    participants: tuple[int, ...]
    cnns: tuple[str, ...]
    tau: float
    reference_budget_s: float
    min_timing_s: float
    load_cap: int
    run_scenario: str
    run_repeats: int
    scaling_requests: tuple[int, ...]
    scaling_participants: tuple[int, ...]
    rate_per_participant: float
    study_replications: int


FULL = Plan(
    participants=(10, 30, 100, 300, 1000, 10000),
    cnns=CNNS,
    tau=0.6,
    reference_budget_s=30.0,
    min_timing_s=0.3,
    load_cap=100,
    run_scenario="scenarios/paper.yaml",
    run_repeats=3,
    scaling_requests=(1000, 10000, 100000),
    scaling_participants=(100, 1000),
    rate_per_participant=0.05,
    study_replications=10,
)

QUICK = Plan(
    participants=(10, 30),
    cnns=("lenet", "cifar_cnn"),
    tau=0.6,
    reference_budget_s=1.0,
    min_timing_s=0.01,
    load_cap=6,
    run_scenario="scenarios/quickstart.yaml",
    run_repeats=1,
    scaling_requests=(50, 200),
    scaling_participants=(20,),
    rate_per_participant=0.04,
    study_replications=0,
)


def scenario_file(label: str) -> Path:
    """The packaged copy of ``scenarios/NAME.yaml`` (so the suite runs from a wheel too)."""
    from distsim.benchmarks import packaged_scenario

    return packaged_scenario(Path(label).stem)


# -- worlds -------------------------------------------------------------------
def decision_scenario(cnn: str, participants: int, tau: float, cameras: int = 1) -> dict[str, Any]:
    """A world for timing decisions: ``cameras`` cameras of one CNN, a mixed fleet."""
    return {
        "name": f"decide-{cnn}-{participants}",
        "sources": [{"cnn": cnn, "count": cameras}],
        "participants": {"total": participants, "mix": MIX},
        "workload": {"requests": 1, "rate_per_s": 1.0},
        "privacy": {"max_ssim": tau},
    }


def scaling_scenario(requests: int, participants: int, rate_per_participant: float, seed: int = 1) -> dict[str, Any]:
    """Mixed CNNs, tau 0.6, arrivals at ``rate_per_participant * participants`` per s.

    Each CNN has one camera per 100 participants (at least one): a camera's own
    budgets bound how many of its requests run at once, so cameras grow with
    the fleet to keep the load on the participants.
    """
    return {
        "name": f"scale-{requests}x{participants}",
        "sources": [{"cnn": cnn, "count": max(1, participants // 100)} for cnn in CNNS],
        "participants": {"total": participants, "mix": MIX},
        "workload": {"requests": requests, "rate_per_s": rate_per_participant * participants},
        "privacy": {"max_ssim": 0.6},
        "simulation": {"seed": seed, "retry": {"mode": "interval", "interval_s": 1.0, "max_attempts": 100}},
    }


# -- decisions ------------------------------------------------------------------
def _loaded_view(world: Any, scheduler: Any, cnn: str, cap: int) -> tuple[Any, int]:
    """A ledger loaded by other cameras (see the module docstring) and the requests it holds."""
    from distsim.engine.ledger import Ledger
    from distsim.scheduling.base import Placement, Request

    ledger = Ledger(world)
    loaders = list(world.fleet.sources)[:-1]
    placed = []
    for k in range(cap):
        decision = scheduler.place(Request(k, loaders[k % len(loaders)], cnn, 0.0), ledger.view())
        if not isinstance(decision, Placement):
            break
        ledger.reserve(decision.cost)
        placed.append(decision)
    for placement in placed[: len(placed) // 2]:
        ledger.release(placement.cost)
    return ledger.view(), len(placed) - len(placed) // 2


def _same(fast: Any, ref: Any) -> bool:
    from distsim.scheduling.base import Rejection

    if type(fast) is not type(ref):
        return False
    if isinstance(ref, Rejection):
        return bool(fast == ref)
    return all(np.array_equal(a, b) for a, b in zip(fast.assignments, ref.assignments, strict=True)) and all(
        np.array_equal(getattr(fast.cost, f), getattr(ref.cost, f))
        for f in ("compute_mults", "memory_bytes", "bandwidth_bytes")
    )


def _time_fast(place: Callable[[], Any], min_s: float) -> tuple[float, float, int]:
    """Best and median seconds per call over repeats lasting at least ``min_s`` (at least 3 calls).

    The best is the timeit convention: on a shared machine other processes
    only ever add time.
    """
    times: list[float] = []
    spent = 0.0
    while len(times) < 3 or spent < min_s:
        start = time.perf_counter()
        place()
        elapsed = time.perf_counter() - start
        times.append(elapsed)
        spent += elapsed
    return min(times), statistics.median(times), len(times)


def measure_decisions(plan: Plan, progress: Callable[[str], None]) -> list[dict[str, Any]]:
    """Decision time per CNN, fleet size and load, fast vs reference."""
    from distsim.scenario import scenario_from_dict
    from distsim.scheduling.base import ClusterView, Placement, Request
    from distsim.scheduling.registry import make_scheduler
    from distsim.world import build_world

    rows: list[dict[str, Any]] = []
    for cnn in plan.cnns:
        seconds_per_unit: float | None = None  # reference time per (segment x participant), from its first run
        for d in plan.participants:
            world = build_world(scenario_from_dict(decision_scenario(cnn, d, plan.tau, cameras=9)))
            net = world.cnns[cnn]
            need = world.limits[cnn].min_participants(net)
            work = sum(layer.segments for layer in net.layers) * d
            base = {"cnn": cnn, "participants": d, "tau": plan.tau}
            if need > d:
                for load in ("idle", "loaded"):
                    rows.append({**base, "load": load, "outcome": f"fleet_too_small (needs {need})"})
                continue
            fast = make_scheduler("distprivacy", {}, world, np.random.default_rng(0))
            reference = make_scheduler("distprivacy_reference", {}, world, np.random.default_rng(0))
            request = Request(0, world.fleet.size - 1, cnn, 0.0)
            views = {"idle": (ClusterView.idle(world), 0), "loaded": _loaded_view(world, fast, cnn, plan.load_cap)}
            for load, (view, holding) in views.items():
                decision = fast.place(request, view)
                fast_s, fast_median_s, repeats = _time_fast(partial(fast.place, request, view), plan.min_timing_s)
                row: dict[str, Any] = {
                    **base,
                    "load": load,
                    "requests_held": holding,
                    "outcome": "placed" if isinstance(decision, Placement) else f"rejected ({decision.reason})",
                    "fast_ms": fast_s * 1e3,
                    "fast_median_ms": fast_median_s * 1e3,
                    "fast_repeats": repeats,
                    **_paths_compared(fast, request, view, decision, fast_s, plan.min_timing_s),
                }
                estimate = seconds_per_unit * work if seconds_per_unit is not None else None
                row["reference_estimate_s"] = estimate
                if estimate is None or estimate <= plan.reference_budget_s:
                    # Best of up to 3 runs while they stay cheap (a tenth of the budget in all).
                    ref_times: list[float] = []
                    while not ref_times or (len(ref_times) < 3 and sum(ref_times) < plan.reference_budget_s / 10):
                        start = time.perf_counter()
                        ref_decision = reference.place(request, view)
                        ref_times.append(time.perf_counter() - start)
                    ref_s = min(ref_times)
                    seconds_per_unit = max(seconds_per_unit or 0.0, ref_s / work)
                    row.update(
                        reference_s=ref_s,
                        reference_runs=len(ref_times),
                        speedup=ref_s / fast_s,
                        same_decision=_same(decision, ref_decision),
                    )
                rows.append(row)
                progress(
                    f"decision {cnn:9s} D={d:<6d} {load:6s} fast {fast_s * 1e3:8.2f} ms"
                    + (
                        f"  reference {row['reference_s'] * 1e3:9.2f} ms  x{row['speedup']:.0f}"
                        if "reference_s" in row
                        else "  reference skipped"
                    )
                )
    return rows


def _paths_compared(fast: Any, request: Any, view: Any, decision: Any, fast_s: float, min_s: float) -> dict[str, Any]:
    """The same decision and its ``evaluate()`` on the pure-Python path, timed in the same process.

    ``fast_s`` was timed on the path in force (compiled unless ``DISTSIM_KERNEL=python``).
    """
    from distsim.model import compiled
    from distsim.model.cost import evaluate
    from distsim.scheduling.base import Placement

    mode = compiled.kernel_mode()
    world = fast.world
    try:
        compiled.set_kernel("python")
        python_decision = fast.place(request, view)
        python_s, _, _ = _time_fast(partial(fast.place, request, view), min_s)
        row: dict[str, Any] = {
            "kernel": mode,
            "python_ms": python_s * 1e3,
            "compiled_speedup": python_s / fast_s,
            "same_paths": _same(decision, python_decision),
        }
        if isinstance(decision, Placement):
            args = (world.cnns[request.cnn], decision.assignments, world.fleet, world.links)
            eval_python_s, _, _ = _time_fast(partial(evaluate, *args), min_s / 3)
            compiled.set_kernel(mode)
            eval_s, _, _ = _time_fast(partial(evaluate, *args), min_s / 3)
            row.update(
                evaluate_us=eval_s * 1e6,
                evaluate_python_us=eval_python_s * 1e6,
                evaluate_speedup=eval_python_s / eval_s,
            )
    finally:
        compiled.set_kernel(mode)
    return row


# -- child processes --------------------------------------------------------------
def peak_rss_bytes() -> int:
    """Peak resident memory of this process since it started, bytes.

    ``VmHWM`` of ``/proc/self/status`` (``ru_maxrss`` elsewhere): a child's
    ``ru_maxrss`` would also count the parent's pages it was forked with.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _run_child(args: list[str], kernel: str | None = None) -> tuple[float, str]:
    """Run a command with this copy of distsim importable (``DISTSIM_KERNEL=kernel`` if given);
    return (wall s, stdout)."""
    path = os.pathsep.join([str(PACKAGE_PARENT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env = {**os.environ, "PYTHONPATH": path}
    if kernel is not None:
        env["DISTSIM_KERNEL"] = kernel
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        start = time.perf_counter()
        status = subprocess.run(args, stdout=stdout, stderr=stderr, env=env, check=False).returncode
        wall = time.perf_counter() - start
        stdout.seek(0)
        stderr.seek(0)
        out, err = stdout.read(), stderr.read()
    if status != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({status}):\n{err}")
    return wall, out


def _child_run(spec: dict[str, Any]) -> dict[str, Any]:
    """In a child: simulate a scenario (file or mapping) with records streamed to disk; report."""
    from distsim.engine import simulation
    from distsim.run import simulate
    from distsim.scenario import load_scenario, scenario_from_dict

    envs: list[Any] = []
    original = simulation.Simulation.run

    def run(self: Any) -> Any:
        envs.append(self.env)
        return original(self)

    simulation.Simulation.run = run  # type: ignore[method-assign]
    started = time.perf_counter()
    scenario = load_scenario(scenario_file(spec["file"])) if "file" in spec else scenario_from_dict(spec["scenario"])
    if "timing" in spec:
        timed = scenario.simulation.model_copy(update={"timing": spec["timing"]})
        scenario = scenario.model_copy(update={"simulation": timed})
    out_dir = Path(tempfile.mkdtemp(prefix="distsim-perf-"))
    try:
        result = simulate(scenario, out_dir=out_dir / "run")
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    total = time.perf_counter() - started
    eid = getattr(envs[0], "_eid", None)
    s = result.summary
    return {
        "run_wall_s": result.wall_s,
        "child_wall_s": total,
        "events": next(eid) if eid is not None else None,
        "requests": s.requests,
        "served": s.served,
        "dropped": s.dropped,
        "dropped_fleet_too_small": s.dropped_fleet_too_small,
        "dropped_max_attempts": s.dropped_max_attempts,
        "rejection_rate": s.rejection_rate,
        "load_rejection_rate": s.load_rejection_rate,
        "attempts_mean": s.attempts_mean,
        "latency_mean_s": s.latency_mean_s,
        "participants": s.participants,
        "peak_rss_bytes": peak_rss_bytes(),
    }


def _in_child(spec: dict[str, Any], kernel: str | None = None) -> tuple[dict[str, Any], float, int]:
    wall, out = _run_child([sys.executable, "-m", "distsim.benchmarks.perf", "--child", json.dumps(spec)], kernel)
    report = json.loads(out.strip().splitlines()[-1])
    return report, wall, int(report["peak_rss_bytes"])


# -- the bare SimPy floor ------------------------------------------------------------
def simpy_floor(events: int, processes: int) -> tuple[float, int]:
    """Wall time of a bare SimPy loop with ``processes`` concurrent processes and about ``events`` events.

    Each process yields timeouts of pre-drawn exponential lengths, so the event
    heap holds as many entries as the simulation's concurrent requests do.
    """
    import simpy

    processes = max(1, processes)
    per = max(1, (events - 2 * processes) // processes)
    delays = np.random.default_rng(0).exponential(1.0, size=4099).tolist()
    env = simpy.Environment()

    def proc(offset: int) -> Generator[Any, Any, None]:
        for k in range(per):
            yield env.timeout(delays[(offset + k) % 4099])

    start = time.perf_counter()
    for i in range(processes):
        env.process(proc(i))
    env.run()
    wall = time.perf_counter() - start
    return wall, next(env._eid)


# -- runs -----------------------------------------------------------------------------
#: The variants of ``plan.run_scenario`` timed end to end: (label, timing model, kernel).
RUN_VARIANTS = (
    ("analytic, default kernel switch (auto)", "analytic", "auto"),
    ("analytic, compiled from the start", "analytic", "numba"),
    ("analytic, Python path", "analytic", "python"),
    ("contention, auto", "contention", "auto"),
    ("contention, compiled from the start", "contention", "numba"),
)


def measure_runs(plan: Plan, progress: Callable[[str], None]) -> list[dict[str, Any]]:
    """``plan.run_scenario`` end to end, each measurement in a fresh process, with ratios from the same run.

    ``simulate()`` alone in every variant of :data:`RUN_VARIANTS` (the
    ratio to the first: contention vs analytic, Python path vs compiled), the
    bare SimPy floor with as many events (engine vs bare SimPy), and the whole
    ``python -m distsim run`` process on both paths (ratio to ``simulate()``).
    """
    rows: list[dict[str, Any]] = []
    first_best = math.nan
    analytic_best: dict[str, float] = {}  # kernel switch -> best analytic simulate() wall, s
    for label, timing, kernel in RUN_VARIANTS:
        runs = [_in_child({"file": plan.run_scenario, "timing": timing}, kernel) for _ in range(plan.run_repeats)]
        walls = [r["run_wall_s"] for r, _, _ in runs]
        report = runs[0][0]
        best = min(walls)
        first_best = best if math.isnan(first_best) else first_best
        if timing == "analytic":
            analytic_best[kernel] = best
        events = int(report["events"] or 0)
        floor_s, _ = simpy_floor(events, report["requests"])
        rows.append(
            {
                "what": f"{plan.run_scenario}: simulate() wall, {label}",
                "best_s": best,
                "median_s": statistics.median(walls),
                "ratio": best / first_best,
                "vs_analytic": best / analytic_best[kernel] if kernel in analytic_best else math.nan,
                "peak_rss_mb": max(r for _, _, r in runs) / 2**20,
                "requests": report["requests"],
                "served": report["served"],
                "dropped": report["dropped"],
                "events": events,
                "events_per_request": events / max(1, report["requests"]),
                "floor_s": floor_s,
                "engine_over_floor": best / floor_s if floor_s > 0 else math.nan,
                "load_average": _load(),
            }
        )
    simulate_best = rows[0]["best_s"]
    with tempfile.TemporaryDirectory(prefix="distsim-perf-cli-") as tmp:
        for kernel in ("auto", "numba"):
            cli_walls = []
            for k in range(plan.run_repeats):
                target = str(Path(tmp) / f"{kernel}{k}")
                command = [sys.executable, "-m", "distsim", "run", str(scenario_file(plan.run_scenario)), "--out"]
                wall, _ = _run_child([*command, target], kernel)
                cli_walls.append(wall)
            # Peak RSS of the same command, from inside (a wrapper reading VmHWM at exit).
            rss_command = [sys.executable, "-m", "distsim.benchmarks.perf", "--cli", "run"]
            _, out = _run_child([*rss_command, str(scenario_file(plan.run_scenario)), "--out", f"{tmp}/rss{kernel}"])
            rows.append(
                {
                    "what": f"python -m distsim run {plan.run_scenario} (whole process), "
                    + ("auto" if kernel == "auto" else "compiled from the start"),
                    "best_s": min(cli_walls),
                    "median_s": statistics.median(cli_walls),
                    "ratio": min(cli_walls) / simulate_best,
                    "peak_rss_mb": int(json.loads(out.strip().splitlines()[-1])["peak_rss_bytes"]) / 2**20,
                    "requests": rows[0]["requests"],
                    "served": rows[0]["served"],
                    "dropped": rows[0]["dropped"],
                    "events": rows[0]["events"],
                    "load_average": _load(),
                }
            )
    for row in rows:
        progress(
            f"run {row['what']}: best {row['best_s']:.2f} s, median {row['median_s']:.2f} s, "
            f"x{row['ratio']:.2f}, peak RSS {row['peak_rss_mb']:.0f} MB"
        )
    return rows


def _load() -> str:
    """The 1, 5 and 15 minute load averages (the machine is shared: every timing is read against it)."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    return " ".join(f"{x:.2f}" for x in load)


def measure_scaling(plan: Plan, progress: Callable[[str], None]) -> list[dict[str, Any]]:
    """Mixed-CNN runs over requests x participants, each in a fresh process, with the SimPy floor."""
    rows = []
    for d in plan.scaling_participants:
        for n in plan.scaling_requests:
            spec = scaling_scenario(n, d, plan.rate_per_participant)
            report, wall, rss = _in_child({"scenario": spec})
            floor_s, floor_events = simpy_floor(report["events"] or 0, n)
            row = {
                "requests": n,
                "participants": d,
                "rate_per_s": spec["workload"]["rate_per_s"],
                **{
                    k: report[k]
                    for k in (
                        "served",
                        "dropped",
                        "dropped_fleet_too_small",
                        "dropped_max_attempts",
                        "rejection_rate",
                        "load_rejection_rate",
                        "attempts_mean",
                        "events",
                    )
                },
                "run_wall_s": report["run_wall_s"],
                "process_wall_s": wall,
                "peak_rss_mb": rss / 2**20,
                "us_per_request": report["run_wall_s"] / n * 1e6,
                "floor_s": floor_s,
                "floor_events": floor_events,
                "engine_over_floor": report["run_wall_s"] / floor_s if floor_s > 0 else math.nan,
                "events_per_request": (report["events"] or 0) / n,
                "load_average": _load(),
            }
            rows.append(row)
            progress(
                f"scaling N={n:<7d} D={d:<5d} run {row['run_wall_s']:8.2f} s  RSS {row['peak_rss_mb']:6.0f} MB  "
                f"served {row['served']} dropped {row['dropped']}  floor {floor_s:.2f} s"
            )
    return rows


def measure_study(plan: Plan, progress: Callable[[str], None]) -> list[dict[str, Any]]:
    """The Figure-3 study on both kernel paths (:mod:`distsim.benchmarks.study`); none from a wheel."""
    from distsim.benchmarks import study

    chosen = (
        study.figure3(plan.study_replications)
        if plan.study_replications
        else study.quick_study(scenario_file("quickstart"))
    )
    if chosen is None:
        progress(f"study skipped: the sweep files of {study.FIG3_DIR} ship with the repository, not the wheel")
        return []
    return [study.measure_study(chosen, _run_child, _load, progress)]


def exponents(rows: list[dict[str, Any]], over: str, fixed: str) -> dict[int, float]:
    """Least-squares slope of log(run wall) against log(``over``) for each value of ``fixed``."""
    out = {}
    for value in sorted({r[fixed] for r in rows}):
        pts = sorted((r[over], r["run_wall_s"]) for r in rows if r[fixed] == value)
        if len(pts) >= 2:
            x, y = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
            out[value] = float(np.polyfit(x, y, 1)[0])
    return out


# -- output ------------------------------------------------------------------------------
def machine() -> dict[str, str]:
    """CPU model, cores, Python and library versions, load average."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from importlib import metadata

    versions = {}
    for name in ("numpy", "simpy", "distsim"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "?"
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    from distsim.model.compiled import kernel_mode

    return {
        "kernel": kernel_mode(),
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        **versions,
        "load_average": " ".join(f"{x:.2f}" for x in load),
    }


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def markdown_table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> str:
    """A Markdown table of ``rows`` with (key, header) ``columns``."""
    lines = ["| " + " | ".join(h for _, h in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_fmt(r.get(k)) for k, _ in columns) + " |" for r in rows]
    return "\n".join(lines)


def _csv_text(rows: list[dict[str, Any]]) -> str:
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    return csv_text(keys, rows)


DECISION_COLUMNS = [
    ("cnn", "CNN"),
    ("participants", "D"),
    ("load", "fleet"),
    ("requests_held", "held"),
    ("outcome", "decision"),
    ("fast_ms", "fast best (ms)"),
    ("fast_median_ms", "fast median (ms)"),
    ("python_ms", "Python path best (ms)"),
    ("compiled_speedup", "Python / fast"),
    ("evaluate_us", "evaluate fast (us)"),
    ("evaluate_python_us", "evaluate Python (us)"),
    ("evaluate_speedup", "Python / fast"),
    ("reference_s", "reference best (s)"),
    ("speedup", "reference / fast"),
    ("same_decision", "same as reference"),
    ("same_paths", "same on both paths"),
]
RUN_COLUMNS = [
    ("what", "what"),
    ("best_s", "best (s)"),
    ("median_s", "median (s)"),
    ("ratio", "ratio"),
    ("vs_analytic", "vs analytic, same kernel switch"),
    ("peak_rss_mb", "peak RSS (MB)"),
    ("requests", "requests"),
    ("served", "served"),
    ("dropped", "dropped"),
    ("events", "SimPy events"),
    ("events_per_request", "events / request"),
    ("engine_over_floor", "run / bare SimPy"),
    ("load_average", "load (1, 5, 15 min)"),
]
SCALING_COLUMNS = [
    ("requests", "requests"),
    ("participants", "D"),
    ("rate_per_s", "rate (/s)"),
    ("run_wall_s", "run (s)"),
    ("us_per_request", "us / request"),
    ("peak_rss_mb", "peak RSS (MB)"),
    ("served", "served"),
    ("dropped_max_attempts", "dropped (max attempts)"),
    ("dropped_fleet_too_small", "dropped (fleet too small)"),
    ("load_rejection_rate", "1st-try rejected"),
    ("attempts_mean", "attempts"),
    ("events", "SimPy events"),
    ("events_per_request", "events / request"),
    ("floor_s", "SimPy floor (s)"),
    ("engine_over_floor", "run / floor"),
    ("load_average", "load (1, 5, 15 min)"),
]


STUDY_COLUMNS = [
    ("what", "study"),
    ("runs", "runs"),
    ("compiled_s", "compiled (s)"),
    ("python_s", "Python path (s)"),
    ("python_over_compiled", "Python / compiled"),
    ("identical", "identical"),
    ("load_average", "load (1, 5, 15 min)"),
]


def report_markdown(
    plan: Plan,
    quick: bool,
    info: dict[str, str],
    decisions: list[dict[str, Any]],
    runs: list[dict[str, Any]],
    scaling: list[dict[str, Any]],
    studies: list[dict[str, Any]],
) -> str:
    by_requests = exponents(scaling, "requests", "participants")
    by_participants = exponents(scaling, "participants", "requests")
    parts = [
        f"# distsim performance ({'quick' if quick else 'full'} suite)",
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores; Python {info['python']}, numpy {info['numpy']}, "
        f"SimPy {info['simpy']}, distsim {info['distsim']}; kernel {info['kernel']}. "
        f"Load average at the start: {info['load_average']}.",
        "",
        f"## Decision time (DistPrivacy, tau = {plan.tau})",
        "",
        "`fast`: best and median of repeated decisions on the path in force (`kernel` column: the compiled "
        "kernels unless `DISTSIM_KERNEL=python`); `Python path`: the same decision with the kernels off, and "
        "`evaluate` the cost of its placement on both paths, all in the same process; `reference`: best of up "
        "to 3 decisions of the per-segment oracle on the same view (skipped where estimated over the budget); "
        "`held`: requests the loaded fleet holds; `same`: the decisions are equal.",
        "",
        markdown_table(decisions, DECISION_COLUMNS),
        "",
        "## End-to-end runs",
        "",
        "Each in fresh processes. `ratio`: to the first row (`simulate()` rows) or to the first row's "
        "`simulate()` (whole-process rows); `run / bare SimPy`: over a bare SimPy loop with as many events.",
        "",
        markdown_table(runs, RUN_COLUMNS),
        "",
        f"## Scaling (mixed CNNs, {plan.rate_per_participant} requests / s per participant)",
        "",
        markdown_table(scaling, SCALING_COLUMNS),
        "",
        "Growth exponents (slope of log run time):",
        "",
    ]
    parts += [f"- in requests at D = {d}: {e:.2f}" for d, e in by_requests.items()]
    parts += [f"- in participants at {n} requests: {e:.2f}" for n, e in by_participants.items()]
    parts += [
        "",
        "## Sweeps on both kernel paths",
        "",
        "Every sweep through `python -m distsim sweep` in fresh processes, compiled (`DISTSIM_KERNEL=numba`) "
        "then on the Python path, in this run; `identical`: every `results.csv` has the same SHA-256 on both.",
        "",
        markdown_table(studies, STUDY_COLUMNS) if studies else "Skipped: the sweep files ship with the repository.",
    ]
    return "\n".join(parts) + "\n"


def plot(decisions: list[dict[str, Any]], scaling: list[dict[str, Any]], out: Path) -> list[Path]:
    """``perf_decisions.png`` and ``perf_scaling.png`` (drawn by distsim.plots.bench)."""
    from distsim.plots.bench import perf_decisions_figure, perf_scaling_figure
    from distsim.plots.style import FigureOptions, save_one

    opts = FigureOptions(dpi=200)
    return [
        save_one(perf_decisions_figure(decisions, opts), out / "perf_decisions.png", opts),
        save_one(perf_scaling_figure(scaling, opts), out / "perf_scaling.png", opts),
    ]


def _force_kernels() -> None:
    """Time the kernels from the first call: ``auto`` would leave the first segments to the Python path."""
    from distsim.model import compiled

    if compiled.kernel_mode() == "auto":
        compiled.set_kernel("numba")


def run(out: Path = DEFAULT_OUT, *, quick: bool = False, progress: Callable[[str], None] = print) -> Path:
    """Run the suite; write tables and plots into ``out``; return the path of ``perf.md``."""
    plan = QUICK if quick else FULL
    _force_kernels()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    info = machine()
    progress(f"machine: {info['cpu']}, {info['cores']} cores, load {info['load_average']}")
    decisions = measure_decisions(plan, progress)
    runs = measure_runs(plan, progress)
    scaling = measure_scaling(plan, progress)
    studies = measure_study(plan, progress)
    info_end = machine()
    write_text(out / "decisions.csv", _csv_text(decisions))
    write_text(out / "runs.csv", _csv_text(runs))
    write_text(out / "scaling.csv", _csv_text(scaling))
    write_text(out / "study.csv", _csv_text(studies))
    with tempfile.TemporaryDirectory(dir=out, prefix=".plots-") as tmp:
        for path in plot(decisions, scaling, Path(tmp)):
            os.replace(path, out / path.name)
    text = report_markdown(plan, quick, info, decisions, runs, scaling, studies)
    text += f"\nLoad average at the end: {info_end['load_average']}.\n"
    from distsim.benchmarks.baselines import markdown, measure_baseline_decisions

    text += "\n## Baseline decisions beside DistPrivacy's\n\n" + markdown(measure_baseline_decisions(quick, progress))
    write_text(out / "perf.md", text)
    return out / "perf.md"


def _child_main(argv: Iterable[str]) -> int:
    args = list(argv)
    if args and args[0] == "--cli":
        # ``python -m distsim ARGS`` in this process, peak RSS printed at exit: the benchmarks
        # sit below the command line, so the CLI is run as a module, not imported.
        import atexit
        import runpy

        atexit.register(lambda: print(json.dumps({"peak_rss_bytes": peak_rss_bytes()})))
        sys.argv = ["distsim", *args[1:]]
        runpy.run_module("distsim", run_name="__main__", alter_sys=True)
        return 0
    spec = json.loads(args[args.index("--child") + 1])
    print(json.dumps(_child_run(spec)))
    return 0


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
