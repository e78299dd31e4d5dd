"""Learned schedulers: a Gymnasium environment, a ``policy`` scheduler and a numpy-only learner.

* :mod:`distsim.rl.env`: :class:`~distsim.rl.env.PlacementEnv`, registered as
  ``distsim/Placement-v0`` when this package is imported with Gymnasium
  installed (``pip install 'distsim[rl]'``); ``gymnasium.make("distsim.rl:distsim/Placement-v0")``
  imports it for you.
* :mod:`distsim.rl.policy`: the ``policy`` scheduler (numpy only).
* :mod:`distsim.rl.learn`: cross-entropy search over the DistPrivacy weights.
* :mod:`distsim.rl.features`: the per-device features both see.
"""

from __future__ import annotations

import importlib.util

ENV_ID = "distsim/Placement-v0"


def register_envs() -> bool:
    """Register ``distsim/Placement-v0`` with Gymnasium; False when Gymnasium is not installed."""
    if importlib.util.find_spec("gymnasium") is None:
        return False
    import gymnasium

    if ENV_ID not in gymnasium.registry:
        gymnasium.register(id=ENV_ID, entry_point="distsim.rl.env:PlacementEnv")
    return True


register_envs()
