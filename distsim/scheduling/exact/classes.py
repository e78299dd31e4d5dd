"""The class model: segment counts per (layer, device class) instead of per device.

Participants with the same speed, radio and residual budgets on a full mesh
are interchangeable (:func:`device_classes`). The class model has, per layer
``l`` and class ``k`` (``m_k`` devices, per-device room ``r``):

* ``N[l,k]``: segments of ``l`` on the class, ``sum_k N = P``;
* ``M[l,k]``: the most segments one device of the class holds (``M <= N <= m_k M``);
* ``B[l,k]``: the class computes part of ``l``; ``W[l,k]``: at least two of its
  devices do (``N - M <= P W``: with one device used ``N = M``);
* between per-map layers, flows ``F[k,k']`` of maps between distinct devices
  (``k = k'``: two devices of one class) and ``L[k]``, maps that stay on the
  device that computed them (conservation at both ends).

Every per-device placement maps to a class solution (``N`` the class sums,
``M`` the class maxima, flows summed per class pair) whose constraints hold
and whose objective is at most the per-device model's: each ``T_l``
constraint below is implied by a per-device one (the device holding ``M``
pays its compute; a receiver pays a transfer from another device when the
class counts force one; a positive class flow is a positive pair flow, and
some pair carries at least ``F / (m_k m_k')``), and the budgets are the
per-device budgets summed over the class. So the class optimum, and CP-SAT's
bound on it, are lower bounds of the per-device optimum (in the same rounded
time units): the class model is a *relaxation*. It is not always exact: the
per-device budgets are only enforced summed over a class, and maps a device
imports are priced from class counts. The placement comes from
:func:`split_back`, and the docs (``docs/schedulers.md``) state when that
preserves the optimum.

Over 600 lines because the class model and its split-back back to devices
(:func:`split_back`, :func:`assign_maps` and their helpers) read the same
per-class variables and rounded time units; they are kept together until
the split-back is moved to a module of its own.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import numpy.typing as npt
from ortools.sat.python import cp_model

from distsim.model.cnn import CNN, Feed, Layer, LayerKind
from distsim.model.devices import FullMesh
from distsim.placement import LayerRule, room
from distsim.scheduling.base import ClusterView, Request
from distsim.scheduling.exact.bounds import ceil_units, floor_units, receiver_bound
from distsim.scheduling.exact.model import active_terms
from distsim.world import World

IntArray = npt.NDArray[np.int64]
Lin = int | cp_model.IntVar


@dataclass(frozen=True, slots=True)
class DeviceClass:
    """Interchangeable devices (ascending ids); the request's source is a class of its own."""

    members: tuple[int, ...]

    @property
    def size(self) -> int:
        """Devices in the class."""
        return len(self.members)


def device_classes(view: ClusterView) -> list[DeviceClass] | None:
    """Participants grouped by (speed, seconds per byte, residual compute, memory, bandwidth).

    None over a topology (pairs differ by route, so no two devices are
    interchangeable in general). Classes are ordered by their lowest id.
    """
    if not isinstance(view.links, FullMesh):
        return None
    fleet = view.fleet
    d = fleet.participants
    keys = np.column_stack(
        [
            fleet.mults_per_s[:d].astype(np.float64),
            fleet.sec_per_byte[:d].astype(np.float64),
            view.compute_mults[:d].astype(np.float64),
            view.memory_bytes[:d].astype(np.float64),
            view.bandwidth_bytes[:d].astype(np.float64),
        ]
    )
    # Float keys of integer residuals below 2**53 are exact; speeds and rates compare bit for bit.
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    order = np.argsort(first, kind="stable")
    return [DeviceClass(tuple(np.flatnonzero(inverse == k).tolist())) for k in order.tolist()]


@dataclass(slots=True)
class _Rec:
    """``div * T >= sum terms`` if every literal of ``enforce`` is true."""

    terms: list[tuple[int, Lin]]
    enforce: list[cp_model.IntVar]
    div: int = 1


@dataclass(slots=True)
class _LayerVars:
    """Variables of one layer, per class index present."""

    n: dict[int, Lin] = field(default_factory=dict)
    mx: dict[int, Lin] = field(default_factory=dict)
    used: dict[int, Lin] = field(default_factory=dict)
    many: dict[int, Lin] = field(default_factory=dict)
    room: dict[int, int] = field(default_factory=dict)


def _upper(x: Lin) -> int:
    if isinstance(x, int):
        return x
    domain = x.proto.domain
    return int(domain[len(domain) - 1])


def _val(values: dict[int, int], x: Lin) -> int:
    return x if isinstance(x, int) else values.get(x.index, 0)


def _lower(x: Lin) -> int:
    return x if isinstance(x, int) else int(x.proto.domain[0])


class ClassModel:
    """The CP-SAT class model of one request (see the module docstring)."""

    def __init__(
        self,
        world: World,
        view: ClusterView,
        request: Request,
        unit_s: float,
        classes: Sequence[DeviceClass],
        check: Callable[[], None],
    ) -> None:
        self.world, self.view, self.request, self.unit = world, view, request, unit_s
        # Participant classes, then the source as a class of its own (last index).
        self.classes = [*classes, DeviceClass((request.source,))]
        self.source_class = len(self.classes) - 1
        self.check = check
        #: :func:`time.perf_counter` instant the split-back must end by (None: no wall-clock limit).
        self.deadline: float | None = None
        self.m = cp_model.CpModel()
        first = np.array([c.members[0] for c in self.classes], dtype=np.int64)
        self.speed = view.fleet.mults_per_s[first].astype(np.float64)
        self.spb = view.fleet.sec_per_byte[first].astype(np.float64)
        self.size = np.array([c.size for c in self.classes], dtype=np.int64)
        self.class_of = np.full(view.fleet.size, -1, dtype=np.int64)
        for k, c in enumerate(self.classes):
            self.class_of[list(c.members)] = k
        self.cnn: CNN = world.cnns[request.cnn]
        self.layers: list[_LayerVars] = []
        self.flows: list[dict[tuple[int, int], cp_model.IntVar]] = []
        self.local: list[dict[int, cp_model.IntVar]] = []
        self.t: list[cp_model.IntVar | None] = []
        self.records: dict[int, list[_Rec]] = {}
        # Booleans forced to 1 when ``a > b``; a hint sets them to exactly that.
        self.flags: list[tuple[cp_model.IntVar, Lin, Lin]] = []
        self.constant = 0
        #: Per per-map layer: (sender class, receiver class, X, h, X h, X M) (see :meth:`_importers`).
        self.importers: dict[
            int, list[tuple[int, int, cp_model.IntVar, cp_model.IntVar, cp_model.IntVar, cp_model.IntVar]]
        ] = {}
        #: Layers with a ``div > 1`` constraint: each may put its ``T_l`` up to one unit above the truth.
        self.slack_units = 0
        self._build()

    # -- helpers -------------------------------------------------------------
    def _tx(self, size_bytes: int, k: int) -> int:
        """Whole units (rounded down) for a device of class ``k`` to send ``size_bytes`` to another device."""
        return floor_units(size_bytes * float(self.spb[k]), self.unit)

    def _tc(self, layer: Layer, k: int) -> int:
        """Whole units (rounded down) for a device of class ``k`` to compute one segment of ``layer``."""
        return floor_units(layer.segment_mults / float(self.speed[k]), self.unit)

    def _ge(self, t: cp_model.IntVar, terms: list[tuple[int, Lin]], enforce: Sequence[Lin] = (), div: int = 1) -> None:
        active = active_terms(terms, enforce)
        if active is None:
            return
        terms, lits = active
        ct = self.m.add(div * t >= sum(c * x for c, x in terms))
        if lits:
            ct.only_enforce_if(lits)
        self.records.setdefault(t.index, []).append(_Rec(terms, lits, div))

    def _positive(self, x: Lin) -> Lin:
        """A Boolean that is 1 whenever ``x > 0`` (its hint: ``x > 0``)."""
        if isinstance(x, int):
            return int(x > 0)
        ub = _upper(x)
        if ub <= 1:
            return x
        flag = self.m.new_bool_var("")
        self.m.add(x <= ub * flag)
        self.flags.append((flag, x, 0))
        return flag

    # -- building ------------------------------------------------------------
    def _build(self) -> None:
        view, world, request = self.view, self.world, self.request
        limits = world.limits[request.cnn]
        comp, mem = view.compute_mults, view.memory_bytes
        s = request.source
        for layer in self.cnn.layers:
            self.check()
            rule = LayerRule.of(layer, limits)
            seg = layer.segments
            lv = _LayerVars()
            if rule.on_source:
                k = self.source_class
                lv.n[k] = lv.mx[k] = seg
                lv.used[k], lv.many[k], lv.room[k] = 1, 0, seg
            else:
                for k, c in enumerate(self.classes[:-1]):
                    j = c.members[0]
                    r = min(seg, room(rule, int(comp[j]), int(mem[j]), 0))
                    if r <= 0:
                        continue
                    top = min(seg, c.size * r)
                    n = self.m.new_int_var(0, top, "")
                    mx = self.m.new_int_var(0, r, "")
                    used = self.m.new_bool_var("")
                    self.m.add(n >= used)
                    self.m.add(n <= seg * used)
                    self.m.add(mx <= n)
                    self.m.add(n <= c.size * mx)
                    many: Lin = 0
                    if c.size >= 2 and top >= 2:
                        many = self.m.new_bool_var("")
                        self.m.add(n - mx <= seg * many)
                        self.m.add(n >= 2 * many)
                    else:
                        self.m.add(n == mx)
                    lv.n[k], lv.mx[k], lv.used[k], lv.many[k], lv.room[k] = n, mx, used, many, r
                if not lv.n:
                    self.m.add_bool_or([])  # no class can take the layer: infeasible
                self.m.add(sum(lv.n.values()) == seg)
            self.layers.append(lv)
            self._latency(layer, s)
        self._budgets()
        total: cp_model.LinearExprT = sum(t for t in self.t if t is not None)
        self.m.minimize(total + self.constant)

    def _latency(self, layer: Layer, source: int) -> None:
        l0 = layer.index - 1
        cur = self.layers[l0]
        tc = {k: self._tc(layer, k) for k in cur.n}
        self.flows.append({})
        self.local.append({})
        if layer.feed is Feed.NONE or l0 == 0:
            units = max(tc[k] * _upper(cur.mx[k]) for k in cur.n)
            self.constant += units
            self.t.append(None)
            return
        prev = self.layers[l0 - 1]
        lb = class_layer_lower_bound(self, layer, tc)
        ub = self._layer_upper(layer, tc)
        t = self.m.new_int_var(lb, max(lb, ub), "")
        self.t.append(t)
        for k in cur.n:
            self._ge(t, [(tc[k], cur.mx[k])])
        if layer.feed is Feed.PARTIAL_SUMS:
            self._partial_sums(t, layer, prev, cur, tc)
        elif layer.feed is Feed.MAPS:
            self._maps(t, layer, prev, cur, tc)
        else:
            self._fc(t, layer, prev, cur, tc)
        recs = self.records.get(t.index, [])
        if any(r.div > 1 for r in recs):
            self.slack_units += 1

    def _partial_sums(
        self, t: cp_model.IntVar, layer: Layer, prev: _LayerVars, cur: _LayerVars, tc: dict[int, int]
    ) -> None:
        unit = layer.feed_unit_bytes
        for k in prev.n:
            v = self._tx(unit, k)
            for q in cur.n:
                if k != q:
                    self._ge(t, [(v + tc[q], cur.mx[q])], [prev.used[k]])
                else:
                    # Two senders of the class: one is not the busiest receiver.
                    self._ge(t, [(v + tc[q], cur.mx[q])], [prev.many[k]])
                    # One sender, two receivers: one receiver imports from it.
                    self._ge(t, [(v + tc[q], 1)], [prev.used[k], cur.many[q]])

    def _fc(self, t: cp_model.IntVar, layer: Layer, prev: _LayerVars, cur: _LayerVars, tc: dict[int, int]) -> None:
        """GATHER into the first FC layer, VECTOR between FC layers (one segment each)."""
        unit = layer.feed_unit_bytes
        conv = layer.prev_kind is LayerKind.CONV
        size = layer.prev_out_maps * unit
        for k in prev.n:
            for q in cur.n:
                if layer.feed is Feed.VECTOR:
                    # Within one class sender and receiver may be one device: no cost.
                    if k != q:
                        self._ge(t, [(self._tx(unit, k), 1), (tc[q], 1)], [prev.used[k], cur.used[q]])
                elif conv:
                    lit = prev.used[k] if k != q else prev.many[k]
                    self._ge(t, [(self._tx(size, k), 1), (tc[q], 1)], [lit, cur.used[q]])
                elif k != q:
                    self._ge(t, [(self._tx(unit, k), prev.mx[k]), (tc[q], 1)], [cur.used[q]])
                else:
                    self._ge(t, [(self._tx(unit, k), 1), (tc[q], 1)], [prev.many[k], cur.used[q]])

    def _maps(self, t: cp_model.IntVar, layer: Layer, prev: _LayerVars, cur: _LayerVars, tc: dict[int, int]) -> None:
        l0 = layer.index - 1
        unit = layer.feed_unit_bytes
        flows: dict[tuple[int, int], cp_model.IntVar] = {}
        local: dict[int, cp_model.IntVar] = {}
        for k in prev.n:
            for q in cur.n:
                if k == q and self.size[k] < 2:
                    continue
                top = min(_upper(prev.n[k]), _upper(cur.n[q]))
                if top <= 0:
                    continue
                f = self.m.new_int_var(0, top, "")
                flows[(k, q)] = f
                v = self._tx(unit, k)
                pairs = int(self.size[k] * self.size[q]) if k != q else int(self.size[k] * (self.size[k] - 1))
                flag = self._positive(f)
                # Some pair carries at least F / pairs maps, and its receiver at least one segment.
                self._ge(t, [(v, f), (tc[q] * pairs, flag)], div=pairs)
                self._ge(t, [(v, 1), (tc[q], 1)], [flag])
                if k != q:
                    self._importers(t, l0, k, q, f, flag, v, tc[q], cur)
        for k in prev.n:
            if k in cur.n:
                top = min(_upper(prev.n[k]), _upper(cur.n[k]))
                if top > 0:
                    local[k] = self.m.new_int_var(0, top, "")
        for k in prev.n:
            self.m.add(sum(f for (a, _), f in flows.items() if a == k) + local.get(k, 0) == prev.n[k])
        for q in cur.n:
            self.m.add(sum(f for (_, b), f in flows.items() if b == q) + local.get(q, 0) == cur.n[q])
            # The busiest receiver imports a map when it holds more than any device of its class held before.
            senders = [k for k in prev.n if k != q or self.size[k] >= 2]
            if not senders:
                continue
            vmin = min(self._tx(unit, k) for k in senders)
            before = prev.mx.get(q, 0)
            imports = self.m.new_bool_var("")
            self.m.add(cur.mx[q] - before <= _upper(cur.mx[q]) * imports)
            self.flags.append((imports, cur.mx[q], before))
            self._ge(t, [(tc[q], cur.mx[q]), (vmin, imports)])
        self.flows[l0] = flows
        self.local[l0] = local

    def _importers(
        self,
        t: cp_model.IntVar,
        l0: int,
        k: int,
        q: int,
        f: cp_model.IntVar,
        flag: Lin,
        v: int,
        tcq: int,
        cur: _LayerVars,
    ) -> None:
        """Receivers of class ``q`` that import from class ``k``: ``X`` of them, the busiest holding ``h``.

        Each pays ``v_k + tc_q h`` at most, so ``T >= v_k + tc_q h``; they receive
        ``F <= X h`` maps; and class ``q`` holds ``N_q <= X h + (m_q - X) M_q``.
        """
        size = int(self.size[q])
        r = _upper(cur.mx[q])
        x = self.m.new_int_var(0, size, "")
        h = self.m.new_int_var(0, r, "")
        z = self.m.new_int_var(0, size * r, "")
        w = self.m.new_int_var(0, size * r, "")
        self.m.add_multiplication_equality(z, [x, h])
        self.m.add_multiplication_equality(w, [x, cur.mx[q]])
        self.m.add(f <= z)
        self.m.add(x >= flag)
        self.m.add(h <= cur.mx[q])
        self.m.add(cur.n[q] <= z + size * cur.mx[q] - w)
        self._ge(t, [(v, flag), (tcq, h)])
        self.importers.setdefault(l0, []).append((k, q, x, h, z, w))

    def _layer_upper(self, layer: Layer, tc: dict[int, int]) -> int:
        l0 = layer.index - 1
        prev, cur = self.layers[l0 - 1], self.layers[l0]
        worst = max(float(self.spb[k]) for k in prev.n)
        max_prev = max(_upper(prev.mx[k]) for k in prev.n)
        traffic = layer.feed_unit_bytes * max(layer.segments, max_prev, layer.prev_out_maps)
        comp = max(tc[k] * _upper(cur.mx[k]) for k in cur.n)
        return ceil_units(traffic * worst, self.unit) + comp + 2 * (layer.segments + max_prev) + 1

    def _budgets(self) -> None:
        """Compute, memory and (lower bounds of) bytes sent, summed over each class."""
        view = self.view
        comp: dict[int, list[tuple[int, Lin]]] = {}
        mem: dict[int, list[tuple[int, Lin]]] = {}
        sent: dict[int, list[tuple[int, Lin]]] = {}
        for layer, lv in zip(self.cnn.layers, self.layers, strict=True):
            for k, n in lv.n.items():
                comp.setdefault(k, []).append((layer.segment_mults, n))
                mem.setdefault(k, []).append((layer.segment_weight_bytes, n))
            l0 = layer.index - 1
            if l0 == 0 or layer.feed is Feed.NONE:
                continue
            prev = self.layers[l0 - 1]
            unit = layer.feed_unit_bytes
            for k in prev.n:
                terms = sent.setdefault(k, [])
                if layer.feed is Feed.PARTIAL_SUMS:
                    # Each used sender ships the partial sums of every segment it does not compute.
                    terms += [(unit * layer.segments, prev.used[k]), (unit * layer.segments, prev.many[k])]
                    terms.append((-unit, lv.n.get(k, 0)))
                elif layer.feed is Feed.MAPS:
                    terms += [(unit, prev.n[k]), (-unit, self.local[l0].get(k, 0))]
                elif layer.feed is Feed.GATHER:
                    if layer.prev_kind is LayerKind.CONV:
                        size = layer.prev_out_maps * unit
                        terms += [(size, prev.used[k]), (size, prev.many[k]), (-size, lv.used.get(k, 0))]
                    else:
                        terms += [(unit, prev.n[k]), (-unit * prev.room[k], lv.used.get(k, 0))]
                else:
                    terms += [(unit, prev.used[k]), (-unit, lv.used.get(k, 0))]
        for budgets, per_device in ((comp, view.compute_mults), (mem, view.memory_bytes), (sent, view.bandwidth_bytes)):
            for k, terms in sorted(budgets.items()):
                cap = int(per_device[self.classes[k].members[0]]) * int(self.size[k])
                if sum(c * _upper(x) for c, x in terms if c > 0) > cap:
                    self.m.add(sum(c * x for c, x in terms) <= cap)

    # -- hints -----------------------------------------------------------------
    def hint(self, assignments: Sequence[IntArray]) -> int:
        """Hint every variable from a per-device placement; returns its class-model objective (units)."""
        values: dict[int, int] = {}
        n_dev = self.view.fleet.size
        cls = self.class_of
        n_cls = len(self.classes)
        prev: IntArray | None = None
        for l0, array in enumerate(assignments):
            counts = np.bincount(array, minlength=n_dev)
            lv = self.layers[l0]
            held = cls[array]
            per_class = np.bincount(held, minlength=n_cls)
            for k in lv.n:
                members = list(self.classes[k].members)
                loads = counts[members]
                for x, value in (
                    (lv.n[k], int(per_class[k])),
                    (lv.mx[k], int(loads.max())),
                    (lv.used[k], int(per_class[k] > 0)),
                    (lv.many[k], int((loads > 0).sum() >= 2)),
                ):
                    if not isinstance(x, int):
                        values[x.index] = value
            if prev is not None and (self.flows[l0] or self.local[l0]):
                same = prev == array
                for k, var in self.local[l0].items():
                    values[var.index] = int((same & (cls[prev] == k)).sum())
                pair = cls[prev] * n_cls + cls[array]
                moved = np.bincount(pair[~same], minlength=n_cls * n_cls)
                for (k, q), var in self.flows[l0].items():
                    values[var.index] = int(moved[k * n_cls + q])
                for k, q, x, h, z, w in self.importers.get(l0, []):
                    into = np.zeros(n_dev, dtype=bool)
                    into[array[(~same) & (cls[prev] == k)]] = True
                    members = list(self.classes[q].members)
                    chosen = into[members]
                    loads = counts[members]
                    count, busiest = int(chosen.sum()), int(loads[chosen].max()) if chosen.any() else 0
                    values[x.index], values[h.index] = count, busiest
                    values[z.index], values[w.index] = count * busiest, count * int(loads.max())
            prev = array
        for flag, a, b in self.flags:
            values[flag.index] = int(_val(values, a) > _val(values, b))
        total = self.constant
        for t in self.t:
            if t is None:
                continue
            best = _lower(t)
            for rec in self.records.get(t.index, []):
                if all(values.get(lit.index, 0) for lit in rec.enforce):
                    e = sum(c * (x if isinstance(x, int) else values.get(x.index, 0)) for c, x in rec.terms)
                    best = max(best, -(-e // rec.div))
            values[t.index] = best
            total += best
        self.m.clear_hints()
        for index, value in values.items():
            self.m.add_hint(self.m.get_int_var_from_proto_index(index), value)
        return total

    def lower_bound(self) -> int:
        """The objective's lower bound from the per-layer bounds (units)."""
        return self.constant + sum(_lower(t) for t in self.t if t is not None)

    def solution(self, solver: cp_model.CpSolver) -> ClassSolution:
        """The solved counts and flows (see :class:`ClassSolution`)."""

        def val(x: Lin) -> int:
            return x if isinstance(x, int) else int(solver.value(x))

        rows = [{k: (val(n), val(lv.mx[k]), val(lv.many[k])) for k, n in lv.n.items()} for lv in self.layers]
        flows = [
            {**{key: val(f) for key, f in flows.items()}, **{(k, -1): val(x) for k, x in local.items()}}
            for flows, local in zip(self.flows, self.local, strict=True)
        ]
        times = [math.nan if t is None else val(t) * self.unit for t in self.t]
        return ClassSolution(rows, flows, times)


@dataclass(frozen=True, slots=True)
class ClassSolution:
    """A class-model solution.

    Attributes:
        rows: per layer, per class: (segments, most on one device, 1 if two or more devices are used).
        flows: per layer, ``(k, q)``: maps moving from devices of class ``k`` to other devices of
            class ``q``; ``(k, -1)``: maps staying on their device in class ``k`` (per-map layers only).
        times: per layer, the model's ``T_l`` in seconds (a lower bound of what the split can reach;
            NaN for the first layer).
    """

    rows: list[dict[int, tuple[int, int, int]]]
    flows: list[dict[tuple[int, int], int]]
    times: list[float]


def class_layer_lower_bound(model: ClassModel, layer: Layer, tc: dict[int, int]) -> int:
    """:func:`distsim.scheduling.exact.bounds.layer_lower_bound` computed per class.

    The same bound as on the per-device model (a device's ``g_j(n)`` depends
    on its class only, so each class contributes its values ``m_k`` times), with
    numpy instead of a loop over devices.
    """
    l0 = layer.index - 1
    cur, prev = model.layers[l0], model.layers[l0 - 1]
    seg_prev = model.cnn.layers[l0 - 1].segments
    unit = layer.feed_unit_bytes
    size = model.size
    values: list[npt.NDArray[np.float64]] = []
    weights: list[npt.NDArray[np.int64]] = []

    def cheapest(nbytes: int, q: int) -> float:
        costs = [model._tx(nbytes, k) for k in prev.n if k != q or size[k] >= 2]
        return float(min(costs)) if costs else math.inf

    for q in cur.n:

        def kth_send(k: int, q: int = q) -> float:
            sends, counts = [], []
            for c in prev.n:
                copies = int(size[c]) - (1 if c == q else 0)
                if copies > 0:
                    r = prev.room[c]
                    sends.append(model._tx(unit, c) * np.arange(1, r + 1, dtype=np.float64))
                    counts.append(np.full(r, copies, dtype=np.int64))
            return _kth(sends, counts, k)

        own_prev = prev.room.get(q, 0) if q in prev.n else 0
        g = receiver_bound(layer, tc[q], _upper(cur.mx[q]), own_prev, seg_prev, partial(cheapest, q=q), kth_send)
        values.append(g)
        weights.append(np.full(len(g), int(size[q]), dtype=np.int64))
    bound = _kth(values, weights, layer.segments)
    return int(bound) if math.isfinite(bound) else 0


def _kth(values: list[npt.NDArray[np.float64]], counts: list[npt.NDArray[np.int64]], k: int) -> float:
    """The ``k``-th smallest value (1-based) of ``values`` repeated ``counts`` times; inf if fewer."""
    if not values:
        return math.inf
    v = np.concatenate(values)
    c = np.concatenate(counts)
    order = np.argsort(v, kind="stable")
    cum = np.cumsum(c[order])
    at = int(np.searchsorted(cum, k))
    return float(v[order][at]) if at < len(v) else math.inf


def split_back(model: ClassModel, solution: ClassSolution, spread: bool, assign: bool = True) -> list[IntArray]:
    """Per-device assignments from a class solution (the exact assignment step).

    Within a class the segments of a layer go to its first devices (ascending
    id) as evenly as possible: over every device of the class when
    ``spread``, else over the fewest that keep the class maximum; one device
    when the solution uses one. The same devices lead in every layer, so the
    single sender of a class is its busiest receiver next. Maps of per-map
    layers stay on the device that computed them while its quota lasts; the
    rest are dealt round-robin over the receivers with quota left, sender by
    sender, so no pair carries more than it must.
    """
    n_dev = model.view.fleet.size
    out: list[IntArray] = []
    prev: IntArray | None = None
    for layer, row, flows, target in zip(model.cnn.layers, solution.rows, solution.flows, solution.times, strict=True):
        quota = np.zeros(n_dev, dtype=np.int64)
        for k, (n, mx, many) in row.items():
            if n <= 0:
                continue
            members = model.classes[k].members
            count = 1 if not many else (len(members) if spread else max(2, -(-n // max(mx, 1))))
            count = max(1, min(count, len(members), n))
            base, extra = divmod(n, count)
            quota[list(members[:count])] = [base + 1] * extra + [base] * (count - extra)
        array = _route(layer, prev, quota)
        if layer.feed is Feed.MAPS and prev is not None:
            model.check()
            # Only where the dealt maps are slower than the class model's time for the layer.
            if assign and _layer_time(layer, prev, array, model) > target * (1 + 1e-3):
                # With the class flows (or, if they cannot be met per device, the class counts only).
                assigned = assign_maps(model, layer, prev, row, flows)
                if assigned is None:
                    assigned = assign_maps(model, layer, prev, row, None)
                if assigned is not None and _layer_time(layer, prev, assigned, model) < _layer_time(
                    layer, prev, array, model
                ):
                    array = assigned
            _improve(model, layer, prev, array, row)
        out.append(array)
        prev = array
    return out


def _improve(
    model: ClassModel, layer: Layer, prev: IntArray, cur: IntArray, row: dict[int, tuple[int, int, int]]
) -> None:
    """Move maps of a per-map layer between devices of one class while that lowers the layer's Eq. 5 time.

    A receiver ``j`` finishes at ``tc_j n_j + max_i v_i f_ij`` (its compute plus the
    slowest map it imports, ``v_i`` seconds per map from ``i``). Repeatedly, the
    map that makes the latest receiver late (its slowest import, or any map it
    computes when it imports nothing) moves to the device of the same class
    that would finish earliest with it, if both then finish before the old
    maximum. Class counts do not change; ``cur`` is updated in place.
    """
    fleet = model.view.fleet
    n_dev = fleet.size
    tc = layer.segment_mults / fleet.mults_per_s
    v = layer.feed_unit_bytes * fleet.sec_per_byte
    room = np.zeros(n_dev, dtype=np.int64)
    cls = np.full(n_dev, -1, dtype=np.int64)
    for k in row:
        members = list(model.classes[k].members)
        room[members] = model.layers[layer.index - 1].room[k]
        cls[members] = k
    flows = np.zeros((n_dev, n_dev), dtype=np.int64)
    np.add.at(flows, (prev, cur), 1)
    np.fill_diagonal(flows, 0)
    n = np.bincount(cur, minlength=n_dev)
    index = np.arange(n_dev)
    for _ in range(2 * layer.segments):
        imports = v[:, None] * flows
        arriving = imports.max(axis=0)
        finish = tc * n + arriving
        j = int(np.argmax(finish))
        worst = float(finish[j])
        cand = (cls == cls[j]) & (n < room)
        cand[j] = False
        if not cand.any():
            return
        best: tuple[float, int, int] | None = None
        # Try every sender of a map j computes (j itself for its own maps): move one such map.
        for i in np.unique(prev[cur == j]).tolist():
            without = flows[:, j].copy()
            if i != j:
                without[i] -= 1
            left = tc[j] * (n[j] - 1) + float((v * without).max())
            pair = np.where(index == i, 0.0, v[i] * (flows[i] + 1))
            after = tc * (n + 1) + np.maximum(arriving, pair)
            after[~cand] = np.inf
            target = int(np.argmin(after))
            value = max(left, float(after[target]))
            if value < worst and (best is None or value < best[0]):
                best = (value, i, target)
        if best is None:
            return
        _, i, target = best
        p = int(np.flatnonzero((cur == j) & (prev == i))[0])
        cur[p] = target
        n[j] -= 1
        n[target] += 1
        if i != j:
            flows[i, j] -= 1
        if i != target:
            flows[i, target] += 1


def _route(layer: Layer, prev: IntArray | None, quota: IntArray) -> IntArray:
    """Segment -> device for one layer with ``quota[j]`` segments on device ``j``."""
    devices = np.flatnonzero(quota)
    if layer.feed is not Feed.MAPS or prev is None:
        return np.repeat(devices, quota[devices]).astype(np.int64)
    left = quota.copy()
    array = np.full(layer.segments, -1, dtype=np.int64)
    for p, i in enumerate(prev.tolist()):
        if left[i] > 0:
            array[p] = i
            left[i] -= 1
    rest = np.flatnonzero(array < 0)
    if len(rest):
        # Receivers' remaining slots, interleaved (j1, j2, ..., j1, j2, ...), against the maps sorted by sender.
        slots: list[int] = []
        remaining = {int(j): int(left[j]) for j in np.flatnonzero(left)}
        while remaining:
            for j in sorted(remaining):
                slots.append(j)
                remaining[j] -= 1
                if remaining[j] == 0:
                    del remaining[j]
        order = rest[np.argsort(prev[rest], kind="stable")]
        array[order] = np.array(slots, dtype=np.int64)
    return array


def _layer_time(layer: Layer, prev: IntArray, cur: IntArray, model: ClassModel) -> float:
    """Eq. 5 time of a per-map layer, s: the latest receiver's compute plus its slowest import."""
    fleet = model.view.fleet
    n_dev = fleet.size
    flows = np.zeros((n_dev, n_dev), dtype=np.int64)
    np.add.at(flows, (prev, cur), 1)
    np.fill_diagonal(flows, 0)
    n = np.bincount(cur, minlength=n_dev)
    v = layer.feed_unit_bytes * fleet.sec_per_byte
    return float((layer.segment_mults / fleet.mults_per_s * n + (v[:, None] * flows).max(axis=0)).max())


def assign_maps(
    model: ClassModel,
    layer: Layer,
    prev: IntArray,
    row: dict[int, tuple[int, int, int]],
    flows: dict[tuple[int, int], int] | None,
) -> IntArray | None:
    """Place a per-map layer's segments on devices, keeping the class counts, by a small CP-SAT model.

    Per receiver ``j``: ``keep_j`` of its own maps of ``l - 1`` and ``g_kj`` maps
    imported from devices of class ``k``; ``n_j = keep_j + sum_k g_kj``. Per class
    the counts are the class solution's. Imports from class ``k`` are spread
    over its holders, so ``j`` waits at least ``v_k`` (one map) and at least
    ``v_k g_kj / S`` (``S`` holders other than ``j``); ``min T`` with ``T >=
    tc_j n_j`` plus that wait. The per-pair split is then dealt greedily
    (largest remaining export first). With ``flows`` the class solution's flows
    between classes (and maps kept per class) are kept too. None when CP-SAT
    finds nothing within its small work limit.
    """
    fleet = model.view.fleet
    n_dev = fleet.size
    unit = model.unit
    tc = layer.segment_mults / fleet.mults_per_s
    v = layer.feed_unit_bytes * fleet.sec_per_byte
    held = np.bincount(prev, minlength=n_dev)
    holders = np.flatnonzero(held)
    cls = model.class_of
    receivers = [j for k in sorted(row) if row[k][0] > 0 for j in model.classes[k].members]
    room = {j: model.layers[layer.index - 1].room[int(cls[j])] for j in receivers}
    sender_classes = sorted({int(cls[i]) for i in holders})
    m = cp_model.CpModel()
    horizon = math.ceil((float(tc[receivers].max()) * layer.segments + float(v.max()) * layer.segments) / unit) + 1
    t = m.new_int_var(0, horizon, "")
    keep: dict[int, cp_model.IntVar] = {}
    imports: dict[tuple[int, int], cp_model.IntVar] = {}
    load: dict[int, cp_model.LinearExprT] = {}
    for j in receivers:
        parts: list[cp_model.IntVar] = []
        if held[j]:
            keep[j] = m.new_int_var(0, min(int(held[j]), room[j]), "")
            parts.append(keep[j])
        tcj = ceil_units(float(tc[j]), unit)
        n_j = m.new_int_var(0, room[j], "")
        for k in sender_classes:
            count = sum(1 for i in model.classes[k].members if held[i] and i != j)
            if count == 0:
                continue
            g = m.new_int_var(0, room[j], "")
            imports[(k, j)] = g
            parts.append(g)
            vk = ceil_units(float(v[model.classes[k].members[0]]), unit)
            b = m.new_bool_var("")
            m.add(g <= room[j] * b)
            m.add(t >= tcj * n_j + vk * b)
            m.add(count * t >= count * tcj * n_j + vk * g)
        m.add(n_j == sum(parts))
        m.add(t >= tcj * n_j)
        load[j] = n_j
    for k in sorted(row):
        if row[k][0] > 0:
            m.add(sum(load[j] for j in model.classes[k].members) == row[k][0])
    for k in sender_classes:
        members = [i for i in model.classes[k].members if held[i]]
        exported = sum(int(held[i]) for i in members) - sum(keep[i] for i in members if i in keep)
        m.add(sum(g for (c, _), g in imports.items() if c == k) == exported)
    if flows is not None:
        _keep_flows(m, model, keep, imports, flows)
    m.minimize(t)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_deterministic_time = 0.2
    if model.deadline is not None:
        # Deterministic time runs slower than the clock on a loaded machine: the budget's deadline binds too.
        solver.parameters.max_time_in_seconds = max(model.deadline - time.perf_counter(), 1e-3)
    if solver.solve(m) not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    kept = {i: int(solver.value(x)) for i, x in keep.items()}
    return _deal(model, prev, kept, {key: int(solver.value(g)) for key, g in imports.items()})


def _keep_flows(
    m: cp_model.CpModel,
    model: ClassModel,
    keep: dict[int, cp_model.IntVar],
    imports: dict[tuple[int, int], cp_model.IntVar],
    flows: dict[tuple[int, int], int],
) -> None:
    """The class solution's flows between classes, and its maps kept per class, per device."""
    cls = model.class_of
    for (k, q), value in flows.items():
        if q < 0:
            m.add(sum(keep[i] for i in model.classes[k].members if i in keep) == value)
        else:
            m.add(sum(g for (c, j), g in imports.items() if c == k and cls[j] == q) == value)


def _deal(
    model: ClassModel, prev: IntArray, kept: dict[int, int], imports: dict[tuple[int, int], int]
) -> IntArray | None:
    """Segments of a per-map layer from what each holder keeps and what each receiver imports per class.

    A holder keeps its first ``kept`` maps (segment order) and exports the rest;
    a receiver takes its imports from class ``k`` one map per holder, from the
    holders with the most left to export first. None if that cannot be met.
    """
    cur = np.full(len(prev), -1, dtype=np.int64)
    exports: dict[int, list[int]] = {}
    for i in np.unique(prev).tolist():
        maps = np.flatnonzero(prev == i).tolist()
        own = kept.get(i, 0)
        cur[maps[:own]] = i
        exports[i] = maps[own:]
    for (k, j), need in sorted(imports.items(), key=lambda item: (item[0][1], item[0][0])):
        while need > 0:
            # One map from each of the holders with the most left to export, round by round.
            pool = sorted(
                (i for i in model.classes[k].members if exports.get(i) and i != j), key=lambda i: (-len(exports[i]), i)
            )
            if not pool:
                return None
            for i in pool[:need]:
                cur[exports[i].pop()] = j
                need -= 1
    return cur if (cur >= 0).all() else None
