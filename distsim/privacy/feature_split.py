"""``feature_split``: DistPrivacy's mechanism (the default).

Every layer's input maps are split across participants so that no device
holds more than ``Nf^l(tau)`` of them, with ``Nf``, the split point and the
source-only layers derived from the SSIM table (the paper's Table I, or the
scenario's own ``privacy.ssim_table``) as in SPEC section 3
(:func:`distsim.model.privacy.derive_limits`). The split is exact, so the
CNN's accuracy is unchanged (and unknown to distsim: ``accuracy_pct`` is None).
"""

from __future__ import annotations

from typing import ClassVar

from distsim.model.cnn import CNN
from distsim.model.offload import OffloadPlan
from distsim.model.privacy import PrivacyLimits, derive_limits
from distsim.privacy.base import MechanismSettings
from distsim.privacy.exposure import Exposure, LayerCounts, exposure_of


class FeatureSplit:
    """Per-layer map caps from the SSIM table at ``tau``."""

    name: ClassVar[str] = "feature_split"
    exposure_attack: ClassVar[str] = "blackbox_map_subsets"
    certifies: ClassVar[bool] = True

    def __init__(self, settings: MechanismSettings, cnns: dict[str, CNN]) -> None:
        settings.refuse_params(self.name)
        self.settings = settings
        self._limits = {
            name: derive_limits(cnn, settings.table, settings.tau, settings.policy) for name, cnn in cnns.items()
        }

    def limits(self, cnn: CNN) -> PrivacyLimits:
        return self._limits[cnn.name]

    def costed(self, cnn: CNN) -> CNN:
        """``cnn`` unchanged: the mechanism adds no compute."""
        return cnn

    def offload(self, cnn: CNN) -> OffloadPlan | None:
        """None: participants run what the camera does not."""
        return None

    def min_participants(self, cnn: CNN) -> int:
        return self._limits[cnn.name].min_participants(cnn)

    def exposure(self, cnn: CNN, counts: LayerCounts, colluders: int) -> Exposure:
        return exposure_of(cnn, self._limits[cnn.name], self.settings.table, counts, colluders)

    def accuracy_pct(self, cnn: CNN) -> float | None:
        return None
