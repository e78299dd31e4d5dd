"""Exact scheduling with OR-Tools CP-SAT (SPEC section 5, the paper's Eq. 8).

The model uses the interchangeability of the segments of one layer: instead of
one Boolean per (segment, device) it has, per request ``r``, layer ``l`` and
candidate device ``j``,

* ``n[l, j]``: integer number of segments of ``l`` on ``j`` (``sum_j n = P``),
  bounded by ``Nf^l`` for ``l < SP`` (Eq. 8f) and by what the residual compute
  and memory of ``j`` allow; source-only layers (Eq. 8h) are constants on the
  request's source, other layers run on participants only, and over a
  topology only on participants linked to the source by finite-cost pairs
  (:func:`usable_participants`; the others never get a variable);
* ``u[l, j]``: Boolean "``j`` computes part of ``l``" (``n >= u``, ``n <= P u``);
* between per-map layers (feed ``MAPS``), integer flows ``f[i, j]``: maps of
  ``l - 1`` computed on ``i`` that ``j`` processes at ``l``
  (``sum_j f_ij = n[l-1, i]``, ``sum_i f_ij = n[l, j]``).

Per-layer latency ``T_l`` (Eq. 5) is an integer number of *time units* with
``T_l >= tx_ij + tc_j`` for every (sender, receiver) pair that exchanges data
and ``T_l >= tc_j`` for every device, where ``tc_j = n[l, j] * c_l / e_j`` and
``tx_ij = O_ij * 8 / rho_i``:

* ``PARTIAL_SUMS`` (after a conv layer): every used sender ``i != j`` ships
  ``unit * n[l, j]`` bytes to ``j``. On a full mesh the seconds per byte depend
  on the sender only, so senders are grouped by radio; a Boolean per (receiver,
  group) says whether another member of the group is used and enforces
  ``T_l >= (v_group + tc_j) * n[l, j]``. On other topologies one constraint per
  pair, enforced by ``u[l-1, i]``.
* ``MAPS``: ``T_l >= v_ij * f_ij + tc_j``.
* ``GATHER`` / ``VECTOR`` (single FC segment): one constraint per pair,
  enforced by the sender's ``u`` (or counted bytes) and the receiver's Boolean.

Unreachable pairs (infinite seconds per byte over a topology) never carry
data: ``MAPS`` flows over them do not exist, and for the other feeds the
model forbids the sender and the receiver being used together.

Budgets (Eq. 8b-8d) come from the view's residuals: compute and memory per
device are linear in ``n``; the bytes a device sends are linear in ``n``,
``f`` and ``u`` (with a lower-bounded auxiliary where the sender may not be
used); budgets that cannot bind are left out of the model. The objective is
``min sum_l T_l`` for one request, ``min sum_r sum_l T_{r,l}`` for a batch.

**Time units and the rounding bound.** Every time coefficient (seconds per
segment of compute on ``j``, seconds to send one unit of data from ``i`` to
``j``) is rounded *up* to a whole number of units ``q`` (``time_unit_s``;
default: the CNN's work on the fastest device divided by ``resolution`` = 10^4). A
constraint ``T_l >= sum_k a_k x_k`` then over-estimates its true value by less
than ``q * sum_k ub(x_k)``. Let ``E`` be ``q`` times the sum over layers of
the largest such ``sum_k ub(x_k)`` (reported as ``rounding_bound_s``). For the
solution ``x*`` the model returns and any placement ``x``:
``true(x*) <= model(x*) <= model(x) <= true(x) + E``, so the returned placement
is within ``E`` of the true optimum, and its cost-model latency lies in
``[model(x*) - E, model(x*)]``. The latency a :class:`Placement` reports is
always recomputed by :func:`distsim.model.cost.evaluate`.

**Speed-ups that do not change the optimum.**

* *Per-layer lower bounds* (:meth:`_Model._layer_lb`): each ``T_l`` gets the
  domain lower bound of layer ``l`` relaxed on its own (every receiver pays
  at least its compute and the cheapest transfer it cannot avoid; spreading
  ``P`` segments to minimise the largest such cost is a closed form). CP-SAT's
  linear relaxation spreads segments fractionally and starts far below the
  optimum; with these bounds it starts at the optimum on every LeNet instance
  of the benchmark.
* *Two hints*: the DistPrivacy heuristic's placement and a greedy that
  minimises each layer's Eq. 5 maximum (:func:`minmax_hint`); the one with the
  lower model objective warm-starts CP-SAT (both are feasible, so CP-SAT never
  returns worse except by the rounding bound).
* *Optimal by bounds*: when that hint's objective equals the sum of the lower
  bounds it is optimal; CP-SAT then only confirms that it satisfies the model
  (every variable fixed to its hint, no search). ``SolveReport.by_bounds``
  says when that happened.
* Identical participants (same type, same residuals, full-mesh links) are
  interchangeable; ordering them by the number of segments they hold breaks
  that symmetry (``symmetry_breaking``, off by default: it did not help).

In batch mode each request's single-request optimum (on the same
residuals) is a valid lower bound of its latency in the joint model and its
placement is a hint; when those placements fit the shared budgets together the
batch optimum is proved at once.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import numpy.typing as npt
from ortools.sat.python import cp_model
from pydantic import Field

from distsim.model.cnn import CNN, Feed, Layer, LayerKind
from distsim.model.cost import gather_bytes
from distsim.model.devices import FullMesh
from distsim.scheduling.base import (
    ClusterView,
    Constraint,
    Decision,
    Placement,
    Rejection,
    Request,
    SchedulerParams,
)
from distsim.world import World

IntArray = npt.NDArray[np.int64]
Lin = int | cp_model.IntVar  # a model quantity: a constant or a variable


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


@dataclass(slots=True)
class _Record:
    """One ``T >= sum coef * x`` constraint, kept to evaluate hints and the rounding bound."""

    terms: list[tuple[int, Lin]]
    enforce: list[cp_model.IntVar]


@dataclass(slots=True)
class _RequestVars:
    """Variables of one request in the model."""

    request: Request
    cnn: CNN
    receivers: list[list[int]] = field(default_factory=list)  # per layer: candidate devices
    n: list[dict[int, Lin]] = field(default_factory=list)
    u: list[dict[int, Lin]] = field(default_factory=list)
    flows: list[dict[tuple[int, int], cp_model.IntVar]] = field(default_factory=list)
    t: list[cp_model.IntVar] = field(default_factory=list)
    rounding_units: int = 0
    constant_units: int = 0


def _ceil_units(seconds: float, unit: float) -> int:
    return math.ceil(seconds / unit - 1e-9) if seconds > 0 else 0


def default_time_unit(world: World, cnn_names: Sequence[str], resolution: int) -> float:
    """Time unit: the largest CNN's multiplications on the fastest device / ``resolution``, s."""
    fastest = float(world.fleet.mults_per_s.max())
    work = max(world.cnns[name].total_mults for name in cnn_names)
    return max(work / fastest / resolution, 1e-12)


def usable_participants(view: ClusterView, source: int) -> npt.NDArray[np.bool_]:
    """Participants that can take part in a request of ``source``, as a mask over participant ids.

    Every participant layer is fed by the layer before it and feeds the next,
    from the source's first layer to its last, so a participant that computes
    anything lies on a chain of finite-cost pairs from the source and on one
    back to it. Over a topology that is the source's connected component; on a
    full mesh it is every participant.
    """
    d = view.fleet.participants
    if isinstance(view.links, FullMesh):
        return np.ones(d, dtype=bool)
    nodes = [*range(d), source]
    linked = np.array([np.isfinite(view.links.to_all(i)[nodes]) for i in nodes])
    graph = linked.astype(np.int8)

    def closure(adjacency: npt.NDArray[np.int8]) -> npt.NDArray[np.bool_]:
        seen = np.zeros(len(nodes), dtype=bool)
        seen[-1] = True
        frontier = seen.copy()
        while frontier.any():
            frontier = (adjacency[frontier].any(axis=0)) & ~seen
            seen |= frontier
        return seen

    return (closure(graph) & closure(graph.T))[:d]


def precheck(request: Request, view: ClusterView, world: World) -> Rejection | None:
    """A cheap infeasibility certificate naming the constraint family, or None.

    Checks, in order: privacy needs more participants than the fleet has; a
    layer's segments exceed what the participants can hold under ``Nf`` alone,
    then with compute and memory; the source lacks compute or memory for its
    layers; the participants' total compute or memory is short. Over a
    topology, the same with only the participants that can exchange data with
    the source (:func:`usable_participants`) gives rejections with constraint
    ``unreachable``.
    """
    rejection = _precheck(request, view, world, None)
    if rejection is None and not isinstance(view.links, FullMesh):
        usable = usable_participants(view, request.source)
        if not usable.all():
            rejection = _precheck(request, view, world, usable)
    return rejection


def _precheck(
    request: Request, view: ClusterView, world: World, usable: npt.NDArray[np.bool_] | None
) -> Rejection | None:
    """:func:`precheck` over every participant (``usable`` None) or over the usable ones only."""
    cnn = world.cnns[request.cnn]
    limits = world.limits[request.cnn]
    fleet = view.fleet
    comp = view.compute_mults[: fleet.participants].astype(np.int64)
    mem = view.memory_bytes[: fleet.participants].astype(np.int64)
    if usable is not None:
        comp, mem = comp[usable], mem[usable]
    d = len(comp)
    s = request.source
    need = limits.min_participants(cnn)
    if usable is not None:
        fleet_name = fleet.names[s]
        cut = int((~usable).sum())
        detail = (
            f"unreachable: {cut} of {fleet.participants} participants have no route to or from the source {fleet_name}"
        )

        def reject(layer: Layer | None, why: str) -> Rejection:
            return Rejection(
                request.id,
                layer.index if layer else 0,
                layer.name if layer else "",
                Constraint.UNREACHABLE,
                f"{detail}; {why}",
            )
    else:

        def reject(layer: Layer | None, why: str) -> Rejection:
            return Rejection(
                request.id, layer.index if layer else 0, layer.name if layer else "", Constraint.INFEASIBLE, why
            )

    if need > d:
        return reject(
            None,
            f"privacy: {cnn.name} at max_ssim {limits.tau} needs at least {need} participants, "
            f"the fleet has {d}{' reachable' if usable is not None else ''}",
        )
    src_c = src_m = 0
    part_c = part_m = 0
    for layer in cnn.layers:
        c, m = layer.segment_mults, layer.segment_weight_bytes
        if limits.on_source(layer.index):
            src_c += layer.total_mults
            src_m += layer.total_weight_bytes
            continue
        part_c += layer.total_mults
        part_m += layer.total_weight_bytes
        cap = limits.max_maps(layer.index)
        seg = layer.segments
        if d == 0:
            return reject(
                layer,
                f"layer {layer.name}: "
                + (
                    "no participant can exchange data with the source"
                    if usable is not None
                    else "the fleet has no participants"
                ),
            )
        room = np.full(d, seg, dtype=np.int64)
        if cap is not None:
            room = np.minimum(room, cap)
        if int(room.sum()) < seg:
            return reject(
                layer,
                f"privacy: layer {layer.name} has {seg} segments, {d} participants hold at most "
                f"{int(room.sum())} at Nf = {cap}",
            )
        if c > 0:
            room = np.minimum(room, comp // c)
        if int(room.sum()) < seg:
            return reject(
                layer,
                f"compute: participants' residual compute holds {int(room.sum())} of the {seg} "
                f"segments of layer {layer.name}",
            )
        if m > 0:
            room = np.minimum(room, mem // m)
        if int(room.sum()) < seg:
            return reject(
                layer,
                f"memory: participants' residual memory holds {int(room.sum())} of the {seg} "
                f"segments of layer {layer.name}",
            )
    if src_c > int(view.compute_mults[s]):
        return reject(
            None, f"compute: the source needs {src_c} mults for its layers, residual {int(view.compute_mults[s])}"
        )
    if src_m > int(view.memory_bytes[s]):
        return reject(
            None, f"memory: the source needs {src_m} bytes for its layers, residual {int(view.memory_bytes[s])}"
        )
    if part_c > int(comp.sum()):
        return reject(None, f"compute: participant layers need {part_c} mults, participants have {int(comp.sum())}")
    if part_m > int(mem.sum()):
        return reject(None, f"memory: participant layers need {part_m} bytes, participants have {int(mem.sum())}")
    return None


class _Model:
    """The CP-SAT model of one or more requests sharing the view's residual budgets."""

    def __init__(self, world: World, view: ClusterView, unit_s: float, symmetry_breaking: bool) -> None:
        self.world = world
        self.view = view
        self.unit = unit_s
        self.symmetry_breaking = symmetry_breaking
        self.m = cp_model.CpModel()
        fleet = view.fleet
        n = fleet.size
        self.n_devices = n
        grid_i, grid_j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        self.spb = view.links.pairs(grid_i.ravel(), grid_j.ravel()).reshape(n, n)
        self.full_mesh = isinstance(view.links, FullMesh)
        self.speed = fleet.mults_per_s
        self.records: dict[int, list[_Record]] = {}
        self.aux: list[tuple[cp_model.IntVar, Callable[[dict[int, int]], int]]] = []
        self.requests: list[_RequestVars] = []
        self.comp_terms: dict[int, list[tuple[int, Lin]]] = {}
        self.mem_terms: dict[int, list[tuple[int, Lin]]] = {}
        # bandwidth contributions: (upper bound of bytes, builder of a linear expression)
        self.bw_terms: dict[int, list[tuple[int, Callable[[], cp_model.LinearExprT]]]] = {}
        self.objective_vars: list[cp_model.IntVar] = []
        self.objective_constant = 0
        self._usable: dict[int, npt.NDArray[np.bool_]] = {}

    # -- helpers ------------------------------------------------------------
    def _tx(self, size_bytes: int, i: int, j: int) -> int | None:
        """Units to send ``size_bytes`` from ``i`` to ``j`` (None if unreachable)."""
        if i == j:
            return 0
        spb = float(self.spb[i, j])
        if not math.isfinite(spb):
            return None
        return _ceil_units(size_bytes * spb, self.unit)

    def _tc(self, layer: Layer, j: int) -> int:
        return _ceil_units(layer.segment_mults / float(self.speed[j]), self.unit)

    @staticmethod
    def _ub(x: Lin) -> int:
        if isinstance(x, int):
            return x
        domain = x.proto.domain
        return int(domain[len(domain) - 1])

    def _ge(self, t: cp_model.IntVar, terms: list[tuple[int, Lin]], enforce: Sequence[Lin] = ()) -> None:
        lits: list[cp_model.IntVar] = []
        for lit in enforce:
            if isinstance(lit, int):
                if lit == 0:
                    return
                continue
            lits.append(lit)
        terms = [(c, x) for c, x in terms if c != 0 and not (isinstance(x, int) and x == 0)]
        if not terms:
            return
        expr = sum(c * x for c, x in terms)
        ct = self.m.add(t >= expr)
        if lits:
            ct.only_enforce_if(lits)
        self.records.setdefault(t.index, []).append(_Record(terms, lits))

    def _forbid(self, lits: Sequence[Lin]) -> None:
        """Not all of ``lits`` true."""
        variables = []
        for lit in lits:
            if isinstance(lit, int):
                if lit == 0:
                    return
                continue
            variables.append(lit)
        if not variables:
            self.m.add_bool_or([])  # constants all true: infeasible
            return
        self.m.add_bool_or([v.Not() for v in variables])

    def _bool_of(self, n: cp_model.IntVar, ub: int) -> cp_model.IntVar:
        if ub == 1:
            return n
        used = self.m.new_bool_var("")
        self.m.add(n <= ub * used)
        self.m.add(n >= used)
        return used

    def _bw(self, device: int, ub_bytes: int, build: Callable[[], cp_model.LinearExprT]) -> None:
        if ub_bytes > 0:
            self.bw_terms.setdefault(device, []).append((ub_bytes, build))

    # -- building -----------------------------------------------------------
    def add_request(self, request: Request) -> _RequestVars:
        world, view = self.world, self.view
        cnn = world.cnns[request.cnn]
        limits = world.limits[request.cnn]
        s = request.source
        comp, mem = view.compute_mults, view.memory_bytes
        rv = _RequestVars(request, cnn)
        usable = self._usable.get(s)
        if usable is None:
            # Over a topology, participants cut off from the source never get a variable.
            usable = self._usable[s] = usable_participants(view, s)
        for layer in cnn.layers:
            seg, c, m = layer.segments, layer.segment_mults, layer.segment_weight_bytes
            counts: dict[int, Lin] = {}
            used: dict[int, Lin] = {}
            if limits.on_source(layer.index):
                counts[s], used[s] = seg, 1
            else:
                cap = limits.max_maps(layer.index)
                for j in np.flatnonzero(usable).tolist():
                    ub = seg if cap is None else min(seg, cap)
                    if c > 0:
                        ub = min(ub, int(comp[j]) // c)
                    if m > 0:
                        ub = min(ub, int(mem[j]) // m)
                    if ub <= 0:
                        continue
                    var = self.m.new_bool_var("") if ub == 1 else self.m.new_int_var(0, ub, "")
                    counts[j] = var
                    used[j] = self._bool_of(var, ub)
                self.m.add(sum(counts.values()) == seg)
            for j, x in counts.items():
                if c > 0:
                    self.comp_terms.setdefault(j, []).append((c, x))
                if m > 0:
                    self.mem_terms.setdefault(j, []).append((m, x))
            rv.receivers.append(sorted(counts))
            rv.n.append(counts)
            rv.u.append(used)
            rv.flows.append({})
            self._layer_time(rv, layer)
        self.requests.append(rv)
        return rv

    def _layer_time(self, rv: _RequestVars, layer: Layer) -> None:
        """Create ``T_l`` with its constraints and the bandwidth the feed uses."""
        l0 = layer.index - 1
        recv, n_cur = rv.receivers[l0], rv.n[l0]
        tc = {j: self._tc(layer, j) for j in recv}
        if layer.feed is Feed.NONE or l0 == 0:
            units = max(tc[j] * self._ub(n_cur[j]) for j in recv)
            rv.constant_units += units
            rv.rounding_units += max(self._ub(n_cur[j]) for j in recv)
            self.objective_constant += units
            return
        ub_t = self._layer_ub(rv, layer, tc)
        lb_t = self._layer_lb(rv, layer, tc)
        t = self.m.new_int_var(lb_t, max(lb_t, ub_t), "")
        rv.t.append(t)
        self.objective_vars.append(t)
        for j in recv:
            self._ge(t, [(tc[j], n_cur[j])])
        send, n_prev, u_prev = rv.receivers[l0 - 1], rv.n[l0 - 1], rv.u[l0 - 1]
        unit = layer.feed_unit_bytes
        seg = layer.segments
        if layer.feed is Feed.PARTIAL_SUMS:
            self._partial_sums(t, send, recv, u_prev, n_cur, tc, unit)
            for i in send:
                n_i = n_cur.get(i, 0)
                ui = u_prev[i]
                if isinstance(ui, int):
                    self._bw(i, unit * seg, lambda n_i=n_i: unit * seg - unit * n_i)
                else:
                    self._bw(
                        i,
                        unit * seg,
                        lambda ui=ui, n_i=n_i: self._aux_ge(
                            unit * seg,
                            [(unit * seg, ui), (-unit, n_i)],
                            lambda v, ui=ui, n_i=n_i: v[ui.index] * unit * (seg - _val(v, n_i)),
                        ),
                    )
        elif layer.feed is Feed.MAPS:
            flows: dict[tuple[int, int], cp_model.IntVar] = {}
            for i in send:
                for j in recv:
                    tx = self._tx(unit, i, j)
                    if tx is None:
                        continue
                    ub = min(self._ub(n_prev[i]), self._ub(n_cur[j]))
                    if ub <= 0:
                        continue
                    f = self.m.new_int_var(0, ub, "")
                    flows[(i, j)] = f
                    if i != j:
                        self._ge(t, [(tx, f), (tc[j], n_cur[j])])
            out_of: dict[int, list[cp_model.IntVar]] = {i: [] for i in send}
            into: dict[int, list[cp_model.IntVar]] = {j: [] for j in recv}
            for (i, j), f in flows.items():
                out_of[i].append(f)
                into[j].append(f)
            for i in send:
                self.m.add(sum(out_of[i]) == n_prev[i])
            for j in recv:
                self.m.add(sum(into[j]) == n_cur[j])
            rv.flows[l0] = flows
            for i in send:
                fii = flows.get((i, i), 0)
                self._bw(i, unit * self._ub(n_prev[i]), lambda i=i, fii=fii: unit * n_prev[i] - unit * fii)
        elif layer.feed is Feed.GATHER:
            conv = layer.prev_kind is LayerKind.CONV
            size = layer.prev_out_maps * unit
            for i in send:
                for j in recv:
                    if i == j:
                        continue
                    y = n_cur[j]
                    if conv:
                        tx = self._tx(size, i, j)
                        if tx is None:
                            self._forbid([u_prev[i], y])
                        else:
                            self._ge(t, [(tx, 1), (tc[j], 1)], [u_prev[i], y])
                    else:
                        tx = self._tx(unit, i, j)
                        if tx is None:
                            self._forbid([u_prev[i], y])
                        else:
                            self._ge(t, [(tx, n_prev[i]), (tc[j], 1)], [y])
            for i in send:
                y_i = n_cur.get(i, 0)
                if conv:
                    ui = u_prev[i]
                    self._bw(
                        i,
                        size,
                        lambda ui=ui, y_i=y_i: self._aux_ge(
                            size,
                            [(size, ui), (-size, y_i)],
                            lambda v, ui=ui, y_i=y_i: size * max(0, _val(v, ui) - _val(v, y_i)),
                        ),
                    )
                else:
                    cap = self._ub(n_prev[i])
                    ni = n_prev[i]
                    self._bw(
                        i,
                        unit * cap,
                        lambda ni=ni, y_i=y_i, cap=cap: self._aux_ge(
                            unit * cap,
                            [(unit, ni), (-unit * cap, y_i)],
                            lambda v, ni=ni, y_i=y_i: 0 if _val(v, y_i) else unit * _val(v, ni),
                        ),
                    )
        else:  # VECTOR
            for i in send:
                for j in recv:
                    if i == j:
                        continue
                    tx = self._tx(unit, i, j)
                    if tx is None:
                        self._forbid([n_prev[i], n_cur[j]])
                    else:
                        self._ge(t, [(tx, 1), (tc[j], 1)], [n_prev[i], n_cur[j]])
            for i in send:
                yp, y_i = n_prev[i], n_cur.get(i, 0)
                self._bw(
                    i,
                    unit,
                    lambda yp=yp, y_i=y_i: self._aux_ge(
                        unit,
                        [(unit, yp), (-unit, y_i)],
                        lambda v, yp=yp, y_i=y_i: unit * max(0, _val(v, yp) - _val(v, y_i)),
                    ),
                )
        recs = self.records.get(t.index, [])
        rv.rounding_units += max((sum(self._ub(x) for _, x in r.terms) for r in recs), default=0)

    def _layer_lb(self, rv: _RequestVars, layer: Layer, tc: dict[int, int]) -> int:
        """A valid lower bound of ``T_l`` in units: layer ``l`` relaxed on its own.

        Every receiver ``j`` holding ``n`` segments forces ``T_l >= g_j(n)`` with
        ``g_j`` nondecreasing: ``tc_j * n`` plus the least transfer ``j`` cannot
        avoid (partial sums: ``w_j * n`` with ``w_j`` the cheapest other sender
        when ``j`` cannot have computed all of ``l - 1``; maps: the cheapest
        incoming map once ``n`` exceeds what ``j`` can hold of ``l - 1``; FC: the
        cheapest feed from devices other than ``j``). Spreading ``P`` segments to
        minimise ``max_j g_j(n_j)`` gives the ``P``-th smallest of all ``g_j(n)``
        (``1 <= n <= ub(n_j)``), since each ``g_j`` is nondecreasing. The sum of
        these bounds is often the optimum itself (LeNet), which CP-SAT's linear
        relaxation alone does not see: it spreads segments fractionally.
        """
        l0 = layer.index - 1
        recv, n_cur = rv.receivers[l0], rv.n[l0]
        send, n_prev = rv.receivers[l0 - 1], rv.n[l0 - 1]
        ub_prev = {i: self._ub(n_prev[i]) for i in send}
        seg_prev = rv.cnn.layers[l0 - 1].segments
        unit = layer.feed_unit_bytes
        inf = math.inf

        def cheapest(size: int, j: int) -> float:
            costs = [tx for i in send if i != j and (tx := self._tx(size, i, j)) is not None]
            return float(min(costs)) if costs else inf

        values: list[float] = []
        for j in recv:
            ub_j = self._ub(n_cur[j])
            others_needed = ub_prev.get(j, 0) < seg_prev  # some device other than j computed part of l - 1
            ns = np.arange(1, ub_j + 1, dtype=np.float64)
            g = tc[j] * ns
            if layer.feed is Feed.PARTIAL_SUMS:
                if others_needed:
                    g = g + cheapest(unit, j) * ns
            elif layer.feed is Feed.MAPS:
                g = g + np.where(ns > ub_prev.get(j, 0), cheapest(unit, j), 0.0)
            elif layer.feed is Feed.GATHER:
                if layer.prev_kind is LayerKind.CONV:
                    if others_needed:
                        g = g + cheapest(layer.prev_out_maps * unit, j)
                else:
                    # At least k maps of l - 1 sit on other devices; sender i ships unit * n_prev[i].
                    k = seg_prev - ub_prev.get(j, 0)
                    if k > 0:
                        sends = [
                            tx * m
                            for i in send
                            if i != j and (tx := self._tx(unit, i, j)) is not None
                            for m in range(1, ub_prev[i] + 1)
                        ]
                        g = g + (float(sorted(sends)[k - 1]) if len(sends) >= k else inf)
            elif others_needed:  # VECTOR
                g = g + cheapest(unit, j)
            values.extend(g.tolist())
        seg = layer.segments
        if len(values) < seg:
            return 0
        bound = sorted(values)[seg - 1]
        return int(bound) if math.isfinite(bound) else 0

    def _layer_ub(self, rv: _RequestVars, layer: Layer, tc: dict[int, int]) -> int:
        """A safe upper bound of ``T_l`` in units (the worst pair at full load)."""
        l0 = layer.index - 1
        send = rv.receivers[l0 - 1]
        worst_spb = 0.0
        for i in send:
            row = self.spb[i, :]
            finite = row[np.isfinite(row)]
            worst_spb = max(worst_spb, float(finite.max()) if len(finite) else 0.0)
        max_n_prev = max((self._ub(rv.n[l0 - 1][i]) for i in send), default=1)
        traffic = layer.feed_unit_bytes * max(layer.segments, max_n_prev, layer.prev_out_maps)
        tx = _ceil_units(traffic * worst_spb, self.unit)
        comp = max(tc[j] * self._ub(rv.n[l0][j]) for j in rv.receivers[l0])
        return tx + comp + 2 * (layer.segments + max_n_prev) + 1

    def _partial_sums(
        self,
        t: cp_model.IntVar,
        send: list[int],
        recv: list[int],
        u_prev: dict[int, Lin],
        n_cur: dict[int, Lin],
        tc: dict[int, int],
        unit: int,
    ) -> None:
        # On a full mesh the cost per byte depends on the sender only: group senders by it.
        if self.full_mesh:
            groups: dict[int, list[int]] = {}
            for i in send:
                groups.setdefault(
                    _ceil_units(unit * float(self.spb[i, (i + 1) % self.n_devices]), self.unit), []
                ).append(i)
            for v in sorted(groups, reverse=True):
                members = groups[v]
                if all(isinstance(u_prev[i], int) for i in members):
                    total: Lin = sum(int(u_prev[i]) for i in members)
                else:
                    total = self.m.new_int_var(0, len(members), "")
                    self.m.add(total == sum(u_prev[i] for i in members))
                    self.aux.append((total, lambda val, members=members: sum(_val(val, u_prev[i]) for i in members)))
                for j in recv:
                    inside = j in u_prev and j in members
                    size = len(members) - (1 if inside else 0)
                    if size == 0:
                        continue
                    if isinstance(total, int) and (not inside or isinstance(u_prev[j], int)):
                        others = total - (int(u_prev[j]) if inside else 0)
                        if others > 0:
                            self._ge(t, [(v, n_cur[j]), (tc[j], n_cur[j])])
                        continue
                    flag = self.m.new_bool_var("")
                    if inside:
                        self.m.add(total - u_prev[j] <= size * flag)
                    else:
                        self.m.add(total <= size * flag)
                    self.aux.append(
                        (
                            flag,
                            lambda val, total=total, j=j, inside=inside: int(
                                _val(val, total) - (_val(val, u_prev[j]) if inside else 0) > 0
                            ),
                        )
                    )
                    self._ge(t, [(v, n_cur[j]), (tc[j], n_cur[j])], [flag])
            return
        for i in send:
            for j in recv:
                if i == j:
                    continue
                tx = self._tx(unit, i, j)
                if tx is None:
                    used_j = n_cur[j] if isinstance(n_cur[j], int) else None
                    self._forbid([u_prev[i], used_j if used_j is not None else self._bool_of_cached(n_cur[j])])
                else:
                    self._ge(t, [(tx, n_cur[j]), (tc[j], n_cur[j])], [u_prev[i]])

    def _bool_of_cached(self, x: cp_model.IntVar) -> cp_model.IntVar:
        return self._bool_of(x, self._ub(x))

    def _aux_ge(self, ub: int, terms: list[tuple[int, Lin]], value: Callable[[dict[int, int]], int]) -> cp_model.IntVar:
        """A variable ``B >= max(0, sum terms)`` (only ever bounded from above elsewhere)."""
        b = self.m.new_int_var(0, ub, "")
        self.m.add(b >= sum(c * x for c, x in terms))
        self.aux.append((b, value))
        return b

    def finish(self) -> None:
        """Add the shared budgets, symmetry breaking and the objective."""
        view = self.view
        for j, terms in sorted(self.comp_terms.items()):
            if sum(c * self._ub(x) for c, x in terms) > int(view.compute_mults[j]):
                self.m.add(sum(c * x for c, x in terms) <= int(view.compute_mults[j]))
        for j, terms in sorted(self.mem_terms.items()):
            if sum(c * self._ub(x) for c, x in terms) > int(view.memory_bytes[j]):
                self.m.add(sum(c * x for c, x in terms) <= int(view.memory_bytes[j]))
        for j, contributions in sorted(self.bw_terms.items()):
            if sum(ub for ub, _ in contributions) > int(view.bandwidth_bytes[j]):
                self.m.add(sum(build() for _, build in contributions) <= int(view.bandwidth_bytes[j]))
        if self.symmetry_breaking and self.full_mesh:
            for group in self.identical_groups():
                loads = [self._load(j) for j in group]
                for a, b in itertools.pairwise(loads):
                    self.m.add(a >= b)
        self.m.minimize(sum(self.objective_vars) + self.objective_constant)

    def _load(self, j: int) -> cp_model.LinearExprT:
        return sum(x for rv in self.requests for counts in rv.n for dev, x in counts.items() if dev == j)

    def identical_groups(self) -> list[list[int]]:
        """Participants that are interchangeable (same speed, radio and residuals), as sorted id lists."""
        view = self.view
        fleet = view.fleet
        keys: dict[tuple[float, float, int, int, int], list[int]] = {}
        for j in range(fleet.participants):
            key = (
                float(fleet.mults_per_s[j]),
                float(fleet.rate_bps[j]),
                int(view.compute_mults[j]),
                int(view.memory_bytes[j]),
                int(view.bandwidth_bytes[j]),
            )
            keys.setdefault(key, []).append(j)
        return [g for _, g in sorted(keys.items()) if len(g) > 1]

    # -- hints and extraction --------------------------------------------
    def canonical(self, assignments: list[list[IntArray]]) -> list[list[IntArray]]:
        """Relabel identical participants so the symmetry-breaking order holds (same cost)."""
        if not (self.symmetry_breaking and self.full_mesh):
            return assignments
        n = self.n_devices
        load = np.zeros(n, dtype=np.int64)
        for per_request in assignments:
            for array in per_request:
                load += np.bincount(array, minlength=n)
        mapping = np.arange(n)
        for group in self.identical_groups():
            ordered = sorted(group, key=lambda j: (-int(load[j]), j))
            for new, old in zip(group, ordered, strict=True):
                mapping[old] = new
        return [[mapping[a] for a in per_request] for per_request in assignments]

    def hint(self, assignments: list[list[IntArray]]) -> int:
        """Hint every variable with the values a placement (one per request, in order) gives them.

        Returns the model objective of the hinted placement (units).
        """
        values: dict[int, int] = {}
        n_dev = self.n_devices
        for rv, per_request in zip(self.requests, assignments, strict=True):
            prev: IntArray | None = None
            for l0, array in enumerate(per_request):
                counts = np.bincount(array, minlength=n_dev)
                for j, x in rv.n[l0].items():
                    if not isinstance(x, int):
                        values[x.index] = int(counts[j])
                for j, x in rv.u[l0].items():
                    if not isinstance(x, int):
                        values[x.index] = int(counts[j] > 0)
                if rv.flows[l0] and prev is not None:
                    pairs = np.bincount(prev * n_dev + array, minlength=n_dev * n_dev)
                    for (i, j), f in rv.flows[l0].items():
                        values[f.index] = int(pairs[i * n_dev + j])
                prev = array
        for var, fn in self.aux:
            values[var.index] = int(fn(values))
        for rv in self.requests:
            for t in rv.t:
                best = 0
                for rec in self.records.get(t.index, []):
                    if all(values.get(lit.index, 0) for lit in rec.enforce):
                        best = max(best, sum(c * _val(values, x) for c, x in rec.terms))
                values[t.index] = max(best, self._lb(t))
        self.m.clear_hints()
        for index, value in values.items():
            self.m.add_hint(self.m.get_int_var_from_proto_index(index), value)
        return sum(values[t.index] for t in self.objective_vars) + self.objective_constant

    @staticmethod
    def _lb(x: cp_model.IntVar) -> int:
        return int(x.proto.domain[0])

    def lower_bound(self) -> int:
        """The objective's lower bound from the per-layer bounds (units)."""
        return sum(self._lb(t) for t in self.objective_vars) + self.objective_constant

    def extract(self, solver: cp_model.CpSolver) -> list[list[IntArray]]:
        """Per request, per layer, the device of each segment, routed consistently with the flows."""
        out = []
        for rv in self.requests:
            placed: list[IntArray] = []
            for l0, layer in enumerate(rv.cnn.layers):
                counts = {j: (x if isinstance(x, int) else int(solver.value(x))) for j, x in rv.n[l0].items()}
                flows = rv.flows[l0]
                if flows and placed:
                    prev = placed[-1]
                    left = {key: int(solver.value(f)) for key, f in flows.items()}
                    array = np.empty(layer.segments, dtype=np.int64)
                    for p, i in enumerate(prev.tolist()):
                        # Map p sits on i: route it along a flow out of i, lowest receiver id first.
                        j = next(j for j in rv.receivers[l0] if left.get((i, j), 0) > 0)
                        left[(i, j)] -= 1
                        array[p] = j
                else:
                    devices = sorted(counts)
                    array = np.repeat(np.array(devices, dtype=np.int64), [counts[j] for j in devices]).astype(np.int64)
                placed.append(array)
            out.append(placed)
        return out


def _val(values: dict[int, int], x: Lin) -> int:
    return x if isinstance(x, int) else values.get(x.index, 0)


def _solver(params: ExactParams, time_limit_s: float) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    p = solver.parameters
    p.max_time_in_seconds = time_limit_s
    p.num_workers = params.workers
    p.random_seed = params.seed
    p.relative_gap_limit = params.relative_gap
    return solver


def _status(solver: cp_model.CpSolver, code: int) -> str:
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
    model: _Model,
    solver: cp_model.CpSolver | None,
    status: str,
    started: float,
    rounding_units: int,
    detail: str = "",
    build_s: float = 0.0,
    by_bounds: bool = False,
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
    )


def _heuristic_hint(world: World, request: Request, view: ClusterView) -> list[IntArray] | None:
    from distsim.scheduling.distprivacy import DistPrivacy, DistPrivacyParams

    decision = DistPrivacy(DistPrivacyParams(), world, np.random.default_rng(0)).place(request, view)
    return list(decision.assignments) if isinstance(decision, Placement) else None


def minmax_hint(world: World, request: Request, view: ClusterView) -> list[IntArray] | None:
    """A greedy placement aimed at Eq. 5's per-layer maximum (a warm start for CP-SAT), or None.

    Segment by segment (with the baselines' qualification rules: budgets,
    ``Nf``, routes), each goes to the participant whose Eq. 5 time at this
    layer, after taking it, keeps the layer's maximum lowest; ties go to the
    smaller time of its own, then to the device that computed the map
    already (no transfer), the faster radio, the faster CPU and the lowest id.
    Unlike DistPrivacy's ``nrm`` it spreads a layer when its transfers
    dominate, which is where the optimum usually is.
    """
    from distsim.scheduling.baselines._greedy import BoolArray, greedy_place

    cnn = world.cnns[request.cnn]
    limits = world.limits[request.cnn]
    fleet, links = view.fleet, view.links
    n, src = fleet.size, request.source
    spb_out = fleet.sec_per_byte
    speed = fleet.mults_per_s
    placed: dict[int, list[int]] = {}
    rows: dict[int, npt.NDArray[np.float64]] = {}
    state: dict[str, object] = {"layer": 0}

    def row(i: int) -> npt.NDArray[np.float64]:
        r = rows.get(i)
        if r is None:
            r = rows[i] = links.to_all(i)
        return r

    def previous(index: int) -> IntArray | None:
        if index <= 1:
            return None
        if limits.on_source(index - 1):
            return np.full(cnn.layers[index - 2].segments, src, dtype=np.int64)
        return np.array(placed[index - 1], dtype=np.int64)

    def pick(request: Request, index: int, segment: int, qualifies: BoolArray) -> int:
        layer = cnn.layers[index - 1]
        if state["layer"] != index:
            prev = previous(index)
            fixed = np.zeros(n)  # per-segment transfer into each receiver when it does not depend on the segment
            if prev is not None and layer.feed is Feed.PARTIAL_SUMS:
                senders = np.flatnonzero(np.bincount(prev, minlength=n))
                fixed = links.max_weighted(senders, np.full(len(senders), layer.feed_unit_bytes, dtype=np.int64))
            elif prev is not None and layer.feed is Feed.GATHER:
                sizes = gather_bytes(layer, prev, n)
                senders = np.flatnonzero(sizes)
                fixed = links.max_weighted(senders, sizes[senders])
            elif prev is not None and layer.feed is Feed.VECTOR:
                fixed = layer.feed_unit_bytes * row(int(prev[0]))
            state.update(
                layer=index,
                prev=prev,
                fixed=fixed,
                counts=np.zeros(n, dtype=np.int64),
                incoming=np.zeros(n),
                flows={},
                worst=0.0,
            )
        prev = state["prev"]
        counts = state["counts"]
        incoming = state["incoming"]
        flows = state["flows"]
        assert isinstance(counts, np.ndarray) and isinstance(incoming, np.ndarray) and isinstance(flows, dict)
        cand = np.flatnonzero(qualifies)
        k = counts[cand] + 1
        compute = k * layer.segment_mults / speed[cand]
        holder = -1
        if layer.feed is Feed.MAPS and prev is not None:
            holder = int(prev[segment])
            out = flows.setdefault(holder, np.zeros(n, dtype=np.int64))
            tx = (out[cand] + 1) * layer.feed_unit_bytes * row(holder)[cand]
            own = np.maximum(incoming[cand], np.where(cand == holder, 0.0, tx)) + compute
        elif layer.feed is Feed.PARTIAL_SUMS:
            fixed = state["fixed"]
            assert isinstance(fixed, np.ndarray)
            own = k * fixed[cand] + compute
        else:
            fixed = state["fixed"]
            assert isinstance(fixed, np.ndarray)
            own = fixed[cand] + compute
        worst = float(state["worst"])  # type: ignore[arg-type]
        order = np.lexsort((cand, -speed[cand], spb_out[cand], cand != holder, own, np.maximum(own, worst)))
        best = int(order[0])
        j = int(cand[best])
        counts[j] += 1
        if holder >= 0 and holder != j:
            flows[holder][j] += 1
            incoming[j] = max(incoming[j], float(tx[best]))
        state["worst"] = max(worst, float(own[best]))
        placed.setdefault(index, []).append(j)
        return j

    decision = greedy_place(world, request, view, pick)
    return list(decision.assignments) if isinstance(decision, Placement) else None


def solve_request(
    request: Request,
    view: ClusterView,
    world: World,
    params: ExactParams,
    *,
    time_unit_s: float | None = None,
    hint: list[IntArray] | None = None,
) -> tuple[Decision, SolveReport]:
    """Place one request optimally against ``view``'s residuals.

    Returns the decision (a :class:`Placement` with status ``optimal`` or
    ``feasible``, or a :class:`Rejection` with constraint ``infeasible``,
    ``unreachable`` or ``timeout``) and the :class:`SolveReport`. When CP-SAT
    finds no solution within the time limit but a hint exists, the better hint
    is returned as ``feasible`` (bound: the per-layer lower bounds).
    """
    started = time.perf_counter()
    unit = time_unit_s or params.time_unit_s or default_time_unit(world, [request.cnn], params.resolution)
    model = _Model(world, view, unit, params.symmetry_breaking)
    rejection = precheck(request, view, world)
    if rejection is not None:
        return rejection, _report(model, None, "infeasible", started, 0, rejection.detail)
    rv = model.add_request(request)
    model.finish()
    if hint is not None:
        hints = [hint]
    elif params.hint:
        hints = [h for h in (_heuristic_hint(world, request, view), minmax_hint(world, request, view)) if h is not None]
    else:
        hints = []
    best: tuple[int, list[IntArray]] | None = None
    for candidate in hints:
        objective = model.hint(model.canonical([candidate]))
        if best is None or objective < best[0]:
            best = (objective, candidate)
    if best is not None and best[1] is not hints[-1]:
        model.hint(model.canonical([best[1]]))
    # A hint whose objective meets the per-layer lower bounds is optimal: CP-SAT
    # only has to confirm it is feasible, with every variable fixed to it.
    confirm = best is not None and best[0] <= model.lower_bound()
    build_s = time.perf_counter() - started
    solver = _solver(params, params.time_limit_s)
    solver.parameters.fix_variables_to_their_hinted_value = confirm
    status = _status(solver, solver.solve(model.m))
    if confirm and status != "optimal":  # not expected: the hint broke a model constraint; search normally
        confirm = False
        solver = _solver(params, max(params.time_limit_s - (time.perf_counter() - started), 0.1))
        status = _status(solver, solver.solve(model.m))
    if status == "infeasible":
        detail = "CP-SAT proved the model infeasible (the residual budgets cannot hold the request jointly)"
        return (
            Rejection(request.id, 0, "", Constraint.INFEASIBLE, detail),
            _report(model, solver, status, started, rv.rounding_units, detail, build_s=build_s, by_bounds=confirm),
        )
    if status == "timeout" and best is not None:
        # CP-SAT did not even reach its first solution (presolve of a large model), but the
        # hint is feasible: return it, with the per-layer bounds as the proved lower bound.
        unit = model.unit
        objective, bound = best[0] * unit, model.lower_bound() * unit
        detail = f"CP-SAT found no placement within {params.time_limit_s} s; returned the better hint"
        proto = model.m.proto
        gap = max(0.0, (objective - bound) / objective) if objective else 0.0
        report = SolveReport(
            "feasible",
            objective,
            bound,
            gap,
            rv.rounding_units * unit,
            unit,
            time.perf_counter() - started,
            len(proto.variables),
            len(proto.constraints),
            detail,
            build_s,
            False,
        )
        return view.make_placement(request, model.canonical([best[1]])[0], status="feasible"), report
    if status == "timeout":
        detail = f"CP-SAT found no placement within {params.time_limit_s} s"
        return (
            Rejection(request.id, 0, "", Constraint.TIMEOUT, detail),
            _report(model, solver, status, started, rv.rounding_units, detail, build_s=build_s, by_bounds=confirm),
        )
    assignments = model.extract(solver)[0]
    placement = view.make_placement(request, assignments, status=status)
    return placement, _report(model, solver, status, started, rv.rounding_units, build_s=build_s, by_bounds=confirm)


@dataclass(frozen=True, slots=True)
class BatchResult:
    """Joint placement of a window of requests.

    Attributes:
        decisions: one per request, in the order given.
        report: the joint solve (objective: sum of the placed requests' latencies).
        lower_bounds_s: per request, a proved lower bound of its latency (its
            single-request optimum bound on the same residuals); NaN if rejected.
    """

    decisions: tuple[Decision, ...]
    report: SolveReport
    lower_bounds_s: tuple[float, ...]

    @property
    def total_latency_s(self) -> float:
        """Sum of the placed requests' cost-model latencies, s."""
        return sum(d.cost.latency_s for d in self.decisions if isinstance(d, Placement))


def solve_batch(
    requests: Sequence[Request],
    view: ClusterView,
    world: World,
    params: ExactParams,
) -> BatchResult:
    """Place ``requests`` jointly: shared residual budgets, objective the sum of latencies (Eq. 8).

    Requests that cannot be placed even alone (pre-check or single-request
    solve) are rejected and left out. When the single-request optima fit the
    shared budgets together they are the batch optimum (each single solve
    relaxes the batch) and no joint model is built; otherwise the joint model
    is solved with the single optima as lower-bound cuts and hints. If the
    rest cannot be placed together, every one of them is rejected with
    constraint ``infeasible`` (or ``timeout``).
    """
    started = time.perf_counter()
    unit = params.time_unit_s or default_time_unit(world, sorted({r.cnn for r in requests}), params.resolution)
    decisions: dict[int, Decision] = {}
    bounds: dict[int, float] = {}
    singles: dict[tuple[str, int], tuple[Decision, SolveReport]] = {}
    distinct = len({(r.cnn, r.source) for r in requests})
    single_params = params.model_copy(update={"time_limit_s": params.time_limit_s / (2 * max(distinct, 1))})
    for request in requests:
        key = (request.cnn, request.source)
        if key not in singles:
            singles[key] = solve_request(request, view, world, single_params, time_unit_s=unit)
        decision, report = singles[key]
        if isinstance(decision, Rejection):
            decisions[request.id] = Rejection(
                request.id, decision.layer, decision.layer_name, decision.constraint, decision.detail
            )
    joint = [r for r in requests if r.id not in decisions]
    shortcut = _independent_optima(joint, singles, view, started, unit)
    if shortcut is not None:
        for request in joint:
            single = singles[(request.cnn, request.source)][0]
            assert isinstance(single, Placement)
            decisions[request.id] = view.make_placement(request, list(single.assignments), status=single.status)
            bounds[request.id] = singles[(request.cnn, request.source)][1].bound_s
        return BatchResult(
            tuple(decisions[r.id] for r in requests), shortcut, tuple(bounds.get(r.id, math.nan) for r in requests)
        )
    model = _Model(world, view, unit, params.symmetry_breaking)
    rounding = 0
    hints = []
    for request in joint:
        rv = model.add_request(request)
        rounding += rv.rounding_units
        decision, report = singles[(request.cnn, request.source)]
        assert isinstance(decision, Placement)
        bound_units = math.ceil(report.bound_s / unit - 1e-6)
        bounds[request.id] = report.bound_s
        if rv.t:
            model.m.add(sum(rv.t) + rv.constant_units >= bound_units)
        hints.append(list(decision.assignments))
    report: SolveReport
    if joint:
        model.finish()
        model.hint(model.canonical(hints))
        remaining = max(params.time_limit_s - (time.perf_counter() - started), 0.1 * params.time_limit_s)
        solver = _solver(params, remaining)
        status = _status(solver, solver.solve(model.m))
        if status in ("optimal", "feasible"):
            for request, assignments in zip(joint, model.extract(solver), strict=True):
                decisions[request.id] = view.make_placement(request, assignments, status=status)
            report = _report(model, solver, status, started, rounding)
        else:
            constraint = Constraint.INFEASIBLE if status == "infeasible" else Constraint.TIMEOUT
            detail = (
                "CP-SAT proved the batch infeasible: the requests do not fit the shared budgets together"
                if status == "infeasible"
                else f"CP-SAT found no joint placement within {params.time_limit_s} s"
            )
            for request in joint:
                decisions[request.id] = Rejection(request.id, 0, "", constraint, detail)
            report = _report(model, solver, status, started, rounding, detail)
    else:
        report = SolveReport(
            "infeasible",
            math.nan,
            math.nan,
            math.nan,
            0.0,
            unit,
            time.perf_counter() - started,
            detail="every request was rejected alone",
        )
    return BatchResult(
        decisions=tuple(decisions[r.id] for r in requests),
        report=report,
        lower_bounds_s=tuple(bounds.get(r.id, math.nan) for r in requests),
    )


def _independent_optima(
    joint: Sequence[Request],
    singles: dict[tuple[str, int], tuple[Decision, SolveReport]],
    view: ClusterView,
    started: float,
    unit: float,
) -> SolveReport | None:
    """The batch solution when every request's own optimum fits the shared budgets together, else None.

    Each single-request solve relaxes the batch (same residuals, nothing
    shared), so the sum of their bounds bounds the batch; if their placements
    fit together they are a batch solution with that same value.
    """
    if not joint:
        return None
    comp = np.zeros_like(view.compute_mults)
    mem = np.zeros_like(view.memory_bytes)
    bw = np.zeros_like(view.bandwidth_bytes)
    objective = bound = rounding = 0.0
    statuses = set()
    for request in joint:
        decision, report = singles[(request.cnn, request.source)]
        assert isinstance(decision, Placement)
        comp += decision.cost.compute_mults
        mem += decision.cost.memory_bytes
        bw += decision.cost.bandwidth_bytes
        objective += report.objective_s
        bound += report.bound_s
        rounding += report.rounding_bound_s
        statuses.add(decision.status)
    if np.any(comp > view.compute_mults) or np.any(mem > view.memory_bytes) or np.any(bw > view.bandwidth_bytes):
        return None
    status = "optimal" if statuses == {"optimal"} else "feasible"
    gap = 0.0 if status == "optimal" else max(0.0, (objective - bound) / objective) if objective > 0 else 0.0
    return SolveReport(
        status,
        objective,
        bound,
        gap,
        rounding,
        unit,
        time.perf_counter() - started,
        detail="each request's own optimum; together they fit the shared budgets",
    )


class Exact:
    """Optimal placement of one request at a time with CP-SAT (see the module docstring).

    ``last_report`` holds the :class:`SolveReport` of the latest call. With one
    worker and a fixed seed CP-SAT is deterministic for a given model (unless
    the wall-clock limit cuts the search), so ``deterministic`` is True and the
    engine may probe it on an idle fleet; with several workers the parallel
    portfolio races and ``deterministic`` is False. (CP-SAT's deterministic
    ``interleave_search`` was several times slower on the benchmark.)
    """

    name: ClassVar[str] = "exact"
    Params = ExactParams

    def __init__(self, params: ExactParams, world: World, rng: np.random.Generator) -> None:
        self.deterministic = params.workers == 1
        self.params = params
        self.world = world
        self.last_report: SolveReport | None = None

    def place(self, request: Request, view: ClusterView) -> Decision:
        decision, self.last_report = solve_request(request, view, self.world, self.params)
        return decision

    def place_batch(self, requests: Sequence[Request], view: ClusterView) -> BatchResult:
        """Place a window of requests jointly (the paper's formulation)."""
        result = solve_batch(requests, view, self.world, self.params)
        self.last_report = result.report
        return result
