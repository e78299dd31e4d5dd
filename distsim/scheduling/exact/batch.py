"""Joint placement of a window of requests with shared budgets, the sequential baseline and the rolling horizon."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from distsim.scheduling.base import ClusterView, Constraint, Decision, Placement, Rejection, Request
from distsim.scheduling.exact.model import Model, default_time_unit
from distsim.scheduling.exact.params import ExactParams, SolveReport
from distsim.scheduling.exact.solve import Budget, OutOfTime, _limit_text, _report, _solver, _status, solve_request
from distsim.world import World

IntArray = npt.NDArray[np.int64]


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
