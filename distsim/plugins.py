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
from collections.abc import Mapping
from typing import Generic, TypeVar

from distsim.errors import InputError

T = TypeVar("T")


class Registry(Generic[T]):
    """Names of one kind of plug-in.

    Args:
        what: what a name names, for messages ("scheduler", "timing mode").
        field: the scenario field that holds such a name ("scheduler.name").
        builtin: built-in names -> ``"module:attribute"``.
    """

    def __init__(self, what: str, field: str, builtin: Mapping[str, str]) -> None:
        self.what = what
        self.field = field
        #: Built-in entries, ``name -> "module:attribute"`` (imported on first use).
        self.builtin: dict[str, str] = dict(builtin)
        #: Entries added at run time with :meth:`register`, ``name -> object``.
        self.registered: dict[str, T] = {}

    def register(self, name: str, obj: T) -> T:
        """Make ``obj`` available as ``name`` (it wins over a built-in of the same name)."""
        self.registered[name] = obj
        return obj

    def names(self) -> list[str]:
        """Every name, sorted."""
        return sorted(set(self.builtin) | set(self.registered))

    def get(self, name: str) -> T:
        """The object named ``name``, importing a built-in's module on first use (KeyError if unknown)."""
        if name in self.registered:
            return self.registered[name]
        module, _, attr = self.builtin[name].partition(":")
        obj: T = getattr(importlib.import_module(module), attr)
        return obj

    def check(self, name: str, *, file: str | None = None) -> None:
        """Raise :class:`InputError` on :attr:`field` when ``name`` names nothing."""
        if name not in self.builtin and name not in self.registered:
            raise InputError(
                f"unknown {self.what} {name!r}; expected one of {', '.join(self.names())}", file=file, field=self.field
            )
