"""The ``exact`` scheduler: one request at a time, or a window jointly, with CP-SAT."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from distsim.scheduling.base import ClusterView, Decision, Request
from distsim.scheduling.exact.batch import BatchResult, solve_batch
from distsim.scheduling.exact.params import ExactParams, SolveReport
from distsim.scheduling.exact.solve import solve_request
from distsim.world import World


class Exact:
    """Optimal placement of one request at a time with CP-SAT (see the package docstring).

    ``last_report`` holds the :class:`SolveReport` of the latest call. Unless
    a wall-clock ``time_limit_s`` is set (``params.reproducible``), the default
    deterministic work limit (and, for several workers, CP-SAT's interleaved
    search) gives the same decision for the same inputs and seed on any
    machine.

    Under ``simulation.placement_period_s`` the engine hands each window to
    :meth:`place_batch` (unless ``joint_windows`` is False).
    """

    name: ClassVar[str] = "exact"
    Params = ExactParams

    def __init__(self, params: ExactParams, world: World, rng: np.random.Generator) -> None:
        self.params = params
        self.world = world
        self.last_report: SolveReport | None = None
        #: Read by the engine (distsim/engine/windows.py): place periodic windows jointly.
        self.joint_windows = params.joint_windows

    def place(self, request: Request, view: ClusterView) -> Decision:
        decision, self.last_report = solve_request(request, view, self.world, self.params)
        return decision

    def place_batch(self, requests: Sequence[Request], view: ClusterView) -> BatchResult:
        """Place a window of requests jointly (the paper's formulation)."""
        result = solve_batch(requests, view, self.world, self.params)
        self.last_report = result.report
        return result
