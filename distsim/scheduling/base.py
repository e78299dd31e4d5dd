"""The scheduler protocol: ``place(request, view) -> Placement | Rejection``.

A scheduler sees a read-only :class:`ClusterView` (the static world plus the
residual budgets of every device) and returns either a :class:`Placement` (a
device per segment of every layer, with its cost) or a :class:`Rejection`
saying which layer and which constraint stopped it. It never mutates the view:
the engine reserves what a placement holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from distsim.model.compiled import layer_bounds
from distsim.model.cost import PlacementCost, evaluate, evaluate_flat
from distsim.placement import Constraint

if TYPE_CHECKING:
    from distsim.world import World

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Request:
    """An inference request.

    Attributes:
        id: request number, 0-based, in arrival order.
        source: device id of the camera that emitted it.
        cnn: name of the CNN to run.
        arrival_at: first arrival instant, s.
    """

    id: int
    source: int
    cnn: str
    arrival_at: float


@dataclass(frozen=True, slots=True)
class Rejection:
    """A request the scheduler could not place.

    Attributes:
        request_id: the request.
        layer: 1-based layer where placement failed (0 when not layer specific).
        layer_name: its name ('' when not layer specific).
        constraint: the binding constraint.
        detail: human-readable explanation.
    """

    request_id: int
    layer: int
    layer_name: str
    constraint: Constraint
    detail: str = ""

    @property
    def reason(self) -> str:
        """``constraint@layer_name`` (or just the constraint)."""
        return f"{self.constraint}@{self.layer_name}" if self.layer_name else str(self.constraint)


@dataclass(frozen=True, slots=True)
class Placement:
    """Where every segment of a request runs, and what that costs.

    Attributes:
        request_id: the request.
        cnn: CNN name.
        assignments: per layer ``l`` (index ``l - 1``), the device id of each segment.
        cost: cost under the analytic model (latency, reservations, traffic).
        status: how the scheduler vouches for it: ``heuristic``, ``optimal`` or ``feasible``.
    """

    request_id: int
    cnn: str
    assignments: tuple[IntArray, ...]
    cost: PlacementCost
    status: str = "heuristic"


Decision = Placement | Rejection


class ClusterView:
    """What a scheduler may read: the world and the residual budgets.

    Residual arrays are indexed by device id and are read-only views.
    """

    def __init__(self, world: World, compute_mults: IntArray, memory_bytes: IntArray, bandwidth_bytes: IntArray):
        self.world = world
        self.fleet = world.fleet
        self.links = world.links
        self.compute_mults = compute_mults
        self.memory_bytes = memory_bytes
        self.bandwidth_bytes = bandwidth_bytes
        #: Devices in the fleet now (read-only bool per device id), or None when every device is.
        #: A departed device also shows zero residuals (docs/dynamics.md); a scheduler that can
        #: place segments needing nothing should skip devices marked False here.
        self.available: npt.NDArray[np.bool_] | None = None

    @classmethod
    def idle(cls, world: World) -> ClusterView:
        """A view of the fleet with every budget free."""
        fleet = world.fleet
        return cls(world, fleet.compute_budget_mults, fleet.memory_bytes, fleet.bandwidth_budget_bytes)

    def residuals(self) -> tuple[IntArray, IntArray, IntArray]:
        """Writable copies of (compute, memory, bandwidth) residuals for a scheduler's scratch work."""
        return self.compute_mults.copy(), self.memory_bytes.copy(), self.bandwidth_bytes.copy()

    def make_placement(self, request: Request, assignments: list[IntArray], status: str = "heuristic") -> Placement:
        """Wrap assignments into a :class:`Placement` costed by the one cost model."""
        cnn = self.world.cnns[request.cnn]
        frozen = tuple(np.asarray(a, dtype=np.int64) for a in assignments)
        for array in frozen:
            array.flags.writeable = False
        return Placement(request.id, request.cnn, frozen, evaluate(cnn, frozen, self.fleet, self.links), status)

    def make_placement_flat(self, request: Request, flat: IntArray, status: str = "heuristic") -> Placement:
        """:meth:`make_placement` of a flat int64 assignment (layer ``l``'s segments one after another).

        ``flat`` is frozen (made read-only) and each layer's assignment is a view of it,
        so nothing is copied; the cost is :func:`~distsim.model.cost.evaluate_flat`'s.
        """
        cnn = self.world.cnns[request.cnn]
        flat.flags.writeable = False
        bounds = layer_bounds(cnn)
        assignments = tuple([flat[bounds[k] : bounds[k + 1]] for k in range(len(bounds) - 1)])
        return Placement(request.id, request.cnn, assignments, evaluate_flat(cnn, flat, self.fleet, self.links), status)


class SchedulerParams(BaseModel):
    """Base of every scheduler's parameter model (unknown fields are errors)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@runtime_checkable
class Scheduler(Protocol):
    """The whole contract between a scheduler and distsim (``docs/extending.md`` has an example).

    A scheduler is a class; ``scheduler: {name: ...}`` names it by its
    registered ``name``, by an entry point of the group ``distsim.schedulers``
    or by an import path ``module.path:ClassName``. distsim reads nothing else
    than what is listed here.

    Required:

    * ``name: ClassVar[str]``: the name results and tables show.
    * ``Params: ClassVar[type[SchedulerParams]]``: the pydantic model of
      ``scheduler.params`` (a :class:`SchedulerParams` subclass, so unknown
      fields are errors). It is validated before anything runs and errors
      name ``scheduler.params.<field>``; use the types of
      :mod:`distsim.fields` (finite floats, bounded counts).
    * ``__init__(self, params: Params, world: World, rng: numpy.random.Generator)``:
      built once per run, after validation. ``world`` is the static
      :class:`~distsim.world.World` (fleet, links, CNNs, privacy limits);
      ``rng`` is the scheduler's own child stream of the run seed: draw every
      random number from it (no global random state), so runs are
      reproducible.
    * ``place(self, request, view) -> Placement | Rejection``: decide one
      request against the view's residual budgets. Never mutate the view
      (its arrays are read-only); build placements with
      :meth:`ClusterView.make_placement` so the one cost model prices them;
      return a :class:`Rejection` naming the binding :class:`Constraint` when
      nothing fits. The engine reserves what a placement holds, validates it
      in tests (:func:`distsim.scheduling.validate.check_placement`) and
      retries rejected requests under the scenario's retry policy.

    Optional class attributes (default in brackets):

    * ``repeatable`` [False]: True promises that ``place`` keeps no state
      between calls and that its decision depends only on ``request.source``
      (hence ``request.cnn``) and the view's residuals, with ``request.id``
      only copied into the result. The engine then reuses the last rejection
      of a source while the ledger is unchanged instead of calling ``place``
      again, and may probe the scheduler on an idle fleet.
    * ``honours_privacy`` [True]: False for baselines that lift the privacy
      caps by design (the validator and the exposure invariant read it; the
      run is then not privacy-certified).
    * ``participants_only`` [True]: False when segments may run on the
      source cameras themselves (the validator's role check reads it).
    * ``min_participants(cnn) -> int`` (method): the fewest participants it
      needs on an idle fleet; without it, the privacy mechanism's minimum
      when it honours privacy, else 0 (see :func:`min_participants`). The
      engine drops a request as ``fleet_too_small`` at once when the fleet
      is smaller.
    * ``place_batch(requests, view)`` (method) returning an object whose
      ``decisions`` hold one decision per request in order: under
      ``simulation.placement_period_s`` the engine places each window's
      waiting requests in one call (``distsim/engine/windows.py``); an
      attribute ``joint_windows = False`` opts out.
    """

    name: ClassVar[str]

    def place(self, request: Request, view: ClusterView) -> Decision:
        """Return a placement that fits the view's residual budgets, or a rejection."""
        ...


def min_participants(scheduler: object, world: World, cnn: str) -> int:
    """Fewest participants ``scheduler`` needs to place a request for ``cnn`` on an idle fleet.

    Under the constraints that scheduler honours: its own ``min_participants(cnn)``
    method when it has one; else the privacy mechanism's minimum fleet when it
    honours privacy (``honours_privacy``, default True); else none (a baseline
    that lifts privacy by design is not held to the privacy caps).
    """
    own = getattr(scheduler, "min_participants", None)
    if callable(own):
        return int(own(cnn))
    if getattr(scheduler, "honours_privacy", True):
        return world.mechanism.min_participants(world.cnns[cnn])
    return 0
