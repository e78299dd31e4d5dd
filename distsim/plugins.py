"""One name table for everything a scenario names and a notebook may add: schedulers, timing models, mechanisms.

A :class:`Registry` maps names to objects. Built-ins are ``"module:attribute"``
paths imported on first use, so a heavy dependency (OR-Tools for ``exact``)
loads only when its entry is asked for; objects registered at run time (a
notebook's own scheduler) come first, so they may also replace a built-in.
Names list sorted, never in insertion order. A leaf utility: it imports
nothing of distsim but :mod:`distsim.errors`, so any layer can keep its table
here without importing the modules it names.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

from distsim.errors import InputError

T = TypeVar("T")


class Registry(Generic[T]):
    """Names of one kind of plug-in.

    Args:
        what: what a name names, for messages ("scheduler", "timing mode").
        field: the scenario field that holds such a name ("scheduler.name").
        builtin: built-in names -> ``"module:attribute"``.
    """

    def __init__(self, what: str, field: str, builtin: Mapping[str, str], *, entry_points: str | None = None) -> None:
        self.what = what
        self.field = field
        #: Entry-point group through which installed packages offer entries (``name = "module:attr"``).
        self.entry_points = entry_points
        #: Built-in entries, ``name -> "module:attribute"`` (imported on first use).
        self.builtin: dict[str, str] = dict(builtin)
        #: Entries added at run time with :meth:`register`, ``name -> object``.
        self.registered: dict[str, T] = {}

    def register(self, name: str, obj: T) -> T:
        """Make ``obj`` available as ``name`` (it wins over a built-in of the same name)."""
        self.registered[name] = obj
        return obj

    def installed(self) -> dict[str, Any]:
        """Entries offered by installed packages through :attr:`entry_points`, by name."""
        if self.entry_points is None:
            return {}
        from importlib.metadata import entry_points

        return {ep.name: ep for ep in entry_points(group=self.entry_points)}

    def names(self) -> list[str]:
        """Every name (built-in, registered, installed), sorted; import paths are accepted but not listed."""
        return sorted(set(self.builtin) | set(self.registered) | set(self.installed()))

    def get(self, name: str) -> T:
        """The object named ``name``: registered, built-in, an import path ``module:attr`` or installed.

        Raises KeyError for an unknown plain name, ImportError / AttributeError
        when an import path or an installed entry does not load.
        """
        if name in self.registered:
            return self.registered[name]
        if name in self.builtin:
            module, _, attr = self.builtin[name].partition(":")
            obj: T = getattr(importlib.import_module(module), attr)
            return obj
        if is_import_path(name):
            loaded: T = import_path(name)
            return loaded
        installed = self.installed()
        if name in installed:
            plugin: T = installed[name].load()
            return plugin
        raise KeyError(name)

    def resolve(self, name: str, *, file: str | None = None) -> T:
        """:meth:`get`, with every failure as one :class:`InputError` on :attr:`field`."""
        try:
            return self.get(name)
        except KeyError:
            hint = ", or an import path such as mypkg.module:Name" if self.entry_points else ""
            raise InputError(
                f"unknown {self.what} {name!r}; expected one of {', '.join(self.names())}{hint}",
                file=file,
                field=self.field,
            ) from None
        except Exception as exc:  # an import path or plug-in that does not load: its own error, in one line
            raise InputError(
                f"cannot load {self.what} {name!r}: {type(exc).__name__}: {exc}", file=file, field=self.field
            ) from None

    def check(self, name: str, *, file: str | None = None) -> None:
        """Raise :class:`InputError` on :attr:`field` when ``name`` names nothing (import paths are loaded to check)."""
        if name not in self.builtin and name not in self.registered:
            self.resolve(name, file=file)


def is_import_path(name: str) -> bool:
    """Whether ``name`` is a ``module.path:Name`` import path rather than a registered name."""
    return ":" in name


def import_path(path: str) -> Any:
    """``module:attr`` imported; a module not found is looked for in the working directory too.

    The working directory is searched as ``python -m`` would, so that a
    plug-in in ``./mypkg/sched.py`` works from ``distsim run`` (a console
    script, whose ``sys.path`` lacks it); the entry is added once, at the end
    of ``sys.path``, so installed packages still win.
    """
    module, _, attr = path.partition(":")
    try:
        loaded = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        here = os.getcwd()
        missing = (exc.name or "").split(".")[0]
        if here in sys.path or missing != module.split(".")[0]:
            raise
        sys.path.append(here)
        loaded = importlib.import_module(module)
    return getattr(loaded, attr)
