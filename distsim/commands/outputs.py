"""Checks of the paths a command will write, run before it computes or writes anything.

A command validates every output it was asked for first (a folder it may
create, files whose parent exists, suffixes it can write), so that a bad
``--trace`` or ``--gantt`` path is one line and exit 2 with nothing written,
instead of an error after the results were published. Writers stay atomic
(:mod:`distsim.io`); this module only refuses what cannot work.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from distsim.errors import InputError


def add_set_argument(parser: argparse.ArgumentParser, where: str = "in the scenario") -> None:
    """``--set dotted.path=value`` (repeatable), applied before validation."""
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help=f"set a field {where} before validation, e.g. --set privacy.max_ssim=0.4 "
        "--set participants.mix='{rpi3: 1}' (value read as YAML; repeatable, applied in order)",
    )


def overrides_of(args: argparse.Namespace) -> list[tuple[str, Any]]:
    """The parsed ``--set`` options of ``args``."""
    from distsim.scenario import parse_override

    return [parse_override(text) for text in getattr(args, "set", None) or []]


def progress_choice(args: argparse.Namespace) -> bool | None:
    """False with ``--no-progress`` or ``-q``; else None (a bar on a terminal, periodic lines otherwise)."""
    return False if getattr(args, "no_progress", False) or getattr(args, "quiet", False) else None


def _nearest_existing(path: Path) -> Path:
    probe = path.absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def _check_writable(folder: Path, target: Path, option: str) -> None:
    """Refuse ``folder`` unless a file can be created in it, by trying (the probe file is removed at once).

    ``os.access`` alone is not enough: it says yes to root everywhere, also on
    read-only file systems and in ``/proc`` or ``/sys``, where creating a file
    fails anyway.
    """
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"cannot write into {folder}: permission denied", file=str(target), field=option)
    try:
        fd, probe = tempfile.mkstemp(prefix=".distsim-probe-", dir=folder)
    except OSError as exc:
        why = exc.strerror or str(exc)
        raise InputError(f"cannot write into {folder}: {why}", file=str(target), field=option) from None
    os.close(fd)
    os.unlink(probe)


def check_output_dir(path: str | Path, option: str) -> Path:
    """``path`` if it is a folder distsim may create or write into (parents are created)."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise InputError(f"expected a folder for the results, but {target} is a file", file=str(target), field=option)
    base = _nearest_existing(target)
    if not base.is_dir():
        raise InputError(f"cannot create a folder under {base}: it is a file", file=str(target), field=option)
    _check_writable(base, target, option)
    return target


def check_output_file(path: str | Path, option: str, suffixes: Sequence[str] | None = None) -> Path:
    """``path`` if a file can be (re)placed there: its folder exists and is writable, no folder or device in the way.

    ``suffixes`` (lower case, with the dot; ``""`` for none) restricts the file
    name's ending when the format follows from it.
    """
    target = Path(path)
    if suffixes is not None and target.suffix.lower() not in suffixes:
        endings = ", ".join(s for s in suffixes if s)
        raise InputError(f"expected a file ending in {endings}", file=str(target), field=option)
    if target.exists() and not target.is_file():
        kind = "a folder" if target.is_dir() else "not a regular file"
        raise InputError(f"cannot write a file there: it is {kind}", file=str(target), field=option)
    parent = target.parent
    if not parent.is_dir():
        raise InputError(f"the folder {parent} does not exist; create it first", file=str(target), field=option)
    _check_writable(parent, target, option)
    return target
