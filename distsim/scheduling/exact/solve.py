"""The single-request solve and the budget it runs under (wall-clock deadline, deterministic work)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
from ortools.sat.python import cp_model

from distsim.model.cnn import Feed
from distsim.placement import LayerRule, rooms
from distsim.scheduling.base import ClusterView, Constraint, Decision, Placement, Rejection, Request
from distsim.scheduling.exact.classes import ClassModel, DeviceClass, device_classes, split_back
from distsim.scheduling.exact.hints import heuristic_hint, minmax_hint
from distsim.scheduling.exact.model import Model, default_time_unit
from distsim.scheduling.exact.params import ExactParams, SolveReport
from distsim.scheduling.exact.precheck import precheck
from distsim.scheduling.validate import validate_placement
from distsim.world import World

#: In ``model: auto``, the per-device model follows an unproved class model only when it would
#: have at most this many flow variables (:func:`device_flows`): CIFAR with 30 participants has
#: about 7,000, VGG-16 with 100 about 150,000 (12 s to build, no better within a minute).
DEVICE_MODEL_MAX_FLOWS = 20_000

#: The class path calls a placement optimal when its latency is within this relative distance of
#: the proved lower bound (the bound's coefficients are rounded down to whole units, so an optimal
#: placement's latency lies a little above it; 1e-5 is 0.001%).
CLASS_OPTIMALITY_GAP = 1e-5


def _proved(latency_s: float, bound_s: float) -> bool:
    """True when ``latency_s`` is within :data:`CLASS_OPTIMALITY_GAP` of the lower bound ``bound_s``."""
    return latency_s - bound_s <= CLASS_OPTIMALITY_GAP * latency_s


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
    except OutOfTime:
        return _out_of_time(request, view, model, hints, params, started, stage)
    by_classes: tuple[Decision, SolveReport] | None = None
    if params.model != "devices":
        classes = device_classes(view)
        if classes is not None and len(classes) < view.fleet.participants:
            fallback = params.model == "auto" and device_flows(request, view, world) <= DEVICE_MODEL_MAX_FLOWS
            share = budget.share(0.5) if fallback else budget
            try:
                by_classes = solve_classes(request, view, world, params, classes, hints, share, started)
            except OutOfTime:
                return _out_of_time(request, view, model, hints, params, started, "model")
            budget.spend(by_classes[1].work)
            decision, report = by_classes
            if not fallback or report.status in ("optimal", "infeasible") or budget.remaining_s() <= 0:
                return by_classes
            if isinstance(decision, Placement):
                hints.append(list(decision.assignments))
    decision, report = _solve_devices(request, view, world, params, model, hints, budget, started, by_classes)
    return _better(decision, report, by_classes)


def _better(
    decision: Decision, report: SolveReport, by_classes: tuple[Decision, SolveReport] | None
) -> tuple[Decision, SolveReport]:
    """The per-device answer, or the class model's when its placement is better; the better bound."""
    if by_classes is None:
        return decision, report
    other, other_report = by_classes
    if not isinstance(other, Placement):
        return decision, report
    bound = (
        max(report.bound_s - report.rounding_bound_s, other_report.bound_s)
        if math.isfinite(report.bound_s)
        else other_report.bound_s
    )
    work = report.work + other_report.work
    chosen: Placement = other
    chosen_report = other_report
    if isinstance(decision, Placement) and decision.cost.latency_s <= other.cost.latency_s:
        if report.status == "optimal":
            return decision, replace(report, work=work)
        chosen, chosen_report = decision, report
    latency = chosen.cost.latency_s
    proved = _proved(latency, bound)
    rounding = max(0.0, latency - bound) if proved else 0.0
    gap = 0.0 if proved else max(0.0, (latency - bound) / latency) if latency > 0 else 0.0
    status = "optimal" if proved else "feasible"
    merged = replace(
        chosen_report,
        status=status,
        objective_s=latency,
        bound_s=bound,
        gap=gap,
        rounding_bound_s=rounding,
        wall_s=report.wall_s,
        work=work,
        detail=(chosen_report.detail + "; " if chosen_report.detail else "")
        + "the better of the class model and the per-device model",
    )
    return replace(chosen, status=status), merged


def _solve_devices(
    request: Request,
    view: ClusterView,
    world: World,
    params: ExactParams,
    model: Model,
    hints: list[list[IntArray]],
    budget: Budget,
    started: float,
    by_classes: tuple[Decision, SolveReport] | None,
) -> tuple[Decision, SolveReport]:
    """The per-device model: build, hint, search (the class model's bound, if any, as a cut)."""
    unit = model.unit
    stage = "model"
    try:
        stage = "model"
        budget.check()
        rv = model.add_request(request)
        model.finish()
        if by_classes is not None and math.isfinite(by_classes[1].bound_s):
            # A proved lower bound of the true latency, hence of the model's (rounded up) objective.
            cut = math.ceil(by_classes[1].bound_s / unit * (1 - 1e-9))
            model.m.add(sum(model.objective_vars) + model.objective_constant >= cut)
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


def device_flows(request: Request, view: ClusterView, world: World) -> int:
    """Flow variables the per-device model would have: candidate senders x receivers per per-map layer."""
    cnn = world.cnns[request.cnn]
    limits = world.limits[request.cnn]
    d = view.fleet.participants
    comp, mem = view.compute_mults[:d], view.memory_bytes[:d]
    held, devices = np.zeros(d, dtype=np.int64), np.arange(d)
    counts = []
    for layer in cnn.layers:
        rule = LayerRule.of(layer, limits)
        counts.append(1 if rule.on_source else int((rooms(rule, comp, mem, held, devices) > 0).sum()))
    return sum(counts[k - 1] * counts[k] for k, layer in enumerate(cnn.layers) if k and layer.feed is Feed.MAPS)


def solve_classes(
    request: Request,
    view: ClusterView,
    world: World,
    params: ExactParams,
    classes: list[DeviceClass],
    hints: list[list[IntArray]],
    budget: Budget,
    started: float,
) -> tuple[Decision, SolveReport]:
    """The class model (:mod:`.classes`): its bound, and the best of its split-backs and the hints.

    The class model rounds every time coefficient *down*, so its optimum and
    CP-SAT's bound on it are lower bounds of the true (cost-model) optimum,
    less one unit per layer priced through a division (``slack_units``):
    ``bound_s`` is a proved lower bound of the true optimum, and ``gap`` the
    proved relative distance of the placement from it. Rounding down keeps the
    bound a little below even an optimal placement's latency, so the answer is
    ``optimal`` when the gap is at most :data:`CLASS_OPTIMALITY_GAP`; its
    ``rounding_bound_s`` is then that distance in seconds (0 otherwise).
    """
    unit = params.time_unit_s or default_time_unit(world, [request.cnn], params.class_resolution)
    building = time.perf_counter()
    model = ClassModel(world, view, request, unit, classes, budget.check)
    model.deadline = budget.deadline
    model_s = time.perf_counter() - building
    candidates = [view.make_placement(request, h, status="feasible") for h in hints]
    if candidates:
        first = min(candidates, key=lambda p: p.cost.latency_s)  # min keeps the first of equals
        model.hint(first.assignments)
    build_s = time.perf_counter() - started
    proto = model.m.proto
    nan = math.nan

    def report(status: str, latency: float, bound_s: float, detail: str, work: float, by_bounds: bool) -> SolveReport:
        gap = nan
        if math.isfinite(latency) and math.isfinite(bound_s):
            gap = max(0.0, (latency - bound_s) / latency) if latency > 0 else 0.0
        rounding_s = gap * latency if status == "optimal" else 0.0
        if status == "optimal":
            gap = 0.0
        return SolveReport(
            status, latency, bound_s, gap, rounding_s, unit, time.perf_counter() - started,
            len(proto.variables), len(proto.constraints), detail, build_s, by_bounds, work, model_s=model_s,
        )  # fmt: skip

    lower_s = model.lower_bound() * unit
    if candidates and _proved(first.cost.latency_s, lower_s):
        # The better hint meets the per-layer lower bounds: optimal without a search.
        return view.make_placement(request, list(first.assignments), status="optimal"), report(
            "optimal", first.cost.latency_s, lower_s, "", 0.0, True
        )
    # The search gets most of the budget; the rest is for splitting its solution back to devices.
    solver = _solver(params, budget.share(0.7))
    status = _status(solver, solver.solve(model.m))
    work = solver.deterministic_time
    budget.spend(work)
    if status == "infeasible":
        detail = "CP-SAT proved the class model infeasible (it relaxes the per-device model: the request does not fit)"
        return Rejection(request.id, 0, "", Constraint.INFEASIBLE, detail), report(
            status, nan, nan, detail, work, False
        )
    bound_s = lower_s
    if status in ("optimal", "feasible"):
        bound_s = max(lower_s, (math.floor(solver.best_objective_bound + 1e-6) - model.slack_units) * unit)
        solution = model.solution(solver)
        # The quick splits first (maps dealt and moved), then with the per-layer assignment,
        # so that a wall-clock budget always leaves at least one split.
        try:
            for assign in (False, True):
                for spread in (True, False):
                    placement = view.make_placement(
                        request, split_back(model, solution, spread, assign), status="feasible"
                    )
                    if not validate_placement(placement, request, view):
                        candidates.append(placement)
        except OutOfTime:
            pass  # the wall-clock budget ended inside a split: keep those made
    if not candidates:
        detail = f"CP-SAT found no placement {_limit_text(params)}"
        return Rejection(request.id, 0, "", Constraint.TIMEOUT, detail), report(
            "timeout", nan, bound_s, detail, work, False
        )
    best = min(candidates, key=lambda p: p.cost.latency_s)
    latency = best.cost.latency_s
    verdict = "optimal" if _proved(latency, bound_s) else "feasible"
    return view.make_placement(request, list(best.assignments), status=verdict), report(
        verdict, latency, bound_s, "", work, False
    )
