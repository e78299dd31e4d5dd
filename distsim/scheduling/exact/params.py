"""Parameters and the solve report of the exact scheduler."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field

from distsim.scheduling.base import SchedulerParams


class ExactParams(SchedulerParams):
    """CP-SAT options.

    Attributes:
        time_limit_s: wall-clock limit per solve, s (a single request, or a whole batch).
        workers: CP-SAT search workers (a parallel portfolio; 1 makes runs reproducible but is
            several times slower on the benchmark instances).
        relative_gap: stop when ``(objective - bound) / objective`` is at most this (0: prove optimality).
        time_unit_s: length of one integer time unit, s; None derives it from ``resolution``.
        resolution: when ``time_unit_s`` is None, the unit is the CNN's multiplications on the
            fastest device divided by this.
        seed: CP-SAT random seed.
        hint: warm-start CP-SAT with the better of the DistPrivacy heuristic's placement and
            :func:`minmax_hint`'s (and skip the search when it meets the per-layer lower bounds).
        symmetry_breaking: order identical participants by the segments they hold (off by
            default: CP-SAT's own symmetry detection did better on the benchmark instances).
    """

    time_limit_s: float = Field(10.0, gt=0)
    workers: int = Field(2, ge=1, le=64)
    relative_gap: float = Field(0.0, ge=0, lt=1)
    time_unit_s: float | None = Field(None, gt=0)
    resolution: int = Field(10_000, ge=100)
    seed: int = Field(0, ge=0)
    hint: bool = True
    symmetry_breaking: bool = False


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
