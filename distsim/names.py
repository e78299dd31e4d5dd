"""The names a scenario may use for its scheduler and its timing model.

A leaf of the package (like :mod:`distsim.errors`): it imports neither the
engine nor the world nor any scheduler, so :func:`distsim.world.build_world`
can check ``scheduler.name`` and ``simulation.timing`` without closing an
import cycle. Built-ins are listed as ``"module:attribute"`` paths and
imported on first use (by :func:`scheduler_class` and :func:`timing_factory`),
so a heavy dependency (OR-Tools) loads only when its scheduler is asked for.
Notebooks add their own with :func:`register_scheduler` and
:func:`register_timing`; :mod:`distsim.scheduling.registry` and
:mod:`distsim.engine.timing` re-export these under their usual names.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from distsim.errors import InputError

#: Built-in schedulers, ``name -> "module:class"``.
BUILTIN_SCHEDULERS: dict[str, str] = {
    "distprivacy": "distsim.scheduling.distprivacy:DistPrivacy",
    "distprivacy_reference": "distsim.scheduling.reference:ReferenceDistPrivacy",
    "exact": "distsim.scheduling.exact:Exact",
    "random": "distsim.scheduling.baselines.random_fit:RandomFit",
    "round_robin": "distsim.scheduling.baselines.round_robin:RoundRobin",
    "no_privacy": "distsim.scheduling.baselines.no_privacy:NoPrivacy",
    "layerwise": "distsim.scheduling.baselines.layerwise:Layerwise",
    "minmax": "distsim.scheduling.baselines.minmax:MinMax",
    "policy": "distsim.rl.policy:Policy",
    "source_only": "distsim.scheduling.baselines.source_only:SourceOnly",
}
#: Built-in timing models, ``name -> "module:factory"``.
BUILTIN_TIMINGS: dict[str, str] = {
    "analytic": "distsim.engine.timing:AnalyticTiming",
    "contention": "distsim.engine.contention:ContentionTiming",
}
_SCHEDULERS: dict[str, type] = {}
_TIMINGS: dict[str, Callable[..., Any]] = {}


def _load(path: str) -> Any:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


# -- schedulers ---------------------------------------------------------------
def register_scheduler(cls: type) -> type:
    """Register a scheduler class under ``cls.name`` (usable as a decorator)."""
    _SCHEDULERS[cls.name] = cls  # type: ignore[attr-defined]
    return cls


def scheduler_names() -> list[str]:
    """Every scheduler name, sorted."""
    return sorted(set(BUILTIN_SCHEDULERS) | set(_SCHEDULERS))


def scheduler_class(name: str) -> type:
    """The class registered as ``name`` (KeyError if unknown)."""
    if name in _SCHEDULERS:
        return _SCHEDULERS[name]
    cls: type = _load(BUILTIN_SCHEDULERS[name])
    return cls


def check_scheduler(name: str, params: dict[str, Any], *, file: str | None = None) -> Any:
    """Validate a scheduler name and its parameters; return the parameter model."""
    if name not in scheduler_names():
        raise InputError(
            f"unknown scheduler {name!r}; expected one of {', '.join(scheduler_names())}",
            file=file,
            field="scheduler.name",
        )
    cls: Any = scheduler_class(name)
    try:
        return cls.Params.model_validate(params)
    except ValidationError as exc:
        from distsim.scenario import validation_to_input_error

        raise validation_to_input_error(exc, file, prefix="scheduler.params") from None


# -- timing models ------------------------------------------------------------
def register_timing(name: str, factory: Callable[..., Any]) -> None:
    """Make a timing model available as ``simulation.timing: <name>``.

    ``factory(env, world, rng)`` returns a :class:`distsim.engine.timing.TimingModel`.
    """
    _TIMINGS[name] = factory


def timing_names() -> list[str]:
    """Names of the available timing models, sorted."""
    return sorted(set(BUILTIN_TIMINGS) | set(_TIMINGS))


def timing_factory(name: str) -> Callable[..., Any]:
    """The factory of timing model ``name`` (KeyError if unknown)."""
    if name in _TIMINGS:
        return _TIMINGS[name]
    factory: Callable[..., Any] = _load(BUILTIN_TIMINGS[name])
    return factory


def check_timing(name: str, *, file: str | None = None) -> None:
    """Raise :class:`InputError` on ``simulation.timing`` when ``name`` is no timing model."""
    if name not in timing_names():
        raise InputError(
            f"unknown timing mode {name!r}; expected one of {', '.join(timing_names())}",
            file=file,
            field="simulation.timing",
        )
