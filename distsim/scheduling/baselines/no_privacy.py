"""``no_privacy``: DistPrivacy with the privacy limits lifted (the price of privacy).

It reuses :class:`~distsim.scheduling.distprivacy.DistPrivacy` unchanged on a
copy of the world whose limits are those of the ``none`` privacy mechanism
(:func:`distsim.privacy.none.lifted_limits`): no ``Nf`` cap and no split
point; only layers 1 and ``L`` stay on the source (the first FC layer no
longer has to).
The validator checks it with ``privacy=False``.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from distsim.privacy.none import lifted_limits
from distsim.scheduling.base import ClusterView, Decision, Request
from distsim.scheduling.distprivacy import DistPrivacy
from distsim.scheduling.reference import DistPrivacyParams
from distsim.world import World


class NoPrivacy:
    """DistPrivacy (Algorithm 1) without ``Nf``, ``SP`` or the privacy-driven source FC layer."""

    name: ClassVar[str] = "no_privacy"
    Params = DistPrivacyParams
    honours_privacy: ClassVar[bool] = False
    #: As DistPrivacy: the decision depends only on the request's source and the residuals.
    repeatable: ClassVar[bool] = True

    def __init__(self, params: DistPrivacyParams, world: World, rng: np.random.Generator) -> None:
        self.params = params
        self.world = world
        lifted = dataclasses.replace(world, limits={k: lifted_limits(v) for k, v in world.limits.items()})
        self._inner = DistPrivacy(params, lifted, rng)

    def place(self, request: Request, view: ClusterView) -> Decision:
        return self._inner.place(request, view)
