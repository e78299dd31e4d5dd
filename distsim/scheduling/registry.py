"""Scheduler registry: name -> class, each scheduler one module.

Built-in schedulers are listed by dotted path and imported on first use, so
that a heavy dependency (OR-Tools) loads only when its scheduler is asked for.
A notebook can add its own with :func:`register`.

A scheduler class has a ``name``, a ``Params`` pydantic model (a subclass of
:class:`~distsim.scheduling.base.SchedulerParams`) and is built as
``cls(params, world, rng)``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import ValidationError

from distsim.errors import InputError

if TYPE_CHECKING:
    from distsim.scheduling.base import Scheduler
    from distsim.world import World

_BUILTIN: dict[str, str] = {
    "distprivacy": "distsim.scheduling.distprivacy:DistPrivacy",
    "distprivacy_reference": "distsim.scheduling.reference:ReferenceDistPrivacy",
    "exact": "distsim.scheduling.exact:Exact",
    "random": "distsim.scheduling.baselines.random_fit:RandomFit",
    "round_robin": "distsim.scheduling.baselines.round_robin:RoundRobin",
    "no_privacy": "distsim.scheduling.baselines.no_privacy:NoPrivacy",
    "layerwise": "distsim.scheduling.baselines.layerwise:Layerwise",
    "source_only": "distsim.scheduling.baselines.source_only:SourceOnly",
}
_REGISTERED: dict[str, type] = {}


def register(cls: type) -> type:
    """Register a scheduler class under ``cls.name`` (usable as a decorator)."""
    _REGISTERED[cls.name] = cls
    return cls


def scheduler_names() -> list[str]:
    """Every scheduler name, sorted."""
    return sorted(set(_BUILTIN) | set(_REGISTERED))


def scheduler_class(name: str) -> type:
    """The class registered as ``name`` (KeyError if unknown)."""
    if name in _REGISTERED:
        return _REGISTERED[name]
    module, _, attr = _BUILTIN[name].partition(":")
    cls: type = getattr(importlib.import_module(module), attr)
    return cls


def check_scheduler(name: str, params: dict[str, Any], *, file: str | None = None) -> Any:
    """Validate a scheduler name and its parameters; return the parameter model."""
    if name not in scheduler_names():
        raise InputError(
            f"unknown scheduler {name!r}; expected one of {', '.join(scheduler_names())}",
            file=file,
            field="scheduler.name",
        )
    cls = scheduler_class(name)
    try:
        return cls.Params.model_validate(params)
    except ValidationError as exc:
        from distsim.scenario import validation_to_input_error

        raise validation_to_input_error(exc, file, prefix="scheduler.params") from None


def make_scheduler(name: str, params: dict[str, Any], world: World, rng: np.random.Generator) -> Scheduler:
    """Build scheduler ``name`` for ``world`` with its own random stream ``rng``."""
    cls = scheduler_class(name)
    scheduler: Scheduler = cls(check_scheduler(name, params), world, rng)
    return scheduler
