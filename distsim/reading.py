"""Reading user files safely: a size limit, UTF-8 with or without a byte-order mark.

Every file a user hands to distsim (scenario, sweep, CNN declaration, SSIM
table, result folders given to ``plot``) is read through :func:`read_text`,
so an endless file (``/dev/zero``), a huge one, a directory, a binary file or
a missing one ends in one :class:`~distsim.errors.InputError` instead of a
hang, a MemoryError or a traceback. YAML on top of it (no aliases) is
:func:`distsim.scenario.parse_yaml`. A leaf utility: stdlib only.
"""

from __future__ import annotations

from pathlib import Path

from distsim.errors import InputError

#: Largest input file read, bytes (scenarios, sweeps, CNNs, SSIM tables): 16 MiB.
MAX_INPUT_BYTES = 16 * 2**20
#: Largest result table read back (``plot``, sweep tables), bytes: 2 GiB.
MAX_RESULT_BYTES = 2 * 2**30


def _size_text(limit: int) -> str:
    return f"{limit / 2**30:g} GiB" if limit >= 2**30 else f"{limit / 2**20:g} MiB"


def read_bytes(path: str | Path, *, limit: int = MAX_INPUT_BYTES, what: str = "file") -> bytes:
    """The bytes of ``path``, at most ``limit`` of them, or an :class:`InputError` naming the file."""
    name = str(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise InputError("file not found", file=name) from None
    except IsADirectoryError:
        raise InputError(f"expected a {what}, got a directory", file=name) from None
    except OSError as exc:
        raise InputError(f"cannot read the {what}: {exc.strerror or exc}", file=name) from None
    if len(data) > limit:
        raise InputError(f"the {what} is larger than {_size_text(limit)}; expected a smaller file", file=name)
    return data


def read_text(path: str | Path, *, limit: int = MAX_INPUT_BYTES, what: str = "file") -> str:
    """UTF-8 text of ``path`` (a leading byte-order mark dropped), at most ``limit`` bytes."""
    data = read_bytes(path, limit=limit, what=what)
    if b"\0" in data:
        raise InputError(f"cannot read the {what}: binary data (NUL bytes), expected text", file=str(path))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"cannot read the {what}: not UTF-8 text (byte {exc.start})", file=str(path)) from None
