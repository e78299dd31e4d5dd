"""How the ``contention`` timing model reports busy intervals to the energy meter (docs/energy.md).

Two ways, chosen per run, both charging each job ``watts * (end - start)`` for its exact interval:

* **At its instants** (churn or batteries, :func:`~distsim.engine.dynamics.needs_dynamics`): a job begins on
  the meter when it starts (:meth:`Meter.begin`) and an alarm ends it at its end (:meth:`Meter.end`), so
  a battery empties at the right instant and a job that outlives its failed request charges its device
  only, as the meter's rules say.
* **In closed form** (a fleet that never changes): a job's seconds are added to its request's busy seconds
  per (kind, device) when it starts (its end is known then), and charged (:meth:`Meter.charge`) when the
  request ends, after every job of it has ended: the same joules and the same attribution, one meter call
  per device and kind instead of two per job, and no event at a job's end.
"""

from __future__ import annotations

from typing import Any

from distsim.engine.contention_calendar import Alarms, Run

#: The kinds of busy interval, in the order a run's seconds are charged.
KINDS = ("cpu", "rx", "tx")


class JobMeter:
    """The energy side of the contention engine: ``meter`` (or None: no metering), ``instants`` as above."""

    __slots__ = ("alarms", "instants", "meter")

    def __init__(self, alarms: Alarms, meter: Any, instants: bool) -> None:
        self.alarms = alarms
        self.meter = meter
        self.instants = instants

    @property
    def closed_form(self) -> bool:
        """True when jobs are charged in closed form (no per-job meter calls or events)."""
        return self.meter is None or not self.instants

    def hop(self, run: Run, u: int, v: int, start: float, end: float) -> None:
        """A hop ``u -> v`` over ``[start, end]`` (s), known when it starts: tx on ``u``, rx on ``v``."""
        if self.meter is None:
            return
        if self.instants:
            self.alarms.at(end, self._end, (self.meter.begin(run.rid, u, "tx"), self.meter.begin(run.rid, v, "rx")))
            return
        seconds = end - start
        run.tx_s[u] += seconds
        run.rx_s[v] += seconds

    def begin_hop(self, run: Run, u: int, v: int) -> Any:
        """A hop starts now whose end is not known yet (shared channel): its token for :meth:`end_hop`."""
        if self.meter is None or not self.instants:
            return None
        return (self.meter.begin(run.rid, u, "tx"), self.meter.begin(run.rid, v, "rx"))

    def end_hop(self, run: Run, u: int, v: int, start: float, end: float, token: Any) -> None:
        """The hop of :meth:`begin_hop` ends now (``end``)."""
        if token is not None:
            self._end(token)
        elif self.meter is not None:
            run.tx_s[u] += end - start
            run.rx_s[v] += end - start

    def cpu(self, run: Run, device: int, start: float, end: float) -> None:
        """A CPU batch on ``device`` over ``[start, end]`` (s), known when it starts."""
        if self.meter is None:
            return
        if self.instants:
            self.alarms.at(end, self._end, (self.meter.begin(run.rid, device, "cpu"),))
            return
        run.cpu_s[device] += end - start

    def _end(self, tokens: tuple[int, ...]) -> None:
        for token in tokens:
            self.meter.end(token)

    def charge_run(self, run: Run) -> None:
        """Charge the busy seconds credited to ``run`` (per kind, then device: a fixed float order)."""
        if self.meter is None:
            return
        for kind, seconds in zip(KINDS, (run.cpu_s, run.rx_s, run.tx_s), strict=True):
            for device, value in enumerate(seconds):
                if value:
                    self.meter.charge(run.rid, device, kind, value)
                    seconds[device] = 0.0
