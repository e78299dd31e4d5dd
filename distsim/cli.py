"""The ``distsim`` command line: a thin shell over the Python API.

Every command turns bad input into one line ``error: <file>: <field>: <what
was expected>`` on standard error and exit status 2, never a traceback.
Subcommands live in their own modules; each exposes ``register(subparsers)``
that adds its parser and sets ``func`` to a callable taking the parsed
arguments and returning an exit status.

Ctrl-C (SIGINT) and SIGTERM end a command the same way: the work in flight is
abandoned (a sweep's busy workers exit without finishing their run), what was
already saved stays (a sweep's finished runs, so the same command resumes),
nothing half-written is left, and ``distsim`` prints one line (``interrupted``
or ``terminated``) and exits with status 130 (SIGINT) or 143 (SIGTERM),
``128 + signal number`` as shells report it. A second SIGTERM during that
clean-up is ignored.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from types import FrameType

from distsim.errors import InputError

#: Modules contributing subcommands, in the order ``--help`` lists them.
COMMAND_MODULES = (
    "distsim.commands.run",
    "distsim.commands.catalog",
    "distsim.commands.sweep",
    "distsim.commands.plot",
    "distsim.commands.report",
    "distsim.commands.bench",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every subcommand."""
    parser = _Parser(prog="distsim", description="Simulate privacy-aware distributed CNN inference on IoT devices.")
    from distsim import __version__

    parser.add_argument("--version", action="version", version=f"distsim {__version__}")
    loud = parser.add_mutually_exclusive_group()
    loud.add_argument("-v", "--verbose", action="count", default=0, help="log more (-v: info, -vv: debug) on stderr")
    loud.add_argument("-q", "--quiet", action="store_true", help="log errors only; no progress bars")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


#: Exit statuses of a command ended by Ctrl-C and by SIGTERM (128 + signal number).
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread where Ctrl-C raises ``KeyboardInterrupt``, so both unwind alike."""


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While the block runs, SIGTERM raises :class:`Terminated` in the main thread (once; later ones are ignored).

    Outside the main thread (where Python cannot set handlers) it does nothing.
    The previous handler is restored afterwards.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, frame: FrameType | None) -> None:
        # The clean-up this starts must not itself be cut short by a repeated SIGTERM.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``distsim``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose, args.quiet)
    try:
        with sigterm_as_interrupt():
            status: int = args.func(args)
            sys.stdout.flush()
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (``distsim run x | head -1``): say so once, and let the
        # interpreter's final flush of stdout write nowhere instead of raising again.
        _silence_stdout()
        print("error: standard output was closed before distsim finished writing to it", file=sys.stderr)
        return 2
    except OSError as exc:
        # A user-caused failure the checks could not foresee: a full disk, a file system gone read-only.
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except Terminated:
        print("terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return status


def configure_logging(verbose: int = 0, quiet: bool = False) -> None:
    """Log records of ``distsim.*`` to stderr: warnings by default, info with -v, debug with -vv, errors with -q."""
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logger = logging.getLogger("distsim")
    logger.setLevel(level)
    if not any(isinstance(h, _Stderr) for h in logger.handlers):
        handler = _Stderr()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)


class _Stderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record comes (tests and notebooks replace it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    raise SystemExit(main())
