"""The placement kernel: the one owner of "device ``j`` may take ``k`` more segments of layer ``l``".

Every scheduler (the per-segment reference, the fast DistPrivacy run loops,
the greedy baselines, the exact solver's pre-check) and the validator decide
feasibility through the rules written here once:

* **cond1** (compute and memory): ``j``'s residual compute and memory hold
  ``k`` more segments of ``c^{l,p}`` multiplications and ``m^{l,p}`` bytes;
* **cond2** (sender bandwidth): every sender ``i != j`` has the residual
  bandwidth for the bytes it ships to ``j`` for those ``k`` segments;
* **cond4** (privacy cap): ``j`` then holds at most ``Nf^l`` segments (input
  maps) of layer ``l``, or the layer has no cap (``l >= SP``, or a mechanism
  without caps);
* **reachability** (topologies only): every sender ``i != j`` that ships bytes
  to ``j`` has a route to it (a finite cost per byte);
* **relays** (topologies without ``network.encrypted_links``): a participant
  that forwards maps sees them, so for a capped layer a sender may feed ``j``
  only over a route that crosses no participant (cameras are the operator's
  own). :meth:`Reach.for_rule` is that rule: relayed maps of a capped layer are
  then always zero, hence within the cap, and the validator checks own plus
  relayed maps against ``Nf^l``. A pair refused this way counts as unreachable.

When no participant qualifies, the rejection is attributed by
:func:`attribute`: each candidate is counted once by its *first* failing
condition in the order privacy, compute, memory, bandwidth, unreachable
(:data:`FAILURE_ORDER`), and the condition that rules out the most candidates
binds (ties in that order too). :func:`charge` debits a run of ``k`` segments
from the residuals exactly as the cost model (:mod:`distsim.model.cost`)
accounts them.

Everything here works on plain integer arrays (residuals indexed by device
id) and :class:`LayerRule` values; nothing is specific to one scheduler.
Units: multiplications, bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from distsim.model.cnn import CNN, Layer
from distsim.model.devices import FullMesh, Links, RowLinks
from distsim.model.privacy import PrivacyLimits

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: More segments than any layer has: the room of a condition that does not bind.
UNBOUNDED = np.iinfo(np.int64).max


class Constraint(StrEnum):
    """Why a request could not be placed."""

    PRIVACY = "privacy"
    COMPUTE = "compute"
    MEMORY = "memory"
    BANDWIDTH = "bandwidth"
    UNREACHABLE = "unreachable"
    NO_PARTICIPANTS = "no_participants"
    FLEET_TOO_SMALL = "fleet_too_small"
    INFEASIBLE = "infeasible"
    TIMEOUT = "timeout"


#: Order in which a candidate's failing conditions are attributed (unreachable comes after these).
FAILURE_ORDER = (Constraint.PRIVACY, Constraint.COMPUTE, Constraint.MEMORY, Constraint.BANDWIDTH)


@dataclass(frozen=True, slots=True)
class LayerRule:
    """What one segment of a layer asks of the device that takes it, and who may take it.

    Attributes:
        index: layer ``l`` (1-based).
        name: layer name.
        segments: segments of the layer.
        segment_mults: ``c^{l,p}``, multiplications per segment.
        segment_weight_bytes: ``m^{l,p}``, weight bytes per segment.
        cap: ``Nf^l``, most segments one participant may hold; None when uncapped.
        on_source: the layer must run on the request's own source (Eq. 8h).
    """

    index: int
    name: str
    segments: int
    segment_mults: int
    segment_weight_bytes: int
    cap: int | None
    on_source: bool

    @staticmethod
    def of(layer: Layer, limits: PrivacyLimits) -> LayerRule:
        """The rule of ``layer`` under ``limits`` (a source-only layer carries no cap)."""
        on_source = limits.on_source(layer.index)
        cap = None if on_source else limits.max_maps(layer.index)
        return LayerRule(
            layer.index, layer.name, layer.segments, layer.segment_mults, layer.segment_weight_bytes, cap, on_source
        )


def layer_rules(cnn: CNN, limits: PrivacyLimits) -> tuple[LayerRule, ...]:
    """The rule of every layer of ``cnn``, in layer order."""
    return tuple(LayerRule.of(layer, limits) for layer in cnn.layers)


# -- cond1 and cond4: how many more segments a device may take -----------------------------------


def room(rule: LayerRule, compute_mults: int, memory_bytes: int, held: int) -> int:
    """How many more segments of ``rule``'s layer a device may take under cond1 and cond4.

    ``compute_mults`` and ``memory_bytes`` are its residuals, ``held`` the
    segments of this layer it already holds; :data:`UNBOUNDED` when nothing
    binds (a layer of free segments without a cap).
    """
    c, m = rule.segment_mults, rule.segment_weight_bytes
    if compute_mults < c or memory_bytes < m:
        return 0  # also a device down (residuals of -1): nothing fits, not even free segments
    k = UNBOUNDED
    if c > 0:
        k = min(k, compute_mults // c)
    if m > 0:
        k = min(k, memory_bytes // m)
    if rule.cap is not None:
        k = min(k, rule.cap - held)
    return max(k, 0)


def rooms(
    rule: LayerRule, compute_mults: IntArray, memory_bytes: IntArray, held: IntArray, devices: IntArray
) -> IntArray:
    """:func:`room` of every device in ``devices`` at once (``held`` indexed by participant)."""
    c, m = rule.segment_mults, rule.segment_weight_bytes
    comp, mem = compute_mults[devices], memory_bytes[devices]
    out = np.full(len(devices), UNBOUNDED, dtype=np.int64)
    if c > 0:
        np.minimum(out, comp // c, out=out)
    if m > 0:
        np.minimum(out, mem // m, out=out)
    if rule.cap is not None:
        np.minimum(out, rule.cap - held[devices], out=out)
    out[(comp < c) | (mem < m)] = 0
    np.maximum(out, 0, out=out)
    return out


def sender_room(bandwidth_bytes: IntArray, senders: IntArray, sizes: IntArray) -> int:
    """How many segments ``senders`` can feed under cond2, each shipping ``sizes`` bytes per segment.

    ``senders`` must already exclude the receiver (a device sends itself nothing).
    """
    if len(senders) == 0:
        return int(UNBOUNDED)
    return int((bandwidth_bytes[senders] // sizes).min())


def charge(
    rule: LayerRule,
    device: int,
    k: int,
    compute_mults: IntArray,
    memory_bytes: IntArray,
    bandwidth_bytes: IntArray,
    senders: Mapping[int, int] | None = None,
) -> None:
    """Debit ``k`` segments of ``rule``'s layer on ``device`` from the residual arrays, in place.

    ``senders`` maps each device feeding these segments to the bytes it ships
    per segment; the receiver itself ships nothing.
    """
    compute_mults[device] -= k * rule.segment_mults
    memory_bytes[device] -= k * rule.segment_weight_bytes
    if senders:
        for i, size in senders.items():
            if i != device:
                bandwidth_bytes[i] -= k * size


# -- one segment: who qualifies, and why the others do not ------------------------------------------


@dataclass(frozen=True, slots=True)
class Qualification:
    """Per participant, whether each condition holds for one more segment (boolean masks).

    ``reach`` is None on a full mesh (every pair linked).
    """

    privacy: BoolArray
    compute: BoolArray
    memory: BoolArray
    bandwidth: BoolArray
    reach: BoolArray | None

    @property
    def qualifies(self) -> BoolArray:
        """Participants meeting every condition."""
        ok = self.privacy & self.compute & self.memory & self.bandwidth
        return ok if self.reach is None else ok & self.reach

    def failures(self) -> dict[Constraint, int]:
        """Each candidate counted once by its first failing condition (see :func:`attribute`)."""
        return attribute(self)


class TrustedRoutes(RowLinks):
    """A topology's links with every pair whose fastest route crosses a participant cut (``inf``).

    Implements the ``Links`` protocol for a capped layer's transfers over a
    topology without encrypted links: a participant on the route would see
    the maps it forwards, so such a pair is unreachable for that layer; every
    other pair (direct, or relayed by cameras only) costs what the topology
    says. Rows are cached per sender. Units: seconds per byte.
    """

    def __init__(self, links: Links, participants: int) -> None:
        self.base = links
        self.participants = participants
        self._n = len(links.to_all(0))
        self._rows: dict[int, FloatArray] = {}

    def _row(self, sender: int) -> FloatArray:
        row = self._rows.get(sender)
        if row is None:
            row = self.base.to_all(sender).copy()
            route = getattr(self.base, "route", None)
            if route is not None:
                for j in np.flatnonzero(np.isfinite(row)).tolist():
                    path = route(sender, j) or ()
                    if any(r < self.participants for r in path[1:-1]):
                        row[j] = np.inf
            row.flags.writeable = False
            self._rows[sender] = row
        return row

    def route(self, sender: int, receiver: int) -> tuple[int, ...] | None:
        """The base route from ``sender`` to ``receiver``, None when this view refuses the pair."""
        if not np.isfinite(self._row(sender)[receiver]):
            return None
        route = getattr(self.base, "route", None)
        return None if route is None else route(sender, receiver)


class Reach:
    """Which participants each sender reaches, cached per sender (topologies only).

    ``encrypted_links`` is the scenario's ``network.encrypted_links``: when
    False (the default) and the links are a topology, :meth:`for_rule` gives
    capped layers the guarded twin over :class:`TrustedRoutes`.
    """

    def __init__(self, links: Links, participants: int, *, encrypted_links: bool = False) -> None:
        #: The links this view judges by (and schedulers time transfers with).
        self.links = links
        self.participants = participants
        #: True on a full mesh: every sender reaches every device.
        self.mesh = isinstance(links, FullMesh)
        self.encrypted_links = encrypted_links
        self._rows: dict[int, BoolArray] = {}
        self._guarded: Reach | None = None

    @property
    def guards_relays(self) -> bool:
        """True when a capped layer's transfers must avoid untrusted relays (a topology, links in clear)."""
        return not self.mesh and not self.encrypted_links and hasattr(self.links, "route")

    def for_rule(self, rule: LayerRule) -> Reach:
        """The reachability ``rule``'s layer is placed with: the relay-guarded twin for a capped layer
        (see the module docstring), else this one."""
        if rule.cap is None or rule.on_source or not self.guards_relays:
            return self
        if self._guarded is None:
            self._guarded = Reach(TrustedRoutes(self.links, self.participants), self.participants, encrypted_links=True)
        return self._guarded

    def row(self, sender: int) -> BoolArray:
        """Participants ``sender`` has a route to (read-only)."""
        row = self._rows.get(sender)
        if row is None:
            row = np.isfinite(self.links.to_all(sender)[: self.participants])
            row.flags.writeable = False
            self._rows[sender] = row
        return row

    def of(self, senders: Mapping[int, int]) -> BoolArray | None:
        """Participants every sender shipping bytes reaches; None on a full mesh."""
        if self.mesh:
            return None
        ok = np.ones(self.participants, dtype=bool)
        for i, size in senders.items():
            if size > 0:
                ok &= self.row(i)
        return ok

    def to(self, senders: Mapping[int, int], receiver: int) -> bool:
        """True when every sender shipping bytes (other than ``receiver``) reaches ``receiver``."""
        if self.mesh:
            return True
        pair = self.links.pair
        return all(np.isfinite(pair(i, receiver)) for i, size in senders.items() if size > 0 and i != receiver)


def qualify(
    rule: LayerRule,
    held: IntArray,
    compute_mults: IntArray,
    memory_bytes: IntArray,
    bandwidth_bytes: IntArray,
    senders: Mapping[int, int],
    reach: BoolArray | None,
) -> Qualification:
    """Which participants may take one more segment of ``rule``'s layer.

    ``held`` (length ``D``) counts the layer's segments per participant so far;
    ``senders`` maps each device feeding the segment to its bytes (the
    candidate itself, if among them, ships nothing); ``reach`` is from
    :meth:`Reach.of` for the same senders.
    """
    d = len(held)
    privacy = held < rule.cap if rule.cap is not None else np.ones(d, dtype=bool)
    compute = compute_mults[:d] >= rule.segment_mults
    memory = memory_bytes[:d] >= rule.segment_weight_bytes
    bandwidth = np.ones(d, dtype=bool)
    for i, size in senders.items():
        if bandwidth_bytes[i] < size:
            # Every candidate but i itself would need i to send.
            only = np.zeros(d, dtype=bool)
            if i < d:
                only[i] = True
            bandwidth &= only
    return Qualification(privacy, compute, memory, bandwidth, reach)


def attribute(q: Qualification) -> dict[Constraint, int]:
    """Candidates ruled out per condition, each counted once by its first failing condition.

    The order is privacy, compute, memory, bandwidth, unreachable.
    """
    ok = q.privacy
    counts = {Constraint.PRIVACY: int((~ok).sum())}
    for constraint, mask in ((Constraint.COMPUTE, q.compute), (Constraint.MEMORY, q.memory)):
        counts[constraint] = int((ok & ~mask).sum())
        ok = ok & mask
    counts[Constraint.BANDWIDTH] = int((ok & ~q.bandwidth).sum())
    ok = ok & q.bandwidth
    counts[Constraint.UNREACHABLE] = 0 if q.reach is None else int((ok & ~q.reach).sum())
    return counts


def binding(failures: Mapping[Constraint, int]) -> Constraint:
    """The condition ruling out the most candidates, ties in :data:`FAILURE_ORDER` (then unreachable)."""
    order = FAILURE_ORDER + ((Constraint.UNREACHABLE,) if failures.get(Constraint.UNREACHABLE, 0) else ())
    return max(order, key=lambda c: (failures.get(c, 0), -order.index(c)))


def no_participant_detail(
    layer_name: str, failures: Mapping[Constraint, int], candidates: int
) -> tuple[Constraint, str]:
    """The binding constraint and its message when no participant qualifies for a segment."""
    if candidates == 0:
        return Constraint.NO_PARTICIPANTS, f"layer {layer_name}: the fleet has no participants"
    # Unreachable candidates exist only over topologies; full-mesh messages stay as they were.
    order = FAILURE_ORDER + ((Constraint.UNREACHABLE,) if failures.get(Constraint.UNREACHABLE, 0) else ())
    worst = binding(failures)
    counts = ", ".join(f"{c} {failures.get(c, 0)}" for c in order)
    return worst, f"layer {layer_name}: no participant qualifies ({counts} of {candidates} ruled out)"


# -- source-only layers ---------------------------------------------------------------------------


def run_failure(
    rule: LayerRule, k: int, compute_mults: int, memory_bytes: int, held: int, senders_ok: bool, reachable: bool
) -> Constraint | None:
    """The first condition that stops one device from taking ``k`` more segments of ``rule``'s layer.

    Scalar twin of :func:`qualify` for one device and a run: privacy (``held + k``
    within the cap), compute, memory, then ``senders_ok`` (cond2, judged by
    the caller for the bytes of these ``k`` segments) and ``reachable``; None
    when the device may take them.
    """
    if rule.cap is not None and held + k > rule.cap:
        return Constraint.PRIVACY
    if compute_mults < k * rule.segment_mults:
        return Constraint.COMPUTE
    if memory_bytes < k * rule.segment_weight_bytes:
        return Constraint.MEMORY
    if not senders_ok:
        return Constraint.BANDWIDTH
    if not reachable:
        return Constraint.UNREACHABLE
    return None


_SOURCE_DETAIL = {
    Constraint.COMPUTE: "the source lacks compute budget",
    Constraint.MEMORY: "the source lacks memory",
    Constraint.BANDWIDTH: "a sender lacks bandwidth to reach the source",
    Constraint.UNREACHABLE: "a sender has no route to the source",
}


def source_failure(
    rule: LayerRule,
    source: int,
    compute_mults: IntArray,
    memory_bytes: IntArray,
    bandwidth_bytes: IntArray,
    senders: Mapping[int, int],
    reach: Reach,
) -> tuple[Constraint, str] | None:
    """The first condition (compute, memory, bandwidth, unreachable) that stops the request's source
    from taking one more segment of a source-only layer, with its message; None when it can."""
    sends = {i: size for i, size in senders.items() if i != source}
    failed = run_failure(
        rule,
        1,
        int(compute_mults[source]),
        int(memory_bytes[source]),
        0,
        all(bandwidth_bytes[i] >= size for i, size in sends.items()),
        reach.to(sends, source),
    )
    return None if failed is None else (failed, f"layer {rule.name}: {_SOURCE_DETAIL[failed]}")


# -- whole placements (the validator, the exact pre-check) --------------------------------------------


def over_cap(rule: LayerRule, counts: IntArray) -> IntArray:
    """Participants whose segment counts ``counts`` (length ``D``) exceed the layer's cap (cond4)."""
    if rule.cap is None or rule.on_source:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(counts > rule.cap).astype(np.int64)


def relay_over_cap(rule: LayerRule, counts: IntArray, relayed: Mapping[int, int]) -> IntArray:
    """Participants whose own segments ``counts`` plus the maps they relayed (``relayed``: device -> maps of
    this layer's input it forwarded) exceed the layer's cap: what an untrusted relay sees counts too."""
    if not relayed:
        return over_cap(rule, counts)
    seen = counts.copy()
    for device, maps in relayed.items():
        if device < len(seen):
            seen[device] += maps
    return over_cap(rule, seen)


def min_participants(rules: tuple[LayerRule, ...]) -> int:
    """Fewest distinct participants that can hold every capped layer (cond4 alone)."""
    need = 0
    for rule in rules:
        if rule.cap is not None and not rule.on_source:
            need = max(need, -(-rule.segments // rule.cap))
    return need


__all__ = [
    "FAILURE_ORDER",
    "UNBOUNDED",
    "Constraint",
    "LayerRule",
    "Qualification",
    "Reach",
    "TrustedRoutes",
    "attribute",
    "binding",
    "charge",
    "layer_rules",
    "min_participants",
    "no_participant_detail",
    "over_cap",
    "qualify",
    "relay_over_cap",
    "room",
    "rooms",
    "run_failure",
    "sender_room",
    "source_failure",
]
