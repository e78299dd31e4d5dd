"""Scheduler registry: name -> class, each scheduler one module.

The name table itself lives in :mod:`distsim.names` (a leaf that imports no
scheduler, engine or world, so the world can check names without an import
cycle); this module re-exports it under its usual names and builds schedulers.
Built-in schedulers are imported on first use, so that a heavy dependency
(OR-Tools) loads only when its scheduler is asked for. A notebook can add its
own with :func:`register`.

A scheduler class has a ``name``, a ``Params`` pydantic model (a subclass of
:class:`~distsim.scheduling.base.SchedulerParams`) and is built as
``cls(params, world, rng)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from distsim.names import check_scheduler, scheduler_class, scheduler_names
from distsim.names import register_scheduler as register

if TYPE_CHECKING:
    from distsim.scheduling.base import Scheduler
    from distsim.world import World

__all__ = ["check_scheduler", "make_scheduler", "register", "scheduler_class", "scheduler_names"]


def make_scheduler(name: str, params: dict[str, Any], world: World, rng: np.random.Generator) -> Scheduler:
    """Build scheduler ``name`` for ``world`` with its own random stream ``rng``."""
    cls: Any = scheduler_class(name)
    scheduler: Scheduler = cls(check_scheduler(name, params), world, rng)
    return scheduler
