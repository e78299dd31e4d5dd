"""Random-waypoint movement (docs/dynamics.md, "Mobility"). numpy only.

Each mover walks in a straight line from where it is to a waypoint drawn
uniformly in the square ``[0, area_m]^2``, at a speed drawn uniformly in
``[speed_min, speed_max]`` metres per second, pauses ``pause_s`` seconds
there, then draws its next waypoint and speed. It starts walking at t = 0
from its initial position (no pause first). The square is convex, so a mover
that starts inside it never leaves it.

Every mover draws from its own generator, in a fixed order per leg
(waypoint x, waypoint y, speed), so one mover's path never depends on how
many others there are or when positions are asked for.

Units: metres, seconds, metres per second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(slots=True)
class Leg:
    """One walk of a mover: from ``start`` at ``depart_at`` to ``end`` at ``arrive_at``, then a pause.

    Attributes:
        start: (x, y) where the leg begins, m.
        end: the waypoint, (x, y), m.
        depart_at: instant the walk begins, s.
        arrive_at: instant the waypoint is reached, s.
        leave_at: instant the pause at the waypoint ends (``arrive_at + pause_s``), s.
        speed_mps: walking speed, m/s.
    """

    start: FloatArray
    end: FloatArray
    depart_at: float
    arrive_at: float
    leave_at: float
    speed_mps: float

    def position(self, at: float) -> FloatArray:
        """Position at instant ``at`` (``depart_at <= at``), m."""
        if at >= self.arrive_at:
            return self.end.copy()
        span = self.arrive_at - self.depart_at
        share = (at - self.depart_at) / span if span > 0 else 1.0
        return self.start + (self.end - self.start) * share


class RandomWaypoint:
    """Random-waypoint paths of several movers.

    Args:
        start: initial (x, y) of each mover, m (one row per mover).
        area_m: side of the square waypoints are drawn in, m.
        speed_mps: (min, max) walking speed, m/s, ``0 < min <= max``.
        pause_s: pause at each waypoint, s.
        rngs: one generator per mover.
    """

    def __init__(
        self,
        start: FloatArray,
        area_m: float,
        speed_mps: tuple[float, float],
        pause_s: float,
        rngs: list[np.random.Generator],
    ) -> None:
        if not 0 < speed_mps[0] <= speed_mps[1]:
            raise ValueError(f"expected 0 < min speed <= max speed, got {speed_mps}")
        if len(rngs) != len(start):
            raise ValueError("expected one generator per mover")
        self.area_m = float(area_m)
        self.speed_mps = (float(speed_mps[0]), float(speed_mps[1]))
        self.pause_s = float(pause_s)
        self._rngs = rngs
        #: The current leg of every mover.
        self.legs = [
            self._leg(np.asarray(row, dtype=np.float64), 0.0, rng) for row, rng in zip(start, rngs, strict=True)
        ]
        #: Legs begun so far, per mover (the first included).
        self.leg_counts = [1] * len(rngs)

    def _leg(self, here: FloatArray, depart_at: float, rng: np.random.Generator) -> Leg:
        end = rng.uniform(0.0, self.area_m, size=2)
        speed = float(rng.uniform(self.speed_mps[0], self.speed_mps[1]))
        arrive_at = depart_at + float(np.hypot(*(end - here))) / speed
        return Leg(here.copy(), end, depart_at, arrive_at, arrive_at + self.pause_s, speed)

    def positions_at(self, at: float) -> FloatArray:
        """Every mover's position at instant ``at``, m; ``at`` must not decrease between calls."""
        out = np.empty((len(self.legs), 2))
        for k, rng in enumerate(self._rngs):
            leg = self.legs[k]
            # Each new leg draws a fresh waypoint, so a zero-length leg (probability 0) cannot repeat forever.
            while at >= leg.leave_at:
                leg = self._leg(leg.end, leg.leave_at, rng)
                self.leg_counts[k] += 1
            self.legs[k] = leg
            out[k] = leg.position(at)
        return out
