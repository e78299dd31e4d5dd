"""Parameters and the solve report of the exact scheduler."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field

from distsim.fields import DurationS, Integer, Number, Seed, StrictBool
from distsim.scheduling.base import SchedulerParams

#: CP-SAT deterministic time: positive and finite.
WorkLimit = Annotated[float, Number, Field(gt=0, le=1e9, allow_inf_nan=False)]

#: Default CP-SAT deterministic time per solve when no limit is given.
DEFAULT_WORK_LIMIT = 10.0


class ExactParams(SchedulerParams):
    """CP-SAT options.

    Attributes:
        work_limit: CP-SAT work per solve in CP-SAT's *deterministic seconds* (its own count of
            work done, independent of machine speed and load; about one CPU second each on the
            benchmark machine). The default limit (10 when neither limit is set): the same seed
            then gives byte-identical results on any machine, with any ``workers`` (several
            workers search in CP-SAT's deterministic interleaved mode).
        time_limit_s: wall-clock budget per decision, s (a single request, or a whole batch),
            covering pre-check, hints, model building and search. Opt-in and **not
            reproducible**: where it binds, the answer depends on machine speed and load. With it
            set, several workers race as CP-SAT's parallel portfolio (faster, not deterministic),
            and the work limit applies only if given.
        workers: CP-SAT search workers.
        relative_gap: stop when ``(objective - bound) / objective`` is at most this (0: prove optimality).
        time_unit_s: length of one integer time unit, s; None derives it from ``resolution``.
        resolution: when ``time_unit_s`` is None, the unit is the CNN's multiplications on the
            fastest device divided by this.
        seed: CP-SAT random seed.
        hint: warm-start CP-SAT with the better of the DistPrivacy heuristic's placement and
            :func:`minmax_hint`'s (and skip the search when it meets the per-layer lower bounds).
        symmetry_breaking: order identical participants by the segments they hold (off by
            default: CP-SAT's own symmetry detection did better on the benchmark instances).
        model: ``classes`` solves the class model (devices of one class are interchangeable;
            :mod:`distsim.scheduling.exact.classes`) and splits it back to devices; ``devices``
            the per-device model; ``auto`` (default) the class model first and, when it did not
            prove the optimum and the per-device model is small
            (:data:`~distsim.scheduling.exact.solve.DEVICE_MODEL_MAX_FLOWS`), the per-device
            model with the rest of the budget, the class bound as a cut and the class answer as
            a hint. Without two interchangeable devices (or over a topology) it is ``devices``.
        class_resolution: the class model's time unit is the CNN's multiplications on the
            fastest device divided by this (its coefficients are rounded down, so a finer unit
            only tightens its bound; the model stays small).
        joint_windows: under ``simulation.placement_period_s``, place each window's requests
            jointly with :func:`~distsim.scheduling.exact.solve_batch` (one decision budget per
            window); False places them one at a time in arrival order like any scheduler.
    """

    work_limit: WorkLimit | None = None
    time_limit_s: DurationS | None = None
    workers: Annotated[int, Integer, Field(ge=1, le=64)] = 2
    relative_gap: Annotated[float, Number, Field(ge=0, lt=1, allow_inf_nan=False)] = 0.0
    time_unit_s: DurationS | None = None
    resolution: Annotated[int, Integer, Field(ge=100, le=10**9)] = 10_000
    seed: Seed = 0
    hint: StrictBool = True
    symmetry_breaking: StrictBool = False
    model: Literal["auto", "classes", "devices"] = "auto"
    class_resolution: Annotated[int, Integer, Field(ge=100, le=10**12)] = 10**9
    joint_windows: StrictBool = True

    @property
    def reproducible(self) -> bool:
        """True when no wall-clock limit is set: results depend on the inputs and the seed only."""
        return self.time_limit_s is None

    @property
    def effective_work_limit(self) -> float | None:
        """The deterministic work limit per solve (None: no work limit, wall clock only)."""
        if self.work_limit is not None:
            return self.work_limit
        return DEFAULT_WORK_LIMIT if self.time_limit_s is None else None


@dataclass(frozen=True, slots=True)
class SolveReport:
    """What CP-SAT did on one solve.

    Attributes:
        status: ``optimal`` (proved), ``feasible`` (a solution, optimality not proved
            within the limits), ``infeasible`` (proved, or found by a pre-check) or
            ``timeout`` (no solution within the time limit).
        objective_s: the model's objective converted to seconds (sum of latencies); NaN if none.
        bound_s: CP-SAT's best lower bound on the objective, s; NaN if unknown.
        gap: ``(objective_s - bound_s) / objective_s``; 0 when optimal, NaN if unknown.
        rounding_bound_s: ``E``: the true optimum is at most this far below ``objective_s``'s
            placement latency, and that latency is within ``[objective_s - E, objective_s]``.
        time_unit_s: length of one model time unit, s.
        wall_s: wall-clock time of the solve including model building, s.
        variables: variables in the model.
        constraints: constraints in the model.
        detail: why the solve failed, or ''.
        build_s: part of ``wall_s`` spent before CP-SAT's solve (pre-check, model, bounds, hints), s.
        by_bounds: True when the hint met the per-layer lower bounds, so CP-SAT only confirmed
            that it is feasible (no search).
        work: CP-SAT deterministic time spent (see :attr:`ExactParams.work_limit`).
        stage: where a wall-clock limit stopped the decision (``precheck``, ``hints``, ``model``,
            ``search``), or '' when it did not.
        model_s: time spent building the class model itself, s (part of ``build_s``; 0 when the
            per-device model decided).
    """

    status: str
    objective_s: float
    bound_s: float
    gap: float
    rounding_bound_s: float
    time_unit_s: float
    wall_s: float
    variables: int = 0
    constraints: int = 0
    detail: str = ""
    build_s: float = 0.0
    by_bounds: bool = False
    work: float = 0.0
    stage: str = ""
    model_s: float = 0.0
