"""Multi-hop links over a networkx graph (SPEC section 1, "Links").

The paper assumes every device reaches every other one directly
(:class:`~distsim.model.devices.FullMesh`). A scenario may instead give a
topology: explicit edges, or a random geometric layout where two devices are
linked when they are at most ``range_m`` metres apart. Transfers then follow a
shortest route and every hop costs its own transmission time: sending ``O``
bytes over the route ``i = v0 -> v1 -> ... -> vk = j`` takes
``O * sum_h 8 / rho_{v_h}`` seconds (store and forward, each hop at its
sender's rate). "Shortest" means least seconds per byte, i.e. the fastest
route; pairs with no route cost ``inf`` seconds per byte, and the schedulers
rule such pairs out.

Routes are computed once per sender (one Dijkstra run gives the routes to all
receivers) and cached: :attr:`Topology.route_computations` counts the runs.
Ties between equally fast routes are broken by networkx's Dijkstra over edges
inserted in sorted order, so they never depend on input order.

Relays forward traffic but are not charged bandwidth budget for it: the cost
model charges a transfer's bytes to its original sender only (Eq. 8d).

A hop may go at another rate than its sender's radio: ``hop_spb`` gives the
seconds per byte of a directed hop, e.g. from a per-radio distance-to-rate
table (:func:`hop_rates`, docs/dynamics.md); routes are then the fastest by
those rates. Links that change during a run (mobility, devices going down) are
new :class:`Topology` objects built by :func:`geometric_topology` or from edges
without the down devices; a Topology never changes once built.

Units: seconds per byte, metres.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping

import networkx as nx
import numpy as np
import numpy.typing as npt

from distsim.model.devices import Fleet

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class Topology:
    """Links over an undirected graph of device ids; implements the ``Links`` protocol.

    Args:
        fleet: the devices (node ``i`` is device id ``i``).
        edges: undirected links as pairs of device ids; self-loops are ignored.
        hop_spb: seconds per byte of a hop ``(u, v)`` where it differs from the
            sender's radio, ``fleet.sec_per_byte[u]`` (a distance-dependent rate);
            ``inf`` means ``u`` cannot send to ``v`` over that edge.
    """

    def __init__(
        self,
        fleet: Fleet,
        edges: Iterable[tuple[int, int]],
        hop_spb: Mapping[tuple[int, int], float] | None = None,
    ) -> None:
        n = fleet.size
        self._n = n
        self._spb = fleet.sec_per_byte
        pairs = sorted({(min(u, v), max(u, v)) for u, v in edges if u != v})
        for u, v in pairs:
            if not (0 <= u < n and 0 <= v < n):
                raise ValueError(f"edge ({u}, {v}) names a device outside 0..{n - 1}")
        #: The undirected topology, nodes are device ids.
        self.graph = nx.Graph()
        self.graph.add_nodes_from(range(n))
        self.graph.add_edges_from(pairs)
        # A hop u -> v costs u's seconds per byte (or its distance-dependent rate), so the
        # routing graph is directed.
        self._hop_spb: dict[tuple[int, int], float] = {}
        self._routing = nx.DiGraph()
        self._routing.add_nodes_from(range(n))
        own = hop_spb or {}
        for u, v in pairs:
            for a, b in ((u, v), (v, u)):
                seconds = float(own.get((a, b), self._spb[a]))
                if math.isfinite(seconds):
                    self._hop_spb[(a, b)] = seconds
                    self._routing.add_edge(a, b, weight=seconds)
        #: What the routes depend on (sorted edges, per-hop seconds per byte): equal signatures, equal routes.
        self.signature = (tuple(pairs), tuple(sorted(self._hop_spb.items())))
        self._rows: dict[int, FloatArray] = {}
        self._paths: dict[int, dict[int, list[int]]] = {}
        #: Dijkstra runs so far (one per distinct sender asked about).
        self.route_computations = 0

    # -- routes -------------------------------------------------------------
    def _row(self, sender: int) -> FloatArray:
        row = self._rows.get(sender)
        if row is None:
            self.route_computations += 1
            dist, paths = nx.single_source_dijkstra(self._routing, sender, weight="weight")
            row = np.full(self._n, math.inf)
            for node, seconds in dist.items():
                row[node] = seconds
            row[sender] = 0.0
            row.flags.writeable = False
            self._rows[sender] = row
            self._paths[sender] = paths
        return row

    def route(self, sender: int, receiver: int) -> tuple[int, ...] | None:
        """Devices on the route from ``sender`` to ``receiver`` (both included), None if unreachable."""
        self._row(sender)
        path = self._paths[sender].get(receiver)
        return None if path is None else tuple(path)

    def hops(self, sender: int, receiver: int) -> tuple[tuple[int, int], ...]:
        """The (hop sender, hop receiver) pairs of the route; empty when ``sender == receiver``.

        Raises ValueError when ``receiver`` is unreachable from ``sender``.
        """
        path = self.route(sender, receiver)
        if path is None:
            raise ValueError(f"device {receiver} is unreachable from device {sender}")
        return tuple(itertools.pairwise(path))

    def hop_sec_per_byte(self, sender: int, receiver: int) -> float:
        """Seconds per byte of the direct hop ``sender -> receiver`` (``inf`` when there is none)."""
        return self._hop_spb.get((sender, receiver), math.inf)

    def reachable(self, sender: int, receiver: int) -> bool:
        """True when a route exists."""
        return bool(math.isfinite(self._row(sender)[receiver]))

    # -- Links protocol -----------------------------------------------------
    def to_all(self, sender: int) -> FloatArray:
        return self._row(sender).copy()

    def pair(self, sender: int, receiver: int) -> float:
        return float(self._row(sender)[receiver])

    def pairs(self, senders: IntArray, receivers: IntArray) -> FloatArray:
        out = np.empty(len(senders))
        if len(senders) == 0:
            return out
        # One gather per distinct sender (a placement has thousands of pairs and few senders).
        order = np.argsort(senders, kind="stable")
        cuts = np.flatnonzero(np.diff(senders[order])) + 1
        for group in np.split(order, cuts):
            out[group] = self._row(int(senders[group[0]]))[receivers[group]]
        return out

    def max_weighted(self, senders: IntArray, weights: IntArray) -> FloatArray:
        out = np.zeros(self._n)
        for i, w in zip(senders.tolist(), weights.tolist(), strict=True):
            if w > 0:  # 0 bytes cost nothing even over a missing route (0 * inf would be NaN)
                np.maximum(out, w * self._row(i), out=out)
        return out


def geometric_edges(positions: npt.NDArray[np.float64], range_m: float) -> list[tuple[int, int]]:
    """Pairs of devices at most ``range_m`` metres apart (Euclidean), sorted.

    ``positions`` has one ``(x, y)`` row per device id, metres.
    """
    pos = {i: tuple(float(c) for c in row) for i, row in enumerate(positions)}
    graph = nx.random_geometric_graph(len(positions), range_m, dim=2, pos=pos)
    return sorted((min(u, v), max(u, v)) for u, v in graph.edges())


def hop_rates(
    positions: npt.NDArray[np.float64],
    edges: Iterable[tuple[int, int]],
    radios: tuple[str, ...],
    tables: Mapping[str, tuple[tuple[float, float], ...]],
) -> dict[tuple[int, int], float]:
    """Seconds per byte of every directed hop whose sender's radio has a distance-to-rate table.

    ``tables[radio]`` is a step table of ``(up_to_m, rate_bps)`` rows with
    increasing ``up_to_m``: a hop of ``d`` metres goes at the rate of the first
    row with ``up_to_m >= d``; beyond the last row the sender cannot reach the
    receiver (``inf``). Radios without a table keep their catalogue rate (no entry).
    """
    out: dict[tuple[int, int], float] = {}
    for u, v in edges:
        distance = float(np.hypot(*(positions[u] - positions[v])))
        for a, b in ((u, v), (v, u)):
            table = tables.get(radios[a])
            if table is None:
                continue
            seconds = math.inf
            for up_to_m, rate_bps in table:
                if distance <= up_to_m:
                    seconds = 8.0 / rate_bps
                    break
            out[(a, b)] = seconds
    return out


def geometric_topology(
    fleet: Fleet,
    positions: npt.NDArray[np.float64],
    range_m: float,
    tables: Mapping[str, tuple[tuple[float, float], ...]] | None = None,
    down: npt.NDArray[np.bool_] | None = None,
) -> Topology:
    """The links of devices at ``positions`` (metres): pairs at most ``range_m`` apart, rates by ``tables``.

    Devices marked in ``down`` are left out (no edge touches them): they
    neither receive nor relay while down.
    """
    edges = geometric_edges(positions, range_m)
    if down is not None and down.any():
        edges = [(u, v) for u, v in edges if not (down[u] or down[v])]
    rates = hop_rates(positions, edges, fleet.radios, tables) if tables else None
    return Topology(fleet, edges, rates)


def layout_positions(
    names: tuple[str, ...],
    fixed: Mapping[str, tuple[float, float]],
    area_m: float,
    rng: np.random.Generator,
) -> npt.NDArray[np.float64]:
    """Device positions, metres: ``fixed`` ones as given, the others uniform in the square ``[0, area_m]^2``.

    One draw of two coordinates per device in id order, so the layout of a
    device does not depend on which other devices are fixed.
    """
    drawn = rng.uniform(0.0, area_m, size=(len(names), 2))
    for i, name in enumerate(names):
        if name in fixed:
            drawn[i] = fixed[name]
    return drawn
