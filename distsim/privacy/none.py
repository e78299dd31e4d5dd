"""``none``: no protection (the price-of-privacy baseline).

No cap and no split point: only layers 1 and ``L`` stay on the camera (the
image and the result), every other layer, the first FC layer included, may run
whole on one participant. Exposure is still measured, with the SSIM table of
``feature_split`` (the table rows govern the same layers), so a run shows what
an attacker could rebuild without protection. Before this module the
``no_privacy`` scheduler lifted the limits by a special case; it now uses
this mechanism's limits.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from distsim.model.cnn import CNN
from distsim.model.offload import OffloadPlan
from distsim.model.privacy import PrivacyLimits, derive_limits
from distsim.privacy.base import MechanismSettings
from distsim.privacy.exposure import Exposure, LayerCounts, exposure_of


def lifted_limits(limits: PrivacyLimits) -> PrivacyLimits:
    """``limits`` without privacy: no cap, split point 1, only layers 1 and L on the source."""
    depth = len(limits.layers)
    layers = tuple(
        dataclasses.replace(layer, max_maps=None, extrapolated=False, on_source=layer.index in (1, depth))
        for layer in limits.layers
    )
    return dataclasses.replace(limits, split_point=1, layers=layers)


class NoProtection:
    """Neither caps nor privacy-driven source layers."""

    name: ClassVar[str] = "none"
    exposure_attack: ClassVar[str] = "blackbox_map_subsets"
    certifies: ClassVar[bool] = False

    def __init__(self, settings: MechanismSettings, cnns: dict[str, CNN]) -> None:
        settings.refuse_params(self.name)
        self.settings = settings
        # The table's governing rows (for exposure) at the finest policy: no scenario is refused for its tau.
        self._measured = {
            name: derive_limits(cnn, settings.table, settings.tau, type(settings.policy)("finest"))
            for name, cnn in cnns.items()
        }
        self._limits = {name: lifted_limits(limits) for name, limits in self._measured.items()}

    def limits(self, cnn: CNN) -> PrivacyLimits:
        return self._limits[cnn.name]

    def costed(self, cnn: CNN) -> CNN:
        """``cnn`` unchanged: the mechanism adds no compute."""
        return cnn

    def offload(self, cnn: CNN) -> OffloadPlan | None:
        """None: participants run what the camera does not."""
        return None

    def min_participants(self, cnn: CNN) -> int:
        return 0

    def exposure(self, cnn: CNN, counts: LayerCounts, colluders: int) -> Exposure:
        return exposure_of(cnn, self._measured[cnn.name], self.settings.table, counts, colluders)

    def accuracy_pct(self, cnn: CNN) -> float | None:
        return None
