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

* *Per-layer lower bounds* (:func:`bounds.layer_lower_bound`): each ``T_l`` gets the
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

**The class model** (:mod:`.classes`, the default ``model: auto`` path when two
participants are interchangeable on a full mesh): segment counts per (layer,
device class) with the flows between classes, time coefficients rounded down,
so that its bound is a proved lower bound of the true optimum; the solution is
split back to devices (:func:`.classes.split_back`) and is ``optimal`` when its
latency is within the rounding bound of that bound. Otherwise the per-device
model above follows when it is small (:data:`.solve.DEVICE_MODEL_MAX_FLOWS`),
with the class bound as a cut. ``docs/schedulers.md`` has the proof.

**Layout.** :mod:`.precheck` (cheap infeasibility certificates, reachable
participants), :mod:`.classes` (the class model and split-back), :mod:`.model`
(the per-device CP-SAT model, each constraint written once
and hints evaluated from the same terms), :mod:`.bounds` (per-layer bounds
of ``T_l``), :mod:`.hints` (DistPrivacy and min-max warm starts),
:mod:`.params` (:class:`ExactParams`, :class:`SolveReport`), :mod:`.solve`
(the single-request solve and its budget), :mod:`.batch` (joint windows,
sequential optima, rolling horizon) and :mod:`.scheduler` (:class:`Exact`).
"""

from distsim.scheduling.exact.batch import BatchResult, rolling_horizon, solve_batch, solve_sequential
from distsim.scheduling.exact.hints import heuristic_hint, minmax_hint
from distsim.scheduling.exact.model import default_time_unit
from distsim.scheduling.exact.params import ExactParams, SolveReport
from distsim.scheduling.exact.precheck import precheck, usable_participants
from distsim.scheduling.exact.scheduler import Exact
from distsim.scheduling.exact.solve import solve_request

__all__ = [
    "BatchResult",
    "Exact",
    "ExactParams",
    "SolveReport",
    "default_time_unit",
    "heuristic_hint",
    "minmax_hint",
    "precheck",
    "rolling_horizon",
    "solve_batch",
    "solve_request",
    "solve_sequential",
    "usable_participants",
]
