"""Per-segment greedy placement for new schedulers: write the policy, reuse the rules.

:func:`greedy_place` walks a request's layers in order and, for every segment,
asks a policy ``pick(request, layer_index, segment, qualifies) -> device``
to choose among the participants that qualify under the same conditions as
DistPrivacy (compute, memory, sender bandwidth, the privacy cap, reachability;
source-only layers go to the camera). It charges each choice on scratch copies
of the residuals and returns a :class:`~distsim.scheduling.base.Placement`
or the :class:`~distsim.scheduling.base.Rejection` of the first segment no
participant can take. The built-in ``random`` and ``round_robin`` baselines
are such policies; ``docs/extending.md`` writes another.
"""

from __future__ import annotations

from distsim.scheduling.baselines._greedy import BoolArray, Picker, greedy_place

__all__ = ["BoolArray", "Picker", "greedy_place"]
