"""The names a scenario may use for its scheduler and its timing model.

The tables are :class:`distsim.plugins.Registry` objects. This module imports
neither the engine nor the world nor any scheduler, so :func:`distsim.world.build_world`
can check ``scheduler.name`` and ``simulation.timing`` without closing an
import cycle. Built-ins are listed as ``"module:attribute"`` paths and
imported on first use (by :func:`scheduler_class` and :func:`timing_factory`),
so a heavy dependency (OR-Tools) loads only when its scheduler is asked for.
Notebooks add their own with :func:`register_scheduler` and
:func:`register_timing`; :mod:`distsim.scheduling.registry` and
:mod:`distsim.engine.timing` re-export these under their usual names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from distsim.errors import InputError
from distsim.plugins import Registry

#: Schedulers (``scheduler.name``): built-ins as ``name -> "module:class"``.
SCHEDULERS: Registry[type] = Registry(
    "scheduler",
    "scheduler.name",
    {
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
    },
    entry_points="distsim.schedulers",
)
#: Entry-point group through which installed packages offer schedulers (``name = "module:Class"``).
ENTRY_POINT_GROUP = "distsim.schedulers"
#: Timing models (``simulation.timing``): built-ins as ``name -> "module:factory"``.
TIMINGS: Registry[Callable[..., Any]] = Registry(
    "timing mode",
    "simulation.timing",
    {
        "analytic": "distsim.engine.timing:AnalyticTiming",
        "contention": "distsim.engine.contention:ContentionTiming",
    },
)
#: The built-in tables (the registries' own dicts; kept under these names for existing imports).
BUILTIN_SCHEDULERS = SCHEDULERS.builtin
BUILTIN_TIMINGS = TIMINGS.builtin


# -- schedulers ---------------------------------------------------------------
def register_scheduler(cls: type) -> type:
    """Register a scheduler class under ``cls.name`` (usable as a decorator)."""
    return SCHEDULERS.register(cls.name, cls)  # type: ignore[attr-defined]


def scheduler_names() -> list[str]:
    """Every scheduler name (built-in, registered, installed through entry points), sorted.

    Import paths (``mypkg.sched:MyScheduler``) are accepted too but not listed.
    """
    return SCHEDULERS.names()


def scheduler_class(name: str) -> type:
    """The class of scheduler ``name``: registered, built-in, an import path or installed (KeyError if unknown)."""
    return SCHEDULERS.get(name)


def contract_problems(cls: Any) -> list[str]:
    """What ``cls`` lacks of the scheduler contract (:class:`distsim.scheduling.base.Scheduler`)."""
    from pydantic import BaseModel

    if not isinstance(cls, type):
        return [f"expected a class, got {type(cls).__name__}"]
    problems = []
    if not isinstance(getattr(cls, "name", None), str):
        problems.append("a class attribute 'name' (str)")
    params = getattr(cls, "Params", None)
    if not (isinstance(params, type) and issubclass(params, BaseModel)):
        problems.append("a class attribute 'Params' (a pydantic model, e.g. a SchedulerParams subclass)")
    if not callable(getattr(cls, "place", None)):
        problems.append("a method 'place(request, view)'")
    return problems


def check_scheduler(name: str, params: dict[str, Any], *, file: str | None = None) -> Any:
    """Validate a scheduler name (or import path) and its parameters; return the parameter model."""
    cls: Any = SCHEDULERS.resolve(name, file=file)
    problems = contract_problems(cls)
    if problems:
        raise InputError(
            f"{name!r} is not a scheduler: it lacks {'; '.join(problems)} (see docs/extending.md)",
            file=file,
            field="scheduler.name",
        )
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
    TIMINGS.register(name, factory)


def timing_names() -> list[str]:
    """Names of the available timing models, sorted."""
    return TIMINGS.names()


def timing_factory(name: str) -> Callable[..., Any]:
    """The factory of timing model ``name`` (KeyError if unknown)."""
    return TIMINGS.get(name)


def check_timing(name: str, *, file: str | None = None) -> None:
    """Raise :class:`InputError` on ``simulation.timing`` when ``name`` is no timing model."""
    TIMINGS.check(name, file=file)
