"""Mechanism registry: ``privacy.mechanism`` name -> class, one module each.

Built-ins are listed by dotted path and imported on first use; a notebook adds
its own with :func:`register_mechanism`. A mechanism class has a ``name``, a
``certifies`` flag and is built as ``cls(settings, cnns)``
(:class:`~distsim.privacy.base.PrivacyMechanism`).
"""

from __future__ import annotations

import importlib

from distsim.errors import InputError
from distsim.model.cnn import CNN
from distsim.privacy.base import MechanismSettings, PrivacyMechanism

#: Built-in mechanisms, ``name -> "module:class"``.
BUILTIN_MECHANISMS: dict[str, str] = {
    "feature_split": "distsim.privacy.feature_split:FeatureSplit",
    "none": "distsim.privacy.none:NoProtection",
    "dp_noise": "distsim.privacy.dp_noise:DpNoise",
}
_REGISTERED: dict[str, type] = {}


def register_mechanism(cls: type) -> type:
    """Register a mechanism class under ``cls.name`` (usable as a decorator)."""
    _REGISTERED[cls.name] = cls  # type: ignore[attr-defined]
    return cls


def mechanism_names() -> list[str]:
    """Every mechanism name, sorted."""
    return sorted(set(BUILTIN_MECHANISMS) | set(_REGISTERED))


def mechanism_class(name: str) -> type:
    """The class registered as ``name`` (InputError naming ``privacy.mechanism`` if unknown)."""
    if name in _REGISTERED:
        return _REGISTERED[name]
    if name not in BUILTIN_MECHANISMS:
        raise InputError(
            f"unknown privacy mechanism {name!r}; expected one of {', '.join(mechanism_names())}",
            field="privacy.mechanism",
        )
    module, _, attr = BUILTIN_MECHANISMS[name].partition(":")
    cls: type = getattr(importlib.import_module(module), attr)
    return cls


def make_mechanism(name: str, settings: MechanismSettings, cnns: dict[str, CNN]) -> PrivacyMechanism:
    """Build mechanism ``name`` for the run's CNNs."""
    mechanism: PrivacyMechanism = mechanism_class(name)(settings, cnns)
    return mechanism
