"""Residual budgets of every device, reserved on placement and released on completion."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from distsim.model.cost import PlacementCost
from distsim.scheduling.base import ClusterView
from distsim.world import World

IntArray = npt.NDArray[np.int64]


class BudgetViolation(AssertionError):
    """A reservation drove a residual budget below zero (a scheduler bug)."""


class Ledger:
    """Residual compute (mults), memory (bytes) and bandwidth (bytes) per device."""

    def __init__(self, world: World) -> None:
        self.world = world
        fleet = world.fleet
        self.compute_mults = fleet.compute_budget_mults.copy()
        self.memory_bytes = fleet.memory_bytes.copy()
        self.bandwidth_bytes = fleet.bandwidth_budget_bytes.copy()
        self.in_flight = 0
        #: Changes on every reserve and release: equal versions mean equal residuals.
        self.version = 0

    def view(self) -> ClusterView:
        """A read-only view for schedulers."""
        arrays = []
        for array in (self.compute_mults, self.memory_bytes, self.bandwidth_bytes):
            ro = array.view()
            ro.flags.writeable = False
            arrays.append(ro)
        return ClusterView(self.world, arrays[0], arrays[1], arrays[2])

    def reserve(self, cost: PlacementCost) -> None:
        """Hold what a placement needs until :meth:`release`."""
        self.compute_mults -= cost.compute_mults
        self.memory_bytes -= cost.memory_bytes
        self.bandwidth_bytes -= cost.bandwidth_bytes
        self.in_flight += 1
        self.version += 1
        if (self.compute_mults < 0).any() or (self.memory_bytes < 0).any() or (self.bandwidth_bytes < 0).any():
            raise BudgetViolation("a placement exceeds a residual budget")

    def release(self, cost: PlacementCost) -> None:
        """Give back what :meth:`reserve` held."""
        self.compute_mults += cost.compute_mults
        self.memory_bytes += cost.memory_bytes
        self.bandwidth_bytes += cost.bandwidth_bytes
        self.in_flight -= 1
        self.version += 1

    def is_idle(self) -> bool:
        """True when every budget is back to its full value."""
        fleet = self.world.fleet
        return bool(
            np.array_equal(self.compute_mults, fleet.compute_budget_mults)
            and np.array_equal(self.memory_bytes, fleet.memory_bytes)
            and np.array_equal(self.bandwidth_bytes, fleet.bandwidth_budget_bytes)
        )
