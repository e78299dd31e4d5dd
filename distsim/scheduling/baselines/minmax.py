"""``minmax``: a greedy baseline aimed at Eq. 5's per-layer maximum (also a warm start for ``exact``).

Segment by segment (with the baselines' qualification rules: budgets,
``Nf``, routes; :mod:`distsim.scheduling.baselines._greedy`), each goes to the
participant whose Eq. 5 time at this layer, after taking it, keeps the
layer's maximum lowest. Unlike DistPrivacy's ``nrm`` it spreads a layer when
its transfers dominate, which is where the optimum usually is. Deterministic:
ties are broken by explicit keys, never by iteration order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from distsim.model.cnn import Feed
from distsim.model.cost import gather_bytes
from distsim.scheduling.base import ClusterView, Decision, Placement, Request, SchedulerParams
from distsim.scheduling.baselines._greedy import BoolArray, greedy_place
from distsim.world import World

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(slots=True)
class _LayerState:
    """What :func:`minmax_hint` knows about the layer it is placing.

    Attributes:
        index: 1-based layer index.
        prev: device of each segment of the previous layer (None before layer 2).
        fixed: per receiver, transfer time into it that does not depend on the segment, s.
        counts: segments of this layer per device so far.
        incoming: per receiver, the slowest map transfer into it so far, s (MAPS feeds).
        flows: per sender, maps it has sent to each receiver so far (MAPS feeds).
        worst: the layer's Eq. 5 maximum so far, s.
    """

    index: int
    prev: IntArray | None
    fixed: FloatArray
    counts: IntArray
    incoming: FloatArray
    flows: dict[int, IntArray] = field(default_factory=dict)
    worst: float = 0.0


class _Picker:
    """The ``pick`` policy of :func:`minmax_place` for one request (see there)."""

    def __init__(self, world: World, request: Request, view: ClusterView, check: Callable[[], None] | None) -> None:
        self.cnn = world.cnns[request.cnn]
        self.limits = world.limits[request.cnn]
        self.links = view.links
        self.n, self.src = view.fleet.size, request.source
        self.spb_out = view.fleet.sec_per_byte
        self.speed = view.fleet.mults_per_s
        self.check = check
        self.placed: dict[int, list[int]] = {}
        self.rows: dict[int, FloatArray] = {}
        self.state: _LayerState | None = None

    def row(self, i: int) -> FloatArray:
        r = self.rows.get(i)
        if r is None:
            r = self.rows[i] = self.links.to_all(i)
        return r

    def previous(self, index: int) -> IntArray | None:
        if index <= 1:
            return None
        if self.limits.on_source(index - 1):
            return np.full(self.cnn.layers[index - 2].segments, self.src, dtype=np.int64)
        return np.array(self.placed[index - 1], dtype=np.int64)

    def start(self, index: int) -> _LayerState:
        layer = self.cnn.layers[index - 1]
        prev = self.previous(index)
        n, links = self.n, self.links
        fixed = np.zeros(n)  # per-segment transfer into each receiver when it does not depend on the segment
        if prev is not None and layer.feed is Feed.PARTIAL_SUMS:
            senders = np.flatnonzero(np.bincount(prev, minlength=n))
            fixed = links.max_weighted(senders, np.full(len(senders), layer.feed_unit_bytes, dtype=np.int64))
        elif prev is not None and layer.feed is Feed.GATHER:
            sizes = gather_bytes(layer, prev, n)
            senders = np.flatnonzero(sizes)
            fixed = links.max_weighted(senders, sizes[senders])
        elif prev is not None and layer.feed is Feed.VECTOR:
            fixed = layer.feed_unit_bytes * self.row(int(prev[0]))
        return _LayerState(index, prev, fixed, np.zeros(n, dtype=np.int64), np.zeros(n))

    def __call__(self, request: Request, index: int, segment: int, qualifies: BoolArray) -> int:
        layer = self.cnn.layers[index - 1]
        if self.state is None or self.state.index != index:
            if self.check is not None:
                self.check()
            self.state = self.start(index)
        st, speed = self.state, self.speed
        cand = np.flatnonzero(qualifies)
        k = st.counts[cand] + 1
        compute = k * layer.segment_mults / speed[cand]
        holder = -1
        tx = np.zeros(len(cand))
        if layer.feed is Feed.MAPS and st.prev is not None:
            holder = int(st.prev[segment])
            out = st.flows.setdefault(holder, np.zeros(self.n, dtype=np.int64))
            tx = (out[cand] + 1) * layer.feed_unit_bytes * self.row(holder)[cand]
            own = np.maximum(st.incoming[cand], np.where(cand == holder, 0.0, tx)) + compute
        elif layer.feed is Feed.PARTIAL_SUMS:
            own = k * st.fixed[cand] + compute
        else:
            own = st.fixed[cand] + compute
        order = np.lexsort((cand, -speed[cand], self.spb_out[cand], cand != holder, own, np.maximum(own, st.worst)))
        best = int(order[0])
        j = int(cand[best])
        st.counts[j] += 1
        if holder >= 0 and holder != j:
            st.flows[holder][j] += 1
            st.incoming[j] = max(st.incoming[j], float(tx[best]))
        st.worst = max(st.worst, float(own[best]))
        self.placed.setdefault(index, []).append(j)
        return j


def minmax_place(
    world: World, request: Request, view: ClusterView, check: Callable[[], None] | None = None
) -> Decision:
    """A greedy placement aimed at Eq. 5's per-layer maximum, or the baselines' rejection.

    Segment by segment (with the baselines' qualification rules: budgets,
    ``Nf``, routes), each goes to the participant whose Eq. 5 time at this
    layer, after taking it, keeps the layer's maximum lowest; ties go to the
    smaller time of its own, then to the device that computed the map
    already (no transfer), the faster radio, the faster CPU and the lowest id.
    Unlike DistPrivacy's ``nrm`` it spreads a layer when its transfers
    dominate, which is where the optimum usually is. ``check``, if given, is
    called at the start of every layer (a caller's time budget raises from it).
    """
    return greedy_place(world, request, view, _Picker(world, request, view, check))


def minmax_hint(
    world: World, request: Request, view: ClusterView, check: Callable[[], None] | None = None
) -> list[IntArray] | None:
    """:func:`minmax_place`'s assignments (a warm start for CP-SAT), or None if it rejects."""
    decision = minmax_place(world, request, view, check)
    return list(decision.assignments) if isinstance(decision, Placement) else None


class MinMaxParams(SchedulerParams):
    """No parameters."""


class MinMax:
    """Give each segment to the participant that keeps the layer's Eq. 5 maximum lowest."""

    name: ClassVar[str] = "minmax"
    Params = MinMaxParams

    def __init__(self, params: MinMaxParams, world: World, rng: np.random.Generator) -> None:
        self.params = params
        self.world = world

    def place(self, request: Request, view: ClusterView) -> Decision:
        return minmax_place(self.world, request, view)
