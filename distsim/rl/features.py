"""Per-device features of one placement step, shared by the environment and the ``policy`` scheduler.

One function computes what a policy sees, so a policy trained on
:class:`~distsim.rl.env.PlacementEnv` observations and the same policy run as
a scheduler by the engine see identical numbers. Every feature lies in
``[0, 1]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from distsim.model.cnn import Feed
from distsim.scheduling.base import ClusterView, Request
from distsim.world import World

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Per-participant features, in column order.
DEVICE_FEATURES = (
    "compute_left",  # residual compute after this request's segments so far / compute budget
    "memory_left",  # the same for memory
    "bandwidth_left",  # residual bandwidth at the decision's start / bandwidth budget
    "layer_share",  # segments of this layer already on the device / the layer's segments
    "speed",  # multiplications per second / the fleet's fastest
    "radio",  # radio data rate / the fleet's fastest
    "holds_input",  # 1 if the device computed this segment's input map (per-map layers)
)
#: Request-level features appended after the per-participant block.
GLOBAL_FEATURES = (
    "layer",  # layer index / layers
    "segment",  # segment index / the layer's segments
    "cap",  # Nf cap / segments (1 without a cap)
    "layer_work",  # the layer's segment multiplications / the CNN's largest
)


@dataclass(slots=True)
class StepState:
    """What has been placed of one request so far (updated by :meth:`placed`).

    Attributes:
        request: the request being placed.
        view: the residual budgets at the decision's start.
        counts: per 1-based layer index, segments per device placed so far.
        assignments: per 1-based layer index, the device of each segment placed so far.
    """

    request: Request
    view: ClusterView
    counts: dict[int, IntArray] = field(default_factory=dict)
    assignments: dict[int, list[int]] = field(default_factory=dict)

    def placed(self, layer_index: int, device: int) -> None:
        size = self.view.fleet.size
        self.counts.setdefault(layer_index, np.zeros(size, dtype=np.int64))[device] += 1
        self.assignments.setdefault(layer_index, []).append(device)


def observation_size(participants: int) -> int:
    """Length of the flat observation vector for ``participants`` devices."""
    return participants * len(DEVICE_FEATURES) + len(GLOBAL_FEATURES)


def device_features(world: World, state: StepState, layer_index: int, segment: int) -> FloatArray:
    """The ``D x len(DEVICE_FEATURES)`` matrix for placing ``segment`` of layer ``layer_index``."""
    view, fleet = state.view, state.view.fleet
    d = fleet.participants
    cnn = world.cnns[state.request.cnn]
    layer = cnn.layers[layer_index - 1]
    used_c = np.zeros(fleet.size)
    used_m = np.zeros(fleet.size)
    for index, counts in state.counts.items():
        other = cnn.layers[index - 1]
        used_c += counts * other.segment_mults
        used_m += counts * other.segment_weight_bytes
    out = np.zeros((d, len(DEVICE_FEATURES)))
    out[:, 0] = _ratio(view.compute_mults[:d] - used_c[:d], fleet.compute_budget_mults[:d])
    out[:, 1] = _ratio(view.memory_bytes[:d] - used_m[:d], fleet.memory_bytes[:d])
    out[:, 2] = _ratio(view.bandwidth_bytes[:d], fleet.bandwidth_budget_bytes[:d])
    here = state.counts.get(layer_index)
    if here is not None:
        out[:, 3] = here[:d] / layer.segments
    out[:, 4] = fleet.mults_per_s[:d] / float(fleet.mults_per_s.max())
    rates = 1.0 / np.maximum(fleet.sec_per_byte[:d], 1e-30)
    out[:, 5] = rates / float(rates.max()) if rates.max() > 0 else 0.0
    prev = state.assignments.get(layer_index - 1)
    if layer.feed is Feed.MAPS and prev is not None and segment < len(prev) and prev[segment] < d:
        out[prev[segment], 6] = 1.0
    return out


def global_features(world: World, state: StepState, layer_index: int, segment: int) -> FloatArray:
    """The request-level features (see :data:`GLOBAL_FEATURES`)."""
    cnn = world.cnns[state.request.cnn]
    limits = world.limits[state.request.cnn]
    layer = cnn.layers[layer_index - 1]
    cap = limits.max_maps(layer_index)
    largest = max(max(other.segment_mults for other in cnn.layers), 1)
    return np.array(
        [
            layer_index / len(cnn.layers),
            segment / layer.segments,
            1.0 if cap is None else min(cap / layer.segments, 1.0),
            layer.segment_mults / largest,
        ]
    )


def observation(world: World, state: StepState, layer_index: int, segment: int) -> npt.NDArray[np.float32]:
    """The flat observation: device features row by row, then the global ones."""
    flat = np.concatenate(
        [
            device_features(world, state, layer_index, segment).ravel(),
            global_features(world, state, layer_index, segment),
        ]
    )
    return np.clip(flat, 0.0, 1.0).astype(np.float32)


def _ratio(num: npt.ArrayLike, den: npt.ArrayLike) -> FloatArray:
    n = np.asarray(num, dtype=np.float64)
    d = np.asarray(den, dtype=np.float64)
    out = np.zeros_like(n)
    np.divide(n, d, out=out, where=d > 0)
    return np.clip(out, 0.0, 1.0)
