"""One validator for every scheduler: does a placement satisfy SPEC section 5?

:func:`validate_placement` checks a :class:`~distsim.scheduling.base.Placement`
of a request against every constraint of the scheduling problem, given the
residual budgets of the :class:`~distsim.scheduling.base.ClusterView` it was
computed against, and returns the list of violations (empty when it is valid):

* shape: one device per segment of every layer (Eq. 8e), device ids in range;
* roles: source-only layers (layer 1, layer L and, before the split point, the
  first FC layer; Eq. 8h) on the request's own source, every other layer on
  participants only (sources never compute other requests' segments, and a
  request's intermediate layers are the participants' job);
* privacy: at most ``Nf^l`` segments of layer ``l`` per participant for
  ``l < SP`` (Eq. 8f), counting, over a topology without
  ``network.encrypted_links``, the maps of ``l``'s input a participant relays
  (:func:`distsim.placement.relay_over_cap`);
* links: no transfer crosses a pair with no route (over a topology, a pair
  with infinite seconds per byte; its latency would be infinite);
* budgets: the compute, memory and bandwidth the placement reserves, derived by
  the one cost model (:func:`distsim.model.cost.evaluate`), fit the residuals
  (Eq. 8b-8d);
* cost: the latency, reservations and traffic stored in the placement equal a
  fresh evaluation (Eq. 5), so no scheduler can report a cost of its own.

Baselines that lift privacy by design (``no_privacy``, ``layerwise``) are
checked with ``privacy=False``, which skips Eq. 8f *and* the privacy-driven part
of Eq. 8h (the first FC layer on the source); ``source_only`` runs every layer
on the trusted camera and is checked with ``roles=False``.
"""

from __future__ import annotations

import math

import numpy as np

from distsim.model.cost import evaluate, layer_transfers
from distsim.placement import LayerRule, relay_over_cap
from distsim.privacy.exposure import relayed_maps
from distsim.scheduling.base import ClusterView, Placement, Request

#: Relative tolerance on the recomputed latency (float sums in a different order).
LATENCY_RTOL = 1e-9


class InvalidPlacement(AssertionError):
    """A scheduler returned a placement that breaks a constraint (a scheduler bug)."""

    def __init__(self, violations: list[str]) -> None:
        self.violations = violations
        super().__init__("; ".join(violations))


def validate_placement(
    placement: Placement,
    request: Request,
    view: ClusterView,
    *,
    privacy: bool = True,
    roles: bool = True,
) -> list[str]:
    """Every way ``placement`` of ``request`` breaks SPEC section 5 against ``view``; empty when valid.

    Args:
        placement: what the scheduler returned.
        request: the request it places.
        view: the residual budgets the scheduler saw.
        privacy: check the ``Nf^l`` caps and the privacy-driven source layer
            (False for baselines that lift privacy by design).
        roles: check that only the request's source runs source layers and only
            participants run the others (False for ``source_only``).
    """
    world = view.world
    out: list[str] = []
    if placement.request_id != request.id:
        out.append(f"placement is for request {placement.request_id}, not {request.id}")
    if placement.cnn != request.cnn:
        out.append(f"placement runs CNN {placement.cnn!r}, the request asks for {request.cnn!r}")
        return out
    cnn = world.cnns[request.cnn]
    limits = world.limits[request.cnn]
    fleet = view.fleet
    n, d = fleet.size, fleet.participants
    if len(placement.assignments) != cnn.depth:
        out.append(f"{len(placement.assignments)} layers placed, {cnn.name} has {cnn.depth}")
        return out
    shape_ok = True
    for layer, array in zip(cnn.layers, placement.assignments, strict=True):
        where = f"layer {layer.index} ({layer.name})"
        if array.ndim != 1 or len(array) != layer.segments:
            out.append(f"{where}: {array.shape} devices given for {layer.segments} segments")
            shape_ok = False
            continue
        if len(array) and (array.min() < 0 or array.max() >= n):
            out.append(f"{where}: device id out of range 0..{n - 1}")
            shape_ok = False
    if not shape_ok:
        return out

    # Over a topology with links in clear a participant sees the maps it forwards: they count in its cap.
    relays: list[dict[int, int]] = []
    if privacy and not world.encrypted_links and hasattr(view.links, "route"):
        relays = relayed_maps(cnn, placement.assignments, view.links, d, n)
    for layer, array in zip(cnn.layers, placement.assignments, strict=True):
        where = f"layer {layer.index} ({layer.name})"
        structural_source = layer.index in (1, cnn.depth)
        must_source = limits.on_source(layer.index) if privacy else structural_source
        if must_source:
            if np.any(array != request.source):
                out.append(f"{where}: must run on the request's source {fleet.names[request.source]}")
        elif not privacy and limits.on_source(layer.index):
            # The privacy-driven source layer may run on the source or on participants once privacy is lifted.
            if roles and np.any((array >= d) & (array != request.source)):
                out.append(f"{where}: segments on another request's source")
        elif roles and np.any(array >= d):
            off = sorted({fleet.names[i] for i in array[array >= d].tolist()})
            out.append(f"{where}: segments on source(s) {', '.join(off)}; only participants compute this layer")
        rule = LayerRule.of(layer, limits)
        if privacy and rule.cap is not None:
            counts = np.bincount(array[array < d], minlength=d)
            forwarded = relays[layer.index - 1] if relays else {}
            for j in relay_over_cap(rule, counts, forwarded).tolist():
                seen = f" and relays {forwarded[j]}" if forwarded.get(j) else ""
                out.append(f"{where}: participant {fleet.names[j]} holds {counts[j]} maps{seen}, Nf = {rule.cap}")

    prev = None
    for layer, array in zip(cnn.layers, placement.assignments, strict=True):
        flows = layer_transfers(layer, prev, array, n)
        if len(flows.senders):
            cut = ~np.isfinite(view.links.pairs(flows.senders, flows.receivers))
            for i, j in zip(flows.senders[cut].tolist(), flows.receivers[cut].tolist(), strict=True):
                out.append(
                    f"layer {layer.index} ({layer.name}): {fleet.names[i]} sends to {fleet.names[j]}, "
                    "which it cannot reach"
                )
        prev = array

    cost = evaluate(cnn, placement.assignments, fleet, view.links)
    for label, used, free in (
        ("compute", cost.compute_mults, view.compute_mults),
        ("memory", cost.memory_bytes, view.memory_bytes),
        ("bandwidth", cost.bandwidth_bytes, view.bandwidth_bytes),
    ):
        for j in np.flatnonzero(used > free).tolist():
            out.append(f"{label}: device {fleet.names[j]} needs {used[j]}, residual {free[j]}")
    if not math.isfinite(cost.latency_s):
        out.append("latency is not finite (a transfer crosses an unreachable link)")
    elif not math.isclose(cost.latency_s, placement.cost.latency_s, rel_tol=LATENCY_RTOL, abs_tol=1e-15):
        out.append(f"reported latency {placement.cost.latency_s!r} s, the cost model gives {cost.latency_s!r} s")
    for label, mine, theirs in (
        ("compute", cost.compute_mults, placement.cost.compute_mults),
        ("memory", cost.memory_bytes, placement.cost.memory_bytes),
        ("bandwidth", cost.bandwidth_bytes, placement.cost.bandwidth_bytes),
    ):
        if not np.array_equal(mine, theirs):
            out.append(f"reported {label} reservations differ from the cost model's")
    if cost.shared_bytes != placement.cost.shared_bytes:
        out.append(f"reported shared bytes {placement.cost.shared_bytes}, the cost model gives {cost.shared_bytes}")
    return out


def check_placement(
    placement: Placement,
    request: Request,
    view: ClusterView,
    *,
    privacy: bool = True,
    roles: bool = True,
) -> None:
    """Raise :class:`InvalidPlacement` listing every violation of :func:`validate_placement`."""
    violations = validate_placement(placement, request, view, privacy=privacy, roles=roles)
    if violations:
        raise InvalidPlacement(violations)


def validation_flags(scheduler: object) -> dict[str, bool]:
    """``privacy`` / ``roles`` flags for a scheduler, from its class attributes.

    A scheduler that lifts privacy by design sets ``honours_privacy = False``;
    one that computes on the source sets ``participants_only = False``. Both
    default to True.
    """
    return {
        "privacy": bool(getattr(scheduler, "honours_privacy", True)),
        "roles": bool(getattr(scheduler, "participants_only", True)),
    }
