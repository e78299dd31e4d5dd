"""Every file distsim writes goes through this module: atomic, one permission policy, one CSV cell format, strict JSON.

**Atomic files.** :func:`write_text`, :func:`write_bytes`, :func:`write_json`
and :func:`atomic_path` (for writers that want a path, such as matplotlib's
``savefig`` or pyarrow) write a temporary file beside the target and move it
into place with one ``os.replace``: a reader sees the old file or the new one,
never a torn one. On any error the temporary file is removed.

**Permissions.** Published files get ``0o666 & ~umask`` and published folders
``0o777 & ~umask``: what ``open()`` and ``mkdir()`` would give, whatever
``mkstemp``/``mkdtemp`` used for staging (they make owner-only entries). The
umask is read when a file is published, not at import.

**CSV.** :func:`cell` is the one cell formatter: ``true``/``false`` for
booleans, shortest round-trip ``repr`` for floats, an empty cell for NaN and
None, JSON for mappings and lists, ``str`` otherwise. Infinite floats are
written ``inf``/``-inf`` (``float()`` reads them back).

**Strict JSON.** :func:`json_text` never emits the non-standard tokens
``NaN``, ``Infinity`` or ``-Infinity``: a non-finite float is written as
``null``. distsim's outputs hold non-finite values only where a quantity is
undefined (a latency percentile of a run that served nothing, a rate over a
zero duration); ``docs/outputs.md`` lists those fields. Anything else JSON
cannot encode raises ``TypeError``.

**Whole folders.** :func:`stage_dir` and :func:`publish_dir` publish a
complete folder in one atomic step, also when it replaces a previous one; see
:func:`publish_dir` for the rule and what a reader sees at every instant.
:func:`write_manifest` and :func:`verify_manifest` record and check the
SHA-256 of every file of a folder.
"""

from __future__ import annotations

import contextlib
import csv
import ctypes
import ctypes.util
import hashlib
import io
import json
import math
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from distsim.errors import InputError

#: Name of the manifest every published output folder holds.
MANIFEST = "manifest.json"
#: Staging and set-aside folders of a publication are hidden siblings of the target:
#: ``.<name>.staging-<pid>-<random>`` and ``.<name>.old-<pid>-<random>``.
STAGING_TAG = ".staging-"
OLD_TAG = ".old-"

#: Test hook: called with the name of each step of a folder publication (see :func:`publish_dir`).
#: Tests set it to kill the process at one step; it is None otherwise.
step_hook: Callable[[str], None] | None = None


def step(name: str) -> None:
    """Mark one step of a publication for :data:`step_hook` (a no-op unless a test set the hook)."""
    if step_hook is not None:
        step_hook(name)


def umask() -> int:
    """The process umask (read without changing it for longer than one call)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """Permissions of published files: ``0o666 & ~umask``."""
    return 0o666 & ~umask()


def dir_mode() -> int:
    """Permissions of published folders: ``0o777 & ~umask``."""
    return 0o777 & ~umask()


# --------------------------------------------------------------------------- files


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block ends without error, move it onto ``path``.

    The parent folder must exist. ``suffix`` lets writers that infer a format
    from the extension (``savefig``) see the right one.
    """
    target = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, file_mode())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    target = Path(path)
    with atomic_path(target) as tmp, open(tmp, "wb") as handle:
        handle.write(data)
    return target


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8, newlines untranslated) to ``path`` atomically; returns the path."""
    return write_bytes(path, text.encode("utf-8"))


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float (also inside mappings and lists) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _finite(value.item())
    return value


def json_text(data: Any, *, indent: int | None = 2, sort_keys: bool = False) -> str:
    """Strict JSON text of ``data``: non-finite floats become ``null``; ends with a newline when indented."""
    text = json.dumps(_finite(data), indent=indent, sort_keys=sort_keys, allow_nan=False)
    return text if indent is None else text + "\n"


def compact_json(data: Any) -> str:
    """Strict JSON without spaces (run records, traces)."""
    return json.dumps(_finite(data), separators=(",", ":"), allow_nan=False)


def write_json(path: str | Path, data: Any, *, compact: bool = False) -> Path:
    """Write strict JSON (indented, or compact) to ``path`` atomically."""
    return write_text(path, compact_json(data) if compact else json_text(data))


# --------------------------------------------------------------------------- CSV


def cell(value: Any) -> str:
    """The one CSV cell format (see the module docstring)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    if isinstance(value, dict | list):
        return json.dumps(_finite(value), allow_nan=False)
    return str(value)


class CsvWriter:
    """CSV rows with :func:`cell` formatting on any text handle (``\\n`` line ends)."""

    def __init__(self, handle: IO[str], columns: Sequence[str]) -> None:
        self._writer = csv.writer(handle, lineterminator="\n")
        self._writer.writerow(columns)

    def row(self, values: Iterable[Any]) -> None:
        """Write one row of values, in column order."""
        self._writer.writerow([cell(v) for v in values])


def csv_text(columns: Sequence[str], rows: Iterable[Sequence[Any] | Mapping[str, Any]]) -> str:
    """CSV text with a header; each row is a sequence in column order or a mapping by column name."""
    buffer = io.StringIO()
    writer = CsvWriter(buffer, columns)
    for row in rows:
        writer.row([row.get(c) for c in columns] if isinstance(row, Mapping) else row)
    return buffer.getvalue()


def write_csv(path: str | Path, columns: Sequence[str], rows: Iterable[Sequence[Any] | Mapping[str, Any]]) -> Path:
    """Write a CSV table to ``path`` atomically."""
    return write_text(path, csv_text(columns, rows))


# --------------------------------------------------------------------------- hashes and manifests


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_digests(folder: str | Path, names: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    """``{relative path: {"sha256": ..., "bytes": ...}}`` of ``names`` (default: every file but the manifest).

    Paths use ``/`` and are sorted, so the mapping does not depend on the file system's order.
    """
    root = Path(folder)
    if names is None:
        names = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(n for n in names if n != MANIFEST):
        path = root / name
        out[name] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    return out


def write_manifest(folder: str | Path, data: Mapping[str, Any], names: Iterable[str] | None = None) -> Path:
    """Write ``manifest.json`` into ``folder``: ``data`` plus ``files`` (the SHA-256 of every other file)."""
    root = Path(folder)
    return write_json(root / MANIFEST, {**data, "files": file_digests(root, names)})


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """The manifest of an output folder (one-line :class:`InputError` when absent or malformed)."""
    path = Path(folder) / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"not a finished distsim output folder (no {MANIFEST})", file=str(folder)) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"cannot read {MANIFEST}: {exc}", file=str(folder)) from None
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        raise InputError(f"malformed {MANIFEST}: expected a 'files' mapping", file=str(folder))
    return data


def verify_manifest(folder: str | Path) -> dict[str, Any]:
    """Check every file listed in the folder's manifest against its SHA-256; return the manifest.

    Raises a one-line :class:`InputError` naming the first file that is
    missing or whose bytes differ (a folder mixed from two runs, edited by
    hand, or truncated). Files the manifest does not list (``plots/`` written
    later) are not checked.
    """
    manifest = read_manifest(folder)
    root = Path(folder)
    for name, entry in sorted(manifest["files"].items()):
        expected = entry.get("sha256") if isinstance(entry, dict) else None
        path = root / name
        if not path.is_file():
            raise InputError(f"{name} is listed in {MANIFEST} but missing; the folder is incomplete", file=str(folder))
        if expected != sha256_file(path):
            raise InputError(
                f"{name} does not match its SHA-256 in {MANIFEST}; the folder was modified or mixed from two runs",
                file=str(folder),
            )
    return manifest


# --------------------------------------------------------------------------- whole folders


def _pid_alive(pid: int) -> bool:
    if pid <= 0:  # not a publisher's pid (os.kill(-1, 0) would probe every process)
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _leftovers(target: Path) -> list[tuple[Path, str, int]]:
    """Staging and set-aside siblings of ``target``: (path, tag, pid of the publisher)."""
    found = []
    prefix = f".{target.name}"
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return []
    for entry in entries:
        for tag in (STAGING_TAG, OLD_TAG):
            if entry.name.startswith(prefix + tag):
                pid_text = entry.name[len(prefix + tag) :].split("-", 1)[0]
                found.append((entry, tag, int(pid_text) if pid_text.isdigit() else -1))
    return sorted(found)


def clean_leftovers(target: str | Path) -> None:
    """Remove what an interrupted publication of ``target`` left behind (see :func:`publish_dir`).

    Staging folders of dead publishers are removed. A set-aside old folder is
    removed when ``target`` exists; when ``target`` is missing (the two-rename
    fallback was interrupted between its renames) the old folder is put back.
    Leftovers of a publisher that is still running are left alone.
    """
    path = Path(target)
    for entry, tag, pid in _leftovers(path):
        if pid != os.getpid() and _pid_alive(pid):
            continue
        if tag == OLD_TAG and not path.exists():
            os.replace(entry, path)
            continue
        shutil.rmtree(entry, ignore_errors=True)


def stage_dir(target: str | Path) -> Path:
    """Create the empty staging folder of ``target`` (a hidden sibling, so the final rename stays on one file system).

    Leftovers of an earlier interrupted publication of ``target`` are cleaned
    first. Raises :class:`InputError` when ``target`` exists and is not a
    folder this module may replace (a file, or a non-empty folder without a
    manifest).
    """
    path = Path(target)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        clean_leftovers(path)
        if path.exists() or path.is_symlink():
            if not path.is_dir() or path.is_symlink():
                raise InputError("exists and is not a folder; choose another output path", file=str(path))
            if any(path.iterdir()) and not (path / MANIFEST).is_file():
                raise InputError(
                    f"exists, is not empty and is not a distsim output folder (no {MANIFEST}); "
                    "choose another output path or remove it",
                    file=str(path),
                )
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}{STAGING_TAG}{os.getpid()}-", dir=path.parent))
        os.chmod(staging, dir_mode())
    except OSError as exc:
        raise InputError(f"cannot create the output folder: {exc.strerror or exc}", file=str(path)) from None
    return staging


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    errno = ctypes.get_errno()
    if errno in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: this file system or kernel cannot exchange
        return False
    raise OSError(errno, os.strerror(errno), str(b))


def publish_dir(staging: str | Path, target: str | Path) -> Path:
    """Publish the complete folder ``staging`` as ``target`` in one atomic step; returns ``target``.

    The rule, and what a reader of ``target`` sees at every instant:

    1. the caller wrote every file into ``staging`` (from :func:`stage_dir`); ``target`` is untouched;
    2. if ``target`` does not exist, ``staging`` is renamed to it (one ``rename``): absent, then new;
    3. otherwise the two are swapped by one ``renameat2(RENAME_EXCHANGE)`` (Linux): entirely old, then
       entirely new; the old folder, now at the staging path, is then removed;
    4. where the kernel or file system cannot exchange, the old folder is renamed aside
       (``.<name>.old-*``) and the new one into place: old, then absent for the instant between
       the two renames, then new. Never a mix.

    A crash leaves at worst a hidden staging or set-aside sibling, which the next
    :func:`stage_dir` of the same target removes (or, if the crash fell between the
    two fallback renames, renames back so the old results reappear).
    """
    src, dst = Path(staging), Path(target)
    step("staged")
    try:
        if not dst.exists():
            os.replace(src, dst)
            step("published")
            return dst
        if _exchange(src, dst):
            step("exchanged")
            shutil.rmtree(src, ignore_errors=True)
            step("published")
            return dst
        aside = Path(tempfile.mkdtemp(prefix=f".{dst.name}{OLD_TAG}{os.getpid()}-", dir=dst.parent))
        os.replace(dst, aside)  # onto the empty folder mkdtemp made
        step("set-aside")
        os.replace(src, dst)
        step("renamed")
        shutil.rmtree(aside, ignore_errors=True)
        step("published")
    except OSError as exc:
        raise InputError(f"cannot publish results: {exc.strerror or exc}", file=str(dst)) from None
    return dst
