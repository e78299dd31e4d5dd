"""Reading user files safely: a size limit, UTF-8 with or without a byte-order mark, YAML without aliases.

Every file a user hands to distsim (scenario, sweep, CNN declaration, SSIM
table, result folders given to ``plot``) is read through :func:`read_text`,
so an endless file (``/dev/zero``), a huge one, a directory, a binary file or
a missing one ends in one :class:`~distsim.errors.InputError` instead of a
hang, a MemoryError or a traceback. YAML is parsed by :func:`parse_yaml`,
which refuses anchors' aliases (``*name``): an alias bomb (a few lines that
expand to billions of nodes) cannot be written without them, and no
scenario needs them. It also reads ``1e9`` and ``4.0e7`` as numbers, as
YAML 1.2 does (PyYAML alone reads them as text).

This is a leaf utility (stdlib; PyYAML imported when YAML is parsed).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

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


_FLOAT_12 = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)


def _loader() -> type:
    import yaml

    class Loader(yaml.SafeLoader):
        """Safe loading without aliases, with YAML 1.2 floats."""

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise yaml.composer.ComposerError(
                    None, None, "YAML aliases (*name) are not accepted; write the value out", event.start_mark
                )
            return super().compose_node(parent, index)

    # Copy the resolver table before adding to it, so SafeLoader itself is unchanged.
    Loader.yaml_implicit_resolvers = {k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_12, list("-+0123456789."))
    return Loader


_LOADER: list[type] = []


def parse_yaml(text: str, *, file: str | None = None) -> Any:
    """Parse YAML text (no aliases); a syntax error is an :class:`InputError` with its line and column."""
    import yaml

    if not _LOADER:
        _LOADER.append(_loader())
    try:
        return yaml.load(text, Loader=_LOADER[0])
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else None
        problem = getattr(exc, "problem", None) or "malformed YAML"
        raise InputError(f"malformed YAML: {problem}", file=file, field=where) from None
    except RecursionError:
        raise InputError("malformed YAML: nested too deeply", file=file) from None


def load_yaml(path: str | Path, *, what: str = "YAML file") -> Any:
    """Read and parse a YAML file with :func:`read_text` and :func:`parse_yaml`."""
    return parse_yaml(read_text(path, what=what), file=str(path))
