"""Mechanism registry: ``privacy.mechanism`` name -> class, one module each.

Built-ins are listed by dotted path and imported on first use; a notebook adds
its own with :func:`register_mechanism`. A mechanism class has a ``name``, a
``certifies`` flag and is built as ``cls(settings, cnns)``
(:class:`~distsim.privacy.base.PrivacyMechanism`).
"""

from __future__ import annotations

from distsim.model.cnn import CNN
from distsim.plugins import Registry
from distsim.privacy.base import MechanismSettings, PrivacyMechanism

#: Privacy mechanisms (``privacy.mechanism``): built-ins as ``name -> "module:class"``.
MECHANISMS: Registry[type] = Registry(
    "privacy mechanism",
    "privacy.mechanism",
    {
        "feature_split": "distsim.privacy.feature_split:FeatureSplit",
        "none": "distsim.privacy.none:NoProtection",
        "dp_noise": "distsim.privacy.dp_noise:DpNoise",
        "edge_cloud": "distsim.privacy.edge_cloud:EdgeCloud",
    },
)
#: The built-in table (the registry's own dict).
BUILTIN_MECHANISMS = MECHANISMS.builtin


def register_mechanism(cls: type) -> type:
    """Register a mechanism class under ``cls.name`` (usable as a decorator)."""
    return MECHANISMS.register(cls.name, cls)  # type: ignore[attr-defined]


def mechanism_names() -> list[str]:
    """Every mechanism name, sorted."""
    return MECHANISMS.names()


def mechanism_class(name: str) -> type:
    """The class registered as ``name`` (InputError naming ``privacy.mechanism`` if unknown)."""
    MECHANISMS.check(name)
    return MECHANISMS.get(name)


def make_mechanism(name: str, settings: MechanismSettings, cnns: dict[str, CNN]) -> PrivacyMechanism:
    """Build mechanism ``name`` for the run's CNNs."""
    mechanism: PrivacyMechanism = mechanism_class(name)(settings, cnns)
    return mechanism
