"""The ``policy`` scheduler: a trained policy, loaded from a JSON file, placing requests in the engine.

``scheduler: {name: policy, params: {path: my_policy.json}}`` (a path
relative to the working directory). Two policy kinds, both numpy-only:

* ``{"format": "distsim-policy/1", "kind": "distprivacy", "alpha": A, "beta": B}``:
  the DistPrivacy heuristic with learned weights (what
  :func:`distsim.rl.learn.cross_entropy_weights` writes);
* ``{"format": "distsim-policy/1", "kind": "linear", "weights": [w_1, ..., w_K]}``:
  each segment goes to the qualifying participant with the highest score
  ``features @ weights`` over :data:`distsim.rl.features.DEVICE_FEATURES`
  (ties: lowest id), the features a :class:`~distsim.rl.env.PlacementEnv`
  observation holds per device; a policy trained on the environment with
  any library can be exported to this form when it is linear, or wrapped in
  a scheduler of its own (see docs/schedulers.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from distsim.errors import InputError
from distsim.reading import read_text
from distsim.rl.features import DEVICE_FEATURES, StepState, device_features
from distsim.scheduling.base import ClusterView, Decision, Request, SchedulerParams
from distsim.scheduling.baselines._greedy import BoolArray, greedy_place
from distsim.scheduling.distprivacy import DistPrivacy
from distsim.scheduling.reference import DistPrivacyParams
from distsim.world import World

FORMAT = "distsim-policy/1"


class PolicyParams(SchedulerParams):
    """Attributes:
    path: the policy file (JSON, see the module docstring); None runs the paper's
        DistPrivacy weights (0.7, 0.3), the untrained starting point.
    """

    path: str | None = None


def load_policy(path: str | Path) -> dict[str, Any]:
    """Read and check a policy file; one-line :class:`InputError` on anything wrong."""
    text = read_text(Path(path), what="policy file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not JSON: {exc.msg} at line {exc.lineno}", file=str(path)) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f"expected a JSON object with format {FORMAT!r}", file=str(path), field="format")
    kind = data.get("kind")
    if kind == "distprivacy":
        for name in ("alpha", "beta"):
            value = data.get(name)
            if not isinstance(value, int | float) or isinstance(value, bool) or not np.isfinite(value) or value < 0:
                raise InputError(f"expected a finite number >= 0, got {value!r}", file=str(path), field=name)
    elif kind == "linear":
        weights = data.get("weights")
        if (
            not isinstance(weights, list)
            or len(weights) != len(DEVICE_FEATURES)
            or not all(isinstance(w, int | float) and not isinstance(w, bool) and np.isfinite(w) for w in weights)
        ):
            raise InputError(
                f"expected {len(DEVICE_FEATURES)} finite numbers (one per feature: {', '.join(DEVICE_FEATURES)})",
                file=str(path),
                field="weights",
            )
    else:
        raise InputError(f"expected kind 'distprivacy' or 'linear', got {kind!r}", file=str(path), field="kind")
    return data


def save_policy(path: str | Path, data: dict[str, Any]) -> Path:
    """Write a policy file atomically (``format`` added)."""
    from distsim.io import json_text, write_text

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    return write_text(target, json_text({"format": FORMAT, **data}, sort_keys=True))


def linear_pick(
    world: World, state: StepState, weights: npt.NDArray[np.float64], index: int, segment: int, qualifies: BoolArray
) -> int:
    """The linear policy's choice: the qualifying participant with the highest score (ties: lowest id)."""
    scores = device_features(world, state, index, segment) @ weights
    scores = np.where(qualifies, scores, -np.inf)
    return int(np.argmax(scores))  # argmax returns the first of equal maxima


class Policy:
    """Place requests with a trained policy (see the module docstring)."""

    name: ClassVar[str] = "policy"
    Params = PolicyParams

    def __init__(self, params: PolicyParams, world: World, rng: np.random.Generator) -> None:
        self.params = params
        self.world = world
        self.policy: dict[str, Any] = (
            load_policy(params.path)
            if params.path is not None
            else {"format": FORMAT, "kind": "distprivacy", "alpha": 0.7, "beta": 0.3}
        )
        self._heuristic: DistPrivacy | None = None
        self._weights = np.zeros(len(DEVICE_FEATURES))
        if self.policy["kind"] == "distprivacy":
            weights = DistPrivacyParams(alpha=float(self.policy["alpha"]), beta=float(self.policy["beta"]))
            self._heuristic = DistPrivacy(weights, world, rng)
        else:
            self._weights = np.asarray(self.policy["weights"], dtype=np.float64)
        # Both kinds decide from the request's source and the residuals alone.
        self.repeatable = True

    def place(self, request: Request, view: ClusterView) -> Decision:
        if self._heuristic is not None:
            return self._heuristic.place(request, view)
        state = StepState(request, view)

        def pick(request: Request, index: int, segment: int, qualifies: BoolArray) -> int:
            j = linear_pick(self.world, state, self._weights, index, segment, qualifies)
            state.placed(index, j)
            return j

        return greedy_place(self.world, request, view, pick)
