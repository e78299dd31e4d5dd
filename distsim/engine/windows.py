"""Periodic placement windows handed to a batch-capable scheduler in one call (docs/dynamics.md).

With ``simulation.placement_period_s`` every placement attempt waits for the
end of its window. A scheduler with a ``place_batch(requests, view)`` method
(the ``exact`` scheduler's joint solver) is then called once per window end
with all the requests waiting on it, in arrival order, against the residual
budgets at that instant; each request then takes its own decision when its
process resumes. The resumptions happen at the same simulated instant, one
after another in the order the requests began waiting, and each reserves its
placement before the next resumes, so the joint placements, which fit the
residuals together, are reserved as they were decided.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from distsim.scheduling.base import ClusterView, Decision, Request


class BatchDecisions(Protocol):
    """What ``place_batch`` returns: one decision per request, in the order given."""

    @property
    def decisions(self) -> Sequence[Decision]:
        """The decisions, one per request."""
        ...


PlaceBatch = Callable[[Sequence[Request], ClusterView], BatchDecisions]


def batch_placer(scheduler: object) -> PlaceBatch | None:
    """The scheduler's ``place_batch`` when it has one and does not opt out, else None.

    A scheduler opts out with a false ``joint_windows`` attribute (the
    ``exact`` scheduler's ``joint_windows: false`` parameter); its requests are
    then placed one after another as with any other scheduler.
    """
    place_batch = getattr(scheduler, "place_batch", None)
    if not callable(place_batch) or not getattr(scheduler, "joint_windows", True):
        return None
    return place_batch


class Windows:
    """The requests waiting on each window end and the decisions made for them.

    Attributes:
        batches: how many ``place_batch`` calls were made (one per window with a request).
    """

    def __init__(self, place_batch: PlaceBatch) -> None:
        self._place_batch = place_batch
        self._waiting: dict[int, list[Request]] = {}
        self._decided: dict[int, dict[int, Decision]] = {}
        self.batches = 0

    def wait(self, window: int, request: Request) -> None:
        """``request`` waits for the end of ``window`` (its attempt is part of that window's batch)."""
        self._waiting.setdefault(window, []).append(request)

    def decision(
        self,
        window: int,
        request: Request,
        admitted: Callable[[Request], bool],
        view: Callable[[], ClusterView],
    ) -> Decision:
        """``request``'s decision in ``window``; the first call of a window places the whole window.

        ``admitted`` leaves out the requests the engine drops before any
        decision (``fleet_too_small``); ``view`` gives the residual budgets now.
        """
        decided = self._decided.get(window)
        if decided is None:
            pending = [r for r in self._waiting.pop(window, []) if admitted(r)]
            result = self._place_batch(pending, view())
            self.batches += 1
            # strict: a scheduler returning a decision too few or too many is an error, not a skip.
            decided = self._decided[window] = {r.id: d for r, d in zip(pending, result.decisions, strict=True)}
        decision = decided.pop(request.id)
        if not decided:
            del self._decided[window]
        return decision
