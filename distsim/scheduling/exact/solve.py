"""Solve drivers: one request, a batch window, and the ``exact`` scheduler class."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np
import numpy.typing as npt
from ortools.sat.python import cp_model

from distsim.scheduling.base import ClusterView, Constraint, Decision, Placement, Rejection, Request
from distsim.scheduling.exact.hints import heuristic_hint, minmax_hint
from distsim.scheduling.exact.model import Model, default_time_unit
from distsim.scheduling.exact.params import ExactParams, SolveReport
from distsim.scheduling.exact.precheck import precheck
from distsim.world import World

IntArray = npt.NDArray[np.int64]


class OutOfTime(Exception):
    """A wall-clock budget ran out (raised by :meth:`Budget.check`)."""


@dataclass(slots=True)
class Budget:
    """What one decision may still spend.

    Attributes:
        work: CP-SAT deterministic time left (None: no work limit).
        deadline: :func:`time.perf_counter` instant the decision must return by (None: no
            wall-clock limit).
    """

    work: float | None
    deadline: float | None

    @classmethod
    def of(cls, params: ExactParams, started: float) -> Budget:
        deadline = None if params.time_limit_s is None else started + params.time_limit_s
        return cls(params.effective_work_limit, deadline)

    def remaining_s(self) -> float:
        """Wall-clock seconds left (infinite without a wall-clock limit)."""
        return math.inf if self.deadline is None else self.deadline - time.perf_counter()

    def check(self) -> None:
        """Raise :class:`OutOfTime` once the deadline has passed."""
        if self.deadline is not None and time.perf_counter() >= self.deadline:
            raise OutOfTime

    def share(self, fraction: float) -> Budget:
        """A sub-budget: ``fraction`` of the work and of the wall-clock time left."""
        work = None if self.work is None else self.work * fraction
        deadline = None if self.deadline is None else time.perf_counter() + max(self.remaining_s(), 0.0) * fraction
        return Budget(work, deadline)

    def spend(self, work: float) -> None:
        if self.work is not None:
            self.work = max(self.work - work, 0.0)


def _solver(params: ExactParams, budget: Budget) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    p = solver.parameters
    if budget.deadline is not None:
        p.max_time_in_seconds = max(budget.remaining_s(), 1e-3)
    if budget.work is not None:
        p.max_deterministic_time = max(budget.work, 1e-3)
    p.num_workers = params.workers
    # Without a wall-clock limit the run must repeat on any machine: several workers then
    # search in CP-SAT's deterministic interleaved mode instead of racing.
    p.interleave_search = params.reproducible and params.workers > 1
    p.random_seed = params.seed
    p.relative_gap_limit = params.relative_gap
    return solver


def _status(solver: cp_model.CpSolver, code: cp_model.CpSolverStatus | int) -> str:
    if code == cp_model.OPTIMAL and solver.objective_value <= solver.best_objective_bound + 0.5:
        return "optimal"
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return "feasible"
    if code == cp_model.INFEASIBLE:
        return "infeasible"
    if code == cp_model.MODEL_INVALID:
        raise RuntimeError("CP-SAT rejected the model as invalid (a bug in distsim.scheduling.exact)")
    return "timeout"


def _report(
    model: Model,
    solver: cp_model.CpSolver | None,
    status: str,
    started: float,
    rounding_units: int,
    detail: str = "",
    build_s: float = 0.0,
    by_bounds: bool = False,
    work: float = 0.0,
) -> SolveReport:
    unit = model.unit
    nan = math.nan
    objective = bound = gap = nan
    if solver is not None and status in ("optimal", "feasible"):
        objective = solver.objective_value * unit
        bound = solver.best_objective_bound * unit
        gap = 0.0 if status == "optimal" else max(0.0, (objective - bound) / objective) if objective > 0 else 0.0
    proto = model.m.proto
    return SolveReport(
        status,
        objective,
        bound,
        gap,
        rounding_units * unit,
        unit,
        time.perf_counter() - started,
        len(proto.variables),
        len(proto.constraints),
        detail,
        build_s,
        by_bounds,
        work,
    )


def _limit_text(params: ExactParams) -> str:
    if params.time_limit_s is not None:
        return f"within {params.time_limit_s} s"
    return f"within {params.effective_work_limit} deterministic s of work"


def _out_of_time(
    request: Request,
    view: ClusterView,
    model: Model,
    hints: list[list[IntArray]],
    params: ExactParams,
    started: float,
    stage: str,
) -> tuple[Decision, SolveReport]:
    """The decision when the wall-clock budget ran out before the search: the best hint, or a timeout."""
    proto = model.m.proto
    nan = math.nan
    if not hints:
        detail = f"no placement {_limit_text(params)} (stopped while computing {stage})"
        report = SolveReport(
            "timeout", nan, nan, nan, nan, model.unit, time.perf_counter() - started,
            len(proto.variables), len(proto.constraints), detail, stage=stage,
        )  # fmt: skip
        return Rejection(request.id, 0, "", Constraint.TIMEOUT, detail), report
    placements = [view.make_placement(request, h, status="feasible") for h in hints]
    best = min(placements, key=lambda p: p.cost.latency_s)  # min keeps the first of equals
    detail = f"time limit reached while computing {stage}; returned the better hint"
    report = SolveReport(
        "feasible", best.cost.latency_s, nan, nan, nan, model.unit, time.perf_counter() - started,
        len(proto.variables), len(proto.constraints), detail, stage=stage,
    )  # fmt: skip
    return best, report


def solve_request(
    request: Request,
    view: ClusterView,
    world: World,
    params: ExactParams,
    *,
    time_unit_s: float | None = None,
    hint: list[IntArray] | None = None,
    budget: Budget | None = None,
) -> tuple[Decision, SolveReport]:
    """Place one request optimally against ``view``'s residuals.

    Returns the decision (a :class:`Placement` with status ``optimal`` or
    ``feasible``, or a :class:`Rejection` with constraint ``infeasible``,
    ``unreachable`` or ``timeout``) and the :class:`SolveReport`. When CP-SAT
    finds no solution within the limits but a hint exists, the better hint
    is returned as ``feasible`` (bound: the per-layer lower bounds). A
    wall-clock ``time_limit_s`` covers every step: the pre-check, the hints,
    the model and the search; when it runs out before the search, the better
    hint so far (by cost-model latency, bound unknown) is returned as
    ``feasible``, or, with none, a ``timeout`` rejection.
    """
    started = time.perf_counter()
    budget = budget or Budget.of(params, started)
    unit = time_unit_s or params.time_unit_s or default_time_unit(world, [request.cnn], params.resolution)
    model = Model(world, view, unit, params.symmetry_breaking)
    model.check = budget.check
    rejection = precheck(request, view, world)
    if rejection is not None:
        return rejection, _report(model, None, "infeasible", started, 0, rejection.detail)
    hints: list[list[IntArray]] = []
    stage = "hints"
    try:
        if hint is not None:
            hints.append(hint)
        elif params.hint:
            # Always computed, even when the budget is already spent: it takes milliseconds
            # (even on VGG-16) and is the answer a spent budget returns.
            found = heuristic_hint(world, request, view)
            if found is not None:
                hints.append(found)
            budget.check()
            found = minmax_hint(world, request, view, budget.check)
            if found is not None:
                hints.append(found)
        stage = "model"
        budget.check()
        rv = model.add_request(request)
        model.finish()
        best: tuple[int, list[IntArray]] | None = None
        for candidate in hints:
            objective = model.hint(model.canonical([candidate]))
            if best is None or objective < best[0]:
                best = (objective, candidate)
        if best is not None and best[1] is not hints[-1]:
            model.hint(model.canonical([best[1]]))
        budget.check()
    except OutOfTime:
        return _out_of_time(request, view, model, hints, params, started, stage)
    # A hint whose objective meets the per-layer lower bounds is optimal: CP-SAT
    # only has to confirm it is feasible, with every variable fixed to it.
    confirm = best is not None and best[0] <= model.lower_bound()
    build_s = time.perf_counter() - started
    solver = _solver(params, budget)
    solver.parameters.fix_variables_to_their_hinted_value = confirm
    status = _status(solver, solver.solve(model.m))
    work = solver.deterministic_time
    budget.spend(work)
    if confirm and status != "optimal" and budget.remaining_s() > 0:
        # Not expected: the hint broke a model constraint; search normally.
        confirm = False
        solver = _solver(params, budget)
        status = _status(solver, solver.solve(model.m))
        work += solver.deterministic_time
        budget.spend(solver.deterministic_time)
    if status == "infeasible":
        detail = "CP-SAT proved the model infeasible (the residual budgets cannot hold the request jointly)"
        return (
            Rejection(request.id, 0, "", Constraint.INFEASIBLE, detail),
            _report(model, solver, status, started, rv.rounding_units, detail, build_s, confirm, work),
        )
    if status == "timeout" and best is not None:
        # CP-SAT did not even reach its first solution (presolve of a large model), but the
        # hint is feasible: return it, with the per-layer bounds as the proved lower bound.
        objective_s, bound_s = best[0] * unit, model.lower_bound() * unit
        detail = f"CP-SAT found no placement {_limit_text(params)}; returned the better hint"
        proto = model.m.proto
        gap = max(0.0, (objective_s - bound_s) / objective_s) if objective_s else 0.0
        report = SolveReport(
            "feasible",
            objective_s,
            bound_s,
            gap,
            rv.rounding_units * unit,
            unit,
            time.perf_counter() - started,
            len(proto.variables),
            len(proto.constraints),
            detail,
            build_s,
            False,
            work,
            "search",
        )
        return view.make_placement(request, model.canonical([best[1]])[0], status="feasible"), report
    if status == "timeout":
        detail = f"CP-SAT found no placement {_limit_text(params)}"
        return (
            Rejection(request.id, 0, "", Constraint.TIMEOUT, detail),
            _report(model, solver, status, started, rv.rounding_units, detail, build_s, confirm, work),
        )
    assignments = model.extract(solver)[0]
    placement = view.make_placement(request, assignments, status=status)
    return placement, _report(model, solver, status, started, rv.rounding_units, "", build_s, confirm, work)


@dataclass(frozen=True, slots=True)
class BatchResult:
    """Joint placement of a window of requests.

    Attributes:
        decisions: one per request, in the order given.
        report: the joint solve (objective: sum of the placed requests' latencies).
        lower_bounds_s: per request, a proved lower bound of its latency (its
            single-request optimum bound on the same residuals); NaN if rejected.
        sequential_latency_s: sum of latencies when each request is placed optimally in
            turn on what the previous ones left (the joint model's hint); NaN when the
            single optima fit together (then no joint model is needed).
        sequential_placed: requests the sequential pass placed (0 when not run).
    """

    decisions: tuple[Decision, ...]
    report: SolveReport
    lower_bounds_s: tuple[float, ...]
    sequential_latency_s: float = math.nan
    sequential_placed: int = 0

    @property
    def total_latency_s(self) -> float:
        """Sum of the placed requests' cost-model latencies, s."""
        return sum(d.cost.latency_s for d in self.decisions if isinstance(d, Placement))


def solve_batch(
    requests: Sequence[Request],
    view: ClusterView,
    world: World,
    params: ExactParams,
) -> BatchResult:
    """Place ``requests`` jointly: shared residual budgets, objective the sum of latencies (Eq. 8).

    Requests that cannot be placed even alone (pre-check or single-request
    solve) are rejected and left out. When the single-request optima fit the
    shared budgets together they are the batch optimum (each single solve
    relaxes the batch) and no joint model is built. Otherwise the requests are
    first placed optimally one after another (:func:`solve_sequential`), and
    the joint model is solved with the single optima as lower-bound cuts and
    that sequential batch as hint; when the joint search ends without a
    solution, or proves that not all fit, the sequential optima are returned
    (those the sequential pass could not place are rejected).
    """
    started = time.perf_counter()
    unit = params.time_unit_s or default_time_unit(world, sorted({r.cnn for r in requests}), params.resolution)
    decisions: dict[int, Decision] = {}
    bounds: dict[int, float] = {}
    budget = Budget.of(params, started)
    singles = _single_optima(requests, view, world, params, unit, budget)
    for request in requests:
        decision = singles[(request.cnn, request.source)][0]
        if isinstance(decision, Rejection):
            decisions[request.id] = Rejection(
                request.id, decision.layer, decision.layer_name, decision.constraint, decision.detail
            )
    joint = [r for r in requests if r.id not in decisions]
    shortcut = _independent_optima(joint, singles, view, started, unit)
    if shortcut is not None:
        for request in joint:
            single = singles[(request.cnn, request.source)][0]
            assert isinstance(single, Placement)
            decisions[request.id] = view.make_placement(request, list(single.assignments), status=single.status)
            bounds[request.id] = singles[(request.cnn, request.source)][1].bound_s
        return BatchResult(
            tuple(decisions[r.id] for r in requests), shortcut, tuple(bounds.get(r.id, math.nan) for r in requests)
        )
    # The single optima do not fit together: place the requests optimally one after
    # another (half of the budget left); when they all fit that way, that batch hints
    # the joint model, and it is the answer when the joint search ends without one.
    sequential = solve_sequential(joint, view, world, params, unit, budget.share(0.5))
    budget.spend(sum(r.work for r in sequential.reports))
    seq_total = sum(d.cost.latency_s for d in sequential.decisions if isinstance(d, Placement))
    seq_placed = sum(isinstance(d, Placement) for d in sequential.decisions)
    model = Model(world, view, unit, params.symmetry_breaking)
    model.check = budget.check
    hints: list[list[IntArray]] = []
    joint_built: int | None
    fits = seq_placed == len(joint)
    try:
        joint_built = _build_joint(model, joint, singles, bounds, unit, hints, sequential.decisions if fits else None)
    except OutOfTime:
        joint_built = None

    def sequential_answer(detail: str) -> BatchResult:
        for request, decision in zip(joint, sequential.decisions, strict=True):
            decisions[request.id] = (
                view_placement(view, request, decision, "feasible") if isinstance(decision, Placement) else decision
            )
        report = _report(model, None, "feasible" if seq_placed else "timeout", started, joint_built or 0, detail)
        report = replace(report, objective_s=seq_total if seq_placed else math.nan, stage="joint")
        return BatchResult(
            tuple(decisions[r.id] for r in requests),
            report,
            tuple(bounds.get(r.id, math.nan) for r in requests),
            seq_total,
            seq_placed,
        )

    if joint_built is None and joint:
        return sequential_answer(f"no joint model {_limit_text(params)}; returned the sequential optima")
    rounding = joint_built or 0
    if joint:
        solver = _solver(params, budget)
        status = _status(solver, solver.solve(model.m)) if budget.remaining_s() > 0 else "timeout"
        if status == "timeout" and seq_placed:
            return sequential_answer(
                f"CP-SAT found no joint placement {_limit_text(params)}; returned the sequential optima"
            )
        if status == "infeasible" and seq_placed:
            return sequential_answer(
                "the requests do not fit the shared budgets together; placed the sequential optima that fit"
            )
        if status in ("optimal", "feasible"):
            for request, assignments in zip(joint, model.extract(solver), strict=True):
                decisions[request.id] = view.make_placement(request, assignments, status=status)
            report = _report(model, solver, status, started, rounding, work=solver.deterministic_time)
        else:
            constraint = Constraint.INFEASIBLE if status == "infeasible" else Constraint.TIMEOUT
            detail = (
                "CP-SAT proved the batch infeasible: the requests do not fit the shared budgets together"
                if status == "infeasible"
                else f"CP-SAT found no joint placement {_limit_text(params)}"
            )
            for request in joint:
                decisions[request.id] = Rejection(request.id, 0, "", constraint, detail)
            report = _report(model, solver, status, started, rounding, detail, work=solver.deterministic_time)
    else:
        report = SolveReport(
            "infeasible",
            math.nan,
            math.nan,
            math.nan,
            0.0,
            unit,
            time.perf_counter() - started,
            detail="every request was rejected alone",
        )
    return BatchResult(
        decisions=tuple(decisions[r.id] for r in requests),
        report=report,
        lower_bounds_s=tuple(bounds.get(r.id, math.nan) for r in requests),
        sequential_latency_s=seq_total,
        sequential_placed=seq_placed,
    )


def _single_optima(
    requests: Sequence[Request], view: ClusterView, world: World, params: ExactParams, unit: float, budget: Budget
) -> dict[tuple[str, int], tuple[Decision, SolveReport]]:
    """Each distinct (CNN, source) solved alone on ``view``: its optimum and report.

    Half of the budget goes to these solves: an equal share of the work each,
    and half of the wall-clock time left for each in turn divided by those
    still to solve. ``budget`` is charged with the work spent.
    """
    singles: dict[tuple[str, int], tuple[Decision, SolveReport]] = {}
    distinct = len({(r.cnn, r.source) for r in requests})
    single_work = None if budget.work is None else budget.work / (2 * max(distinct, 1))
    for request in requests:
        key = (request.cnn, request.source)
        if key in singles:
            continue
        left = distinct - len(singles)
        deadline = None
        if budget.deadline is not None:
            deadline = time.perf_counter() + max(budget.remaining_s(), 0.0) / (2 * left)
        singles[key] = solve_request(
            request, view, world, params, time_unit_s=unit, budget=Budget(single_work, deadline)
        )
        budget.spend(singles[key][1].work)
    return singles


def _build_joint(
    model: Model,
    joint: Sequence[Request],
    singles: dict[tuple[str, int], tuple[Decision, SolveReport]],
    bounds: dict[int, float],
    unit: float,
    hints: list[list[IntArray]],
    feasible: Sequence[Decision] | None = None,
) -> int:
    """Add ``joint`` to ``model`` with the single optima as lower-bound cuts; the rounding units.

    The hint is ``feasible`` (placements that fit together, one per request) when given, else
    the single optima (each feasible alone, maybe not together).
    """
    rounding = 0
    for request in joint:
        rv = model.add_request(request)
        rounding += rv.rounding_units
        decision, single_report = singles[(request.cnn, request.source)]
        assert isinstance(decision, Placement)
        bound_units = math.ceil(single_report.bound_s / unit - 1e-6)
        bounds[request.id] = single_report.bound_s
        if rv.t:
            model.m.add(sum(rv.t) + rv.constant_units >= bound_units)
        hints.append(list(decision.assignments))
    if feasible is not None:
        hints[:] = [list(d.assignments) for d in feasible if isinstance(d, Placement)]
    if joint:
        model.finish()
        model.hint(model.canonical(hints))
    return rounding


@dataclass(frozen=True, slots=True)
class SequentialResult:
    """Requests placed optimally one after another, each on what the previous ones left.

    Attributes:
        decisions: one per request, in order.
        reports: the single-request solve of each.
    """

    decisions: tuple[Decision, ...]
    reports: tuple[SolveReport, ...]


def solve_sequential(
    requests: Sequence[Request],
    view: ClusterView,
    world: World,
    params: ExactParams,
    unit: float | None = None,
    budget: Budget | None = None,
) -> SequentialResult:
    """Place ``requests`` in order, each optimally on the residuals the ones before it left.

    The budget is shared equally among the requests still to place. This is
    what a one-at-a-time optimal scheduler does with a window; a joint solve
    can only do better (it relaxes the order).
    """
    started = time.perf_counter()
    budget = budget or Budget.of(params, started)
    comp, mem, bw = view.residuals()
    decisions: list[Decision] = []
    reports: list[SolveReport] = []
    for k, request in enumerate(requests):
        left = len(requests) - k
        share = Budget(
            None if budget.work is None else budget.work / left,
            None if budget.deadline is None else time.perf_counter() + max(budget.remaining_s(), 0.0) / left,
        )
        decision, report = solve_request(
            request,
            ClusterView(world, comp.copy(), mem.copy(), bw.copy()),
            world,
            params,
            time_unit_s=unit,
            budget=share,
        )
        budget.spend(report.work)
        if isinstance(decision, Placement):
            comp -= decision.cost.compute_mults
            mem -= decision.cost.memory_bytes
            bw -= decision.cost.bandwidth_bytes
        decisions.append(decision)
        reports.append(report)
    return SequentialResult(tuple(decisions), tuple(reports))


def rolling_horizon(
    requests: Sequence[Request], view: ClusterView, world: World, params: ExactParams, window: int
) -> list[BatchResult]:
    """Place ``requests`` in consecutive windows of ``window``, each jointly, on what earlier windows left.

    Each window gets an equal share of the parameters' limit (the work limit
    or ``time_limit_s`` is per window). A window's placements are committed
    before the next is solved (the rolling horizon of an online system that
    batches arrivals).
    """
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    comp, mem, bw = view.residuals()
    out = []
    for start in range(0, len(requests), window):
        current = ClusterView(world, comp.copy(), mem.copy(), bw.copy())
        result = solve_batch(requests[start : start + window], current, world, params)
        for decision in result.decisions:
            if isinstance(decision, Placement):
                comp -= decision.cost.compute_mults
                mem -= decision.cost.memory_bytes
                bw -= decision.cost.bandwidth_bytes
        out.append(result)
    return out


def view_placement(view: ClusterView, request: Request, decision: Placement, status: str) -> Placement:
    """``decision`` for ``request`` re-evaluated against ``view`` with ``status``."""
    return view.make_placement(request, list(decision.assignments), status=status)


def _independent_optima(
    joint: Sequence[Request],
    singles: dict[tuple[str, int], tuple[Decision, SolveReport]],
    view: ClusterView,
    started: float,
    unit: float,
) -> SolveReport | None:
    """The batch solution when every request's own optimum fits the shared budgets together, else None.

    Each single-request solve relaxes the batch (same residuals, nothing
    shared), so the sum of their bounds bounds the batch; if their placements
    fit together they are a batch solution with that same value.
    """
    if not joint:
        return None
    comp = np.zeros_like(view.compute_mults)
    mem = np.zeros_like(view.memory_bytes)
    bw = np.zeros_like(view.bandwidth_bytes)
    objective = bound = rounding = 0.0
    statuses = set()
    for request in joint:
        decision, report = singles[(request.cnn, request.source)]
        assert isinstance(decision, Placement)
        comp += decision.cost.compute_mults
        mem += decision.cost.memory_bytes
        bw += decision.cost.bandwidth_bytes
        objective += report.objective_s
        bound += report.bound_s
        rounding += report.rounding_bound_s
        statuses.add(decision.status)
    if np.any(comp > view.compute_mults) or np.any(mem > view.memory_bytes) or np.any(bw > view.bandwidth_bytes):
        return None
    status = "optimal" if statuses == {"optimal"} else "feasible"
    gap = 0.0 if status == "optimal" else max(0.0, (objective - bound) / objective) if objective > 0 else 0.0
    return SolveReport(
        status,
        objective,
        bound,
        gap,
        rounding,
        unit,
        time.perf_counter() - started,
        detail="each request's own optimum; together they fit the shared budgets",
    )


class Exact:
    """Optimal placement of one request at a time with CP-SAT (see the package docstring).

    ``last_report`` holds the :class:`SolveReport` of the latest call.
    ``deterministic`` is True unless a wall-clock ``time_limit_s`` is set: with
    the default deterministic work limit (and, for several workers, CP-SAT's
    interleaved search) the same inputs and seed give the same decision on any
    machine.
    """

    name: ClassVar[str] = "exact"
    Params = ExactParams

    def __init__(self, params: ExactParams, world: World, rng: np.random.Generator) -> None:
        self.deterministic = params.reproducible
        self.params = params
        self.world = world
        self.last_report: SolveReport | None = None

    def place(self, request: Request, view: ClusterView) -> Decision:
        decision, self.last_report = solve_request(request, view, self.world, self.params)
        return decision

    def place_batch(self, requests: Sequence[Request], view: ClusterView) -> BatchResult:
        """Place a window of requests jointly (the paper's formulation)."""
        result = solve_batch(requests, view, self.world, self.params)
        self.last_report = result.report
        return result
