"""The CP-SAT model of one or more requests (see the package docstring for the formulation).

Every constraint is written once: a ``T >= sum coef * x`` constraint is kept
as a :class:`_Record`, an auxiliary variable as an :class:`_Aux` with the terms
that define it, and a device's bytes sent as a :class:`_Bytes`; hint
evaluation and the rounding bound read the same terms the CP-SAT constraints
were built from.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
import numpy.typing as npt
from ortools.sat.python import cp_model

from distsim.model.cnn import CNN, Feed, Layer, LayerKind
from distsim.model.devices import FullMesh
from distsim.placement import LayerRule, Reach, room
from distsim.scheduling.base import ClusterView, Request
from distsim.scheduling.exact.bounds import ceil_units, layer_lower_bound, layer_upper_bound
from distsim.scheduling.exact.precheck import usable_participants
from distsim.world import World

IntArray = npt.NDArray[np.int64]
Lin = int | cp_model.IntVar  # a model quantity: a constant or a variable


@dataclass(slots=True)
class _Record:
    """One ``T >= sum coef * x`` constraint, kept to evaluate hints and the rounding bound."""

    terms: list[tuple[int, Lin]]
    enforce: list[cp_model.IntVar]


@dataclass(slots=True)
class RequestVars:
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


def active_terms(
    terms: list[tuple[int, Lin]], enforce: Sequence[Lin]
) -> tuple[list[tuple[int, Lin]], list[cp_model.IntVar]] | None:
    """The nonzero terms and variable literals of ``T >= sum terms`` if ``enforce``; None when vacuous.

    Vacuous: a literal is the constant 0, or no term is left (``T >= 0`` holds anyway).
    """
    lits: list[cp_model.IntVar] = []
    for lit in enforce:
        if isinstance(lit, int):
            if lit == 0:
                return None
            continue
        lits.append(lit)
    kept = [(c, x) for c, x in terms if c != 0 and not (isinstance(x, int) and x == 0)]
    return (kept, lits) if kept else None


def default_time_unit(world: World, cnn_names: Sequence[str], resolution: int) -> float:
    """Time unit: the largest CNN's multiplications on the fastest device / ``resolution``, s."""
    fastest = float(world.fleet.mults_per_s.max())
    work = max(world.cnns[name].total_mults for name in cnn_names)
    return max(work / fastest / resolution, 1e-12)


class _AuxKind(Enum):
    """How an auxiliary variable ``v`` relates to ``e = sum terms``; its hint is the least allowed value."""

    SUM = "sum"  # v == e
    CLAMP = "clamp"  # v >= e, v >= 0 (only ever bounded from above elsewhere): hint max(0, e)
    POSITIVE = "positive"  # e <= scale * v, v Boolean: hint 1 if e > 0


@dataclass(frozen=True, slots=True)
class _Aux:
    var: cp_model.IntVar
    terms: list[tuple[int, Lin]]
    kind: _AuxKind

    def value(self, values: dict[int, int]) -> int:
        """The hint of ``var`` given the hinted values of its terms."""
        e = sum(c * _val(values, x) for c, x in self.terms)
        if self.kind is _AuxKind.SUM:
            return e
        if self.kind is _AuxKind.CLAMP:
            return max(0, e)
        return int(e > 0)


@dataclass(frozen=True, slots=True)
class _Bytes:
    """Bytes one device sends for one layer: ``max(0, sum terms)`` (or ``sum terms`` if not ``clamp``).

    ``ub`` bounds it; the budget constraint is built only when the upper bounds can exceed it.
    """

    ub: int
    terms: list[tuple[int, Lin]]
    clamp: bool


class Model:
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
        # A capped layer over links in clear avoids untrusted relays (distsim.placement.Reach.for_rule):
        # its transfers are timed with ``spb_guarded`` (inf through a participant), built on first use.
        self.reach = Reach(view.links, fleet.participants, encrypted_links=world.encrypted_links)
        self.spb_guarded: npt.NDArray[np.float64] | None = None
        #: The seconds per byte of the layer being built (``spb`` or ``spb_guarded``).
        self.spb_layer = self.spb
        self.speed = fleet.mults_per_s
        self.records: dict[int, list[_Record]] = {}
        # Auxiliary variables defined by their terms; a hint derives their values from the same terms.
        self.aux: list[_Aux] = []
        self.requests: list[RequestVars] = []
        self.comp_terms: dict[int, list[tuple[int, Lin]]] = {}
        self.mem_terms: dict[int, list[tuple[int, Lin]]] = {}
        # bandwidth contributions, turned into constraints only where the budget can bind
        self.bw_terms: dict[int, list[_Bytes]] = {}
        self.objective_vars: list[cp_model.IntVar] = []
        self.objective_constant = 0
        self._usable: dict[int, npt.NDArray[np.bool_]] = {}
        # Called once per layer while building and hinting; a wall-clock budget raises from it.
        self.check: Callable[[], None] = _no_check

    # -- helpers ------------------------------------------------------------
    def tx_units(self, size_bytes: int, i: int, j: int) -> int | None:
        """Units to send ``size_bytes`` from ``i`` to ``j`` (None if unreachable)."""
        if i == j:
            return 0
        spb = float(self.spb_layer[i, j])
        if not math.isfinite(spb):
            return None
        return ceil_units(size_bytes * spb, self.unit)

    def _tc(self, layer: Layer, j: int) -> int:
        return ceil_units(layer.segment_mults / float(self.speed[j]), self.unit)

    @staticmethod
    def upper(x: Lin) -> int:
        if isinstance(x, int):
            return x
        domain = x.proto.domain
        return int(domain[len(domain) - 1])

    def _ge(self, t: cp_model.IntVar, terms: list[tuple[int, Lin]], enforce: Sequence[Lin] = ()) -> None:
        active = active_terms(terms, enforce)
        if active is None:
            return
        terms, lits = active
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

    def _bw(self, device: int, ub_bytes: int, terms: list[tuple[int, Lin]], clamp: bool = True) -> None:
        """Device ``device`` sends ``max(0, sum terms)`` bytes (``sum terms`` when not ``clamp``)."""
        if ub_bytes > 0:
            self.bw_terms.setdefault(device, []).append(_Bytes(ub_bytes, terms, clamp))

    # -- building -----------------------------------------------------------
    def add_request(self, request: Request) -> RequestVars:
        world, view = self.world, self.view
        cnn = world.cnns[request.cnn]
        limits = world.limits[request.cnn]
        s = request.source
        comp, mem = view.compute_mults, view.memory_bytes
        rv = RequestVars(request, cnn)
        usable = self._usable.get(s)
        if usable is None:
            # Over a topology, participants cut off from the source never get a variable.
            usable = self._usable[s] = usable_participants(view, s)
        for layer in cnn.layers:
            self.check()
            seg, c, m = layer.segments, layer.segment_mults, layer.segment_weight_bytes
            counts: dict[int, Lin] = {}
            used: dict[int, Lin] = {}
            rule = LayerRule.of(layer, limits)
            if rule.on_source:
                counts[s], used[s] = seg, 1
            else:
                for j in np.flatnonzero(usable).tolist():
                    # The kernel's room (cond1 and cond4), at most the layer's segments.
                    ub = min(seg, room(rule, int(comp[j]), int(mem[j]), 0))
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

    def _layer_time(self, rv: RequestVars, layer: Layer) -> None:
        """Create ``T_l`` with its constraints and the bandwidth the feed uses."""
        l0 = layer.index - 1
        guarded = self.reach.for_rule(LayerRule.of(layer, self.world.limits[rv.cnn.name]))
        if guarded is self.reach:
            self.spb_layer = self.spb
        else:
            if self.spb_guarded is None:
                n = self.n_devices
                grid_i, grid_j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
                self.spb_guarded = guarded.links.pairs(grid_i.ravel(), grid_j.ravel()).reshape(n, n)
            self.spb_layer = self.spb_guarded
        recv, n_cur = rv.receivers[l0], rv.n[l0]
        tc = {j: self._tc(layer, j) for j in recv}
        if layer.feed is Feed.NONE or l0 == 0:
            units = max(tc[j] * self.upper(n_cur[j]) for j in recv)
            rv.constant_units += units
            rv.rounding_units += max(self.upper(n_cur[j]) for j in recv)
            self.objective_constant += units
            return
        ub_t = layer_upper_bound(self, rv, layer, tc)
        lb_t = layer_lower_bound(self, rv, layer, tc)
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
                # i ships its partial sums of every segment it does not compute itself, if it computed any.
                self._bw(i, unit * seg, [(unit * seg, ui), (-unit, n_i)], clamp=not isinstance(ui, int))
        elif layer.feed is Feed.MAPS:
            flows: dict[tuple[int, int], cp_model.IntVar] = {}
            for i in send:
                self.check()  # a wall-clock budget may end inside a large layer
                for j in recv:
                    tx = self.tx_units(unit, i, j)
                    if tx is None:
                        continue
                    ub = min(self.upper(n_prev[i]), self.upper(n_cur[j]))
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
                self._bw(i, unit * self.upper(n_prev[i]), [(unit, n_prev[i]), (-unit, fii)], clamp=False)
        elif layer.feed is Feed.GATHER:
            conv = layer.prev_kind is LayerKind.CONV
            size = layer.prev_out_maps * unit
            for i in send:
                self.check()  # a wall-clock budget may end inside a large layer
                for j in recv:
                    if i == j:
                        continue
                    y = n_cur[j]
                    if conv:
                        tx = self.tx_units(size, i, j)
                        if tx is None:
                            self._forbid([u_prev[i], y])
                        else:
                            self._ge(t, [(tx, 1), (tc[j], 1)], [u_prev[i], y])
                    else:
                        tx = self.tx_units(unit, i, j)
                        if tx is None:
                            self._forbid([u_prev[i], y])
                        else:
                            self._ge(t, [(tx, n_prev[i]), (tc[j], 1)], [y])
            for i in send:
                y_i = n_cur.get(i, 0)
                if conv:
                    # i ships its whole output to the FC device unless it is that device.
                    self._bw(i, size, [(size, u_prev[i]), (-size, y_i)])
                else:
                    # i ships the maps it holds unless it computes the FC segment (n_prev <= cap).
                    cap = self.upper(n_prev[i])
                    self._bw(i, unit * cap, [(unit, n_prev[i]), (-unit * cap, y_i)])
        else:  # VECTOR
            for i in send:
                self.check()  # a wall-clock budget may end inside a large layer
                for j in recv:
                    if i == j:
                        continue
                    tx = self.tx_units(unit, i, j)
                    if tx is None:
                        self._forbid([n_prev[i], n_cur[j]])
                    else:
                        self._ge(t, [(tx, 1), (tc[j], 1)], [n_prev[i], n_cur[j]])
            for i in send:
                self._bw(i, unit, [(unit, n_prev[i]), (-unit, n_cur.get(i, 0))])
        recs = self.records.get(t.index, [])
        rv.rounding_units += max((sum(self.upper(x) for _, x in r.terms) for r in recs), default=0)

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
                    ceil_units(unit * float(self.spb[i, (i + 1) % self.n_devices]), self.unit), []
                ).append(i)
            for v in sorted(groups, reverse=True):
                members = groups[v]
                constants = [x for i in members if isinstance(x := u_prev[i], int)]
                if len(constants) == len(members):
                    total: Lin = sum(constants)
                else:
                    total = self._aux(0, len(members), [(1, u_prev[i]) for i in members], _AuxKind.SUM)
                for j in recv:
                    inside = j in u_prev and j in members
                    size = len(members) - (1 if inside else 0)
                    if size == 0:
                        continue
                    u_j = u_prev[j] if inside else 0
                    if isinstance(total, int) and isinstance(u_j, int):
                        others = total - u_j
                        if others > 0:
                            self._ge(t, [(v, n_cur[j]), (tc[j], n_cur[j])])
                        continue
                    # flag = 1 when a member of the group other than j computed part of l - 1.
                    others_terms: list[tuple[int, Lin]] = [(1, total)]
                    if inside:
                        others_terms.append((-1, u_prev[j]))
                    flag = self._aux(0, 1, others_terms, _AuxKind.POSITIVE, scale=size)
                    self._ge(t, [(v, n_cur[j]), (tc[j], n_cur[j])], [flag])
            return
        for i in send:
            self.check()  # a wall-clock budget may end inside a large layer
            for j in recv:
                if i == j:
                    continue
                tx = self.tx_units(unit, i, j)
                if tx is None:
                    n_j = n_cur[j]
                    self._forbid([u_prev[i], n_j if isinstance(n_j, int) else self._bool_of_cached(n_j)])
                else:
                    self._ge(t, [(tx, n_cur[j]), (tc[j], n_cur[j])], [u_prev[i]])

    def _bool_of_cached(self, x: cp_model.IntVar) -> cp_model.IntVar:
        return self._bool_of(x, self.upper(x))

    def _aux(self, lb: int, ub: int, terms: list[tuple[int, Lin]], kind: _AuxKind, scale: int = 1) -> cp_model.IntVar:
        """A variable tied to ``e = sum terms`` as ``kind`` says (see :class:`_AuxKind`).

        The constraint is written here once; :meth:`hint` computes the variable's
        value from the same terms (the least value the constraint allows).
        """
        var = self.m.new_bool_var("") if kind is _AuxKind.POSITIVE else self.m.new_int_var(lb, ub, "")
        expr = sum(c * x for c, x in terms)
        if kind is _AuxKind.SUM:
            self.m.add(var == expr)
        elif kind is _AuxKind.CLAMP:
            self.m.add(var >= expr)
        else:
            self.m.add(expr <= scale * var)
        self.aux.append(_Aux(var, terms, kind))
        return var

    def _bytes_expr(self, contribution: _Bytes) -> cp_model.LinearExprT:
        if not contribution.clamp:
            return sum(c * x for c, x in contribution.terms)
        return self._aux(0, contribution.ub, contribution.terms, _AuxKind.CLAMP)

    def finish(self) -> None:
        """Add the shared budgets, symmetry breaking and the objective."""
        view = self.view
        for j, terms in sorted(self.comp_terms.items()):
            if sum(c * self.upper(x) for c, x in terms) > int(view.compute_mults[j]):
                self.m.add(sum(c * x for c, x in terms) <= int(view.compute_mults[j]))
        for j, terms in sorted(self.mem_terms.items()):
            if sum(c * self.upper(x) for c, x in terms) > int(view.memory_bytes[j]):
                self.m.add(sum(c * x for c, x in terms) <= int(view.memory_bytes[j]))
        for j, contributions in sorted(self.bw_terms.items()):
            if sum(b.ub for b in contributions) > int(view.bandwidth_bytes[j]):
                self.m.add(sum(self._bytes_expr(b) for b in contributions) <= int(view.bandwidth_bytes[j]))
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
                self.check()
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
        for aux in self.aux:  # in creation order: an aux may use an earlier one
            values[aux.var.index] = aux.value(values)
        for rv in self.requests:
            for t in rv.t:
                best = 0
                for rec in self.records.get(t.index, []):
                    if all(values.get(lit.index, 0) for lit in rec.enforce):
                        best = max(best, sum(c * _val(values, x) for c, x in rec.terms))
                values[t.index] = max(best, self.lower(t))
        self.m.clear_hints()
        for index, value in values.items():
            self.m.add_hint(self.m.get_int_var_from_proto_index(index), value)
        return sum(values[t.index] for t in self.objective_vars) + self.objective_constant

    @staticmethod
    def lower(x: cp_model.IntVar) -> int:
        return int(x.proto.domain[0])

    def lower_bound(self) -> int:
        """The objective's lower bound from the per-layer bounds (units)."""
        return sum(self.lower(t) for t in self.objective_vars) + self.objective_constant

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


def _no_check() -> None:
    """The default :attr:`Model.check`: no wall-clock budget."""
