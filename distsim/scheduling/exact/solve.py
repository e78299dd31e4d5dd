"""Solve drivers: one request, a batch window, and the ``exact`` scheduler class."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
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


def _solver(params: ExactParams, time_limit_s: float) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    p = solver.parameters
    p.max_time_in_seconds = time_limit_s
    p.num_workers = params.workers
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
    )


def solve_request(
    request: Request,
    view: ClusterView,
    world: World,
    params: ExactParams,
    *,
    time_unit_s: float | None = None,
    hint: list[IntArray] | None = None,
) -> tuple[Decision, SolveReport]:
    """Place one request optimally against ``view``'s residuals.

    Returns the decision (a :class:`Placement` with status ``optimal`` or
    ``feasible``, or a :class:`Rejection` with constraint ``infeasible``,
    ``unreachable`` or ``timeout``) and the :class:`SolveReport`. When CP-SAT
    finds no solution within the time limit but a hint exists, the better hint
    is returned as ``feasible`` (bound: the per-layer lower bounds).
    """
    started = time.perf_counter()
    unit = time_unit_s or params.time_unit_s or default_time_unit(world, [request.cnn], params.resolution)
    model = Model(world, view, unit, params.symmetry_breaking)
    rejection = precheck(request, view, world)
    if rejection is not None:
        return rejection, _report(model, None, "infeasible", started, 0, rejection.detail)
    rv = model.add_request(request)
    model.finish()
    if hint is not None:
        hints = [hint]
    elif params.hint:
        hints = [h for h in (heuristic_hint(world, request, view), minmax_hint(world, request, view)) if h is not None]
    else:
        hints = []
    best: tuple[int, list[IntArray]] | None = None
    for candidate in hints:
        objective = model.hint(model.canonical([candidate]))
        if best is None or objective < best[0]:
            best = (objective, candidate)
    if best is not None and best[1] is not hints[-1]:
        model.hint(model.canonical([best[1]]))
    # A hint whose objective meets the per-layer lower bounds is optimal: CP-SAT
    # only has to confirm it is feasible, with every variable fixed to it.
    confirm = best is not None and best[0] <= model.lower_bound()
    build_s = time.perf_counter() - started
    solver = _solver(params, params.time_limit_s)
    solver.parameters.fix_variables_to_their_hinted_value = confirm
    status = _status(solver, solver.solve(model.m))
    if confirm and status != "optimal":  # not expected: the hint broke a model constraint; search normally
        confirm = False
        solver = _solver(params, max(params.time_limit_s - (time.perf_counter() - started), 0.1))
        status = _status(solver, solver.solve(model.m))
    if status == "infeasible":
        detail = "CP-SAT proved the model infeasible (the residual budgets cannot hold the request jointly)"
        return (
            Rejection(request.id, 0, "", Constraint.INFEASIBLE, detail),
            _report(model, solver, status, started, rv.rounding_units, detail, build_s=build_s, by_bounds=confirm),
        )
    if status == "timeout" and best is not None:
        # CP-SAT did not even reach its first solution (presolve of a large model), but the
        # hint is feasible: return it, with the per-layer bounds as the proved lower bound.
        objective_s, bound_s = best[0] * unit, model.lower_bound() * unit
        detail = f"CP-SAT found no placement within {params.time_limit_s} s; returned the better hint"
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
        )
        return view.make_placement(request, model.canonical([best[1]])[0], status="feasible"), report
    if status == "timeout":
        detail = f"CP-SAT found no placement within {params.time_limit_s} s"
        return (
            Rejection(request.id, 0, "", Constraint.TIMEOUT, detail),
            _report(model, solver, status, started, rv.rounding_units, detail, build_s=build_s, by_bounds=confirm),
        )
    assignments = model.extract(solver)[0]
    placement = view.make_placement(request, assignments, status=status)
    return placement, _report(model, solver, status, started, rv.rounding_units, build_s=build_s, by_bounds=confirm)


@dataclass(frozen=True, slots=True)
class BatchResult:
    """Joint placement of a window of requests.

    Attributes:
        decisions: one per request, in the order given.
        report: the joint solve (objective: sum of the placed requests' latencies).
        lower_bounds_s: per request, a proved lower bound of its latency (its
            single-request optimum bound on the same residuals); NaN if rejected.
    """

    decisions: tuple[Decision, ...]
    report: SolveReport
    lower_bounds_s: tuple[float, ...]

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
    relaxes the batch) and no joint model is built; otherwise the joint model
    is solved with the single optima as lower-bound cuts and hints. If the
    rest cannot be placed together, every one of them is rejected with
    constraint ``infeasible`` (or ``timeout``).
    """
    started = time.perf_counter()
    unit = params.time_unit_s or default_time_unit(world, sorted({r.cnn for r in requests}), params.resolution)
    decisions: dict[int, Decision] = {}
    bounds: dict[int, float] = {}
    singles: dict[tuple[str, int], tuple[Decision, SolveReport]] = {}
    distinct = len({(r.cnn, r.source) for r in requests})
    single_params = params.model_copy(update={"time_limit_s": params.time_limit_s / (2 * max(distinct, 1))})
    for request in requests:
        key = (request.cnn, request.source)
        if key not in singles:
            singles[key] = solve_request(request, view, world, single_params, time_unit_s=unit)
        decision = singles[key][0]
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
    model = Model(world, view, unit, params.symmetry_breaking)
    rounding = 0
    hints = []
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
    report: SolveReport
    if joint:
        model.finish()
        model.hint(model.canonical(hints))
        remaining = max(params.time_limit_s - (time.perf_counter() - started), 0.1 * params.time_limit_s)
        solver = _solver(params, remaining)
        status = _status(solver, solver.solve(model.m))
        if status in ("optimal", "feasible"):
            for request, assignments in zip(joint, model.extract(solver), strict=True):
                decisions[request.id] = view.make_placement(request, assignments, status=status)
            report = _report(model, solver, status, started, rounding)
        else:
            constraint = Constraint.INFEASIBLE if status == "infeasible" else Constraint.TIMEOUT
            detail = (
                "CP-SAT proved the batch infeasible: the requests do not fit the shared budgets together"
                if status == "infeasible"
                else f"CP-SAT found no joint placement within {params.time_limit_s} s"
            )
            for request in joint:
                decisions[request.id] = Rejection(request.id, 0, "", constraint, detail)
            report = _report(model, solver, status, started, rounding, detail)
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
    )


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
    """Optimal placement of one request at a time with CP-SAT (see the module docstring).

    ``last_report`` holds the :class:`SolveReport` of the latest call. With one
    worker and a fixed seed CP-SAT is deterministic for a given model (unless
    the wall-clock limit cuts the search), so ``deterministic`` is True and the
    engine may probe it on an idle fleet; with several workers the parallel
    portfolio races and ``deterministic`` is False. (CP-SAT's deterministic
    ``interleave_search`` was several times slower on the benchmark.)
    """

    name: ClassVar[str] = "exact"
    Params = ExactParams

    def __init__(self, params: ExactParams, world: World, rng: np.random.Generator) -> None:
        self.deterministic = params.workers == 1
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
