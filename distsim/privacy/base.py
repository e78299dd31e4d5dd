"""The :class:`PrivacyMechanism` protocol and the plain settings every mechanism is built from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from distsim.errors import InputError
from distsim.model.cnn import CNN
from distsim.model.offload import OffloadPlan, ServerModel
from distsim.model.privacy import PrivacyLimits, SsimTable, UnmeasuredPolicy
from distsim.privacy.exposure import Exposure, LayerCounts


@dataclass(frozen=True, slots=True)
class MechanismSettings:
    """What a scenario's ``privacy`` section says, as plain data.

    Attributes:
        tau: tolerated SSIM ``tau`` (``privacy.max_ssim``).
        policy: what to do where the table certifies no split (``finest`` or ``strict``).
        table: the SSIM table of map-splitting attacks (the paper's Table I, or the scenario's own).
        colluders: ``c``, devices an attacker may pool (``privacy.colluders``, >= 1).
        params: the mechanism's own parameters (``privacy.params``), checked by the mechanism.
        servers: the scenario's servers (``servers``), by name, for mechanisms that offload.
    """

    tau: float
    policy: UnmeasuredPolicy
    table: SsimTable
    colluders: int = 1
    params: Mapping[str, Any] = field(default_factory=dict)
    servers: Mapping[str, ServerModel] = field(default_factory=dict)

    def known_params(self, mechanism: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        """A copy of ``privacy.params``, refusing any name not in ``allowed`` (one-line :class:`InputError`)."""
        unknown = sorted(set(self.params) - set(allowed))
        if unknown:
            raise InputError(
                f"unknown parameter {unknown[0]!r}; {mechanism} takes {', '.join(allowed)}", field="privacy.params"
            )
        return dict(self.params)

    def refuse_params(self, mechanism: str) -> None:
        """Refuse ``privacy.params`` for a mechanism that takes none (one-line :class:`InputError`)."""
        if self.params:
            raise InputError(
                f"mechanism {mechanism!r} takes no parameters, got {', '.join(sorted(self.params))}",
                field="privacy.params",
            )


@runtime_checkable
class PrivacyMechanism(Protocol):
    """A privacy mechanism: what schedulers may do, and what a placement exposes.

    Built as ``cls(settings, cnns)`` with every CNN of the run; raises
    :class:`~distsim.errors.InputError` (field ``privacy...``) on parameters it
    cannot use.

    Attributes:
        name: registry name (``privacy.mechanism``).
        certifies: True when a placement obeying :meth:`limits` is certified to
            keep every single device's exposure at or below ``tau`` (wherever
            the limits are not extrapolated).
        exposure_attack: the attack (hence the SSIM scale) its exposure is measured
            with: ``blackbox_map_subsets`` (DistPrivacy's Table I) or
            ``whitebox_noisy_output`` (Ryu et al.); values of different attacks
            are never compared or pooled.
    """

    name: ClassVar[str]
    certifies: ClassVar[bool]
    exposure_attack: ClassVar[str]

    def limits(self, cnn: CNN) -> PrivacyLimits:
        """Per-layer caps ``Nf^l``, the split point and the source-only layers of ``cnn``."""
        ...

    def costed(self, cnn: CNN) -> CNN:
        """``cnn`` as the cost model runs it under this mechanism: any extra compute it implies
        (multiplications) folded into the layers that do it; ``cnn`` itself when there is none."""
        ...

    def offload(self, cnn: CNN) -> OffloadPlan | None:
        """The changed data flow, for a mechanism that sends layers to a server (``edge_cloud``): where
        ``cnn``'s layers run; None when the schedulers place them on participants."""
        ...

    def min_participants(self, cnn: CNN) -> int:
        """Fewest distinct participants a placement of ``cnn`` needs under these limits."""
        ...

    def exposure(self, cnn: CNN, counts: LayerCounts, colluders: int) -> Exposure:
        """Worst SSIM any coalition of ``colluders`` untrusted devices reaches from ``counts``."""
        ...

    def accuracy_pct(self, cnn: CNN) -> float | None:
        """Top-1 accuracy the mechanism leaves, percent; None where it does not know."""
        ...
