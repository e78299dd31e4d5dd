"""Local worker processes that never outlive the process that started them.

:func:`run_local` runs a function over items in a
``concurrent.futures.ProcessPoolExecutor`` (forkserver start method where the
platform has it, else spawn) and yields the results as they finish. Three
rules make the pool safe to kill:

- **The parent's death ends every worker, SIGKILL included.** Each worker
  holds the read end of a pipe whose only write end stays in the parent, and
  a daemon thread in the worker blocks on it. When the parent dies the kernel
  closes that end, the read returns end-of-file, and the worker exits at once
  (``os._exit``) even in the middle of a run. This watch is portable (any
  POSIX system, Windows). On Linux each worker also asks the kernel for
  ``SIGKILL`` when its *direct* parent dies (``prctl(PR_SET_PDEATHSIG)``
  through ctypes): under the forkserver start method the direct parent is
  the forkserver, so this covers the launcher being killed on its own; under
  spawn it is the parent itself. The forkserver and multiprocessing's
  resource tracker exit by themselves once no worker holds their pipes, so
  nothing of the pool survives its parent (``tests/test_kill.py`` kills the
  parent of a ``--jobs 2`` sweep with SIGKILL and SIGTERM and checks every
  process of its session is gone within seconds).
- **Only the parent handles Ctrl-C.** Workers ignore SIGINT (a terminal sends
  it to the whole process group); the parent decides what to abandon.
- **Leaving early abandons the runs in flight.** When the consumer stops
  iterating (an exception, ``KeyboardInterrupt``, SIGTERM turned into one by
  the CLI, or ``close()``), the parent cancels the queued items and closes the
  watch pipe, so the busy workers exit without finishing; results already
  handed over are the caller's to keep.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from multiprocessing.connection import Connection
from typing import Any, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

#: ``prctl`` options (``<linux/prctl.h>``).
PR_SET_PDEATHSIG = 1
PR_GET_PDEATHSIG = 2
#: Exit status of a worker whose parent went away.
ORPHAN_EXIT = 70


def _libc() -> Any:
    """The C library through ctypes (the symbols the interpreter is linked with), or None."""
    try:
        # CDLL(None): the running program's symbols, libc's prctl among them on Linux; no
        # ctypes.util.find_library, which would start ldconfig in every worker.
        return ctypes.CDLL(None, use_errno=True)
    except OSError:  # pragma: no cover - every Linux interpreter is linked with a libc
        return None


def set_parent_death_signal(signum: int = signal.SIGKILL if hasattr(signal, "SIGKILL") else 9) -> bool:
    """Ask the kernel to send ``signum`` to this process when its parent dies (Linux only).

    Returns True if the request was made, False on other systems or if
    ``prctl`` failed (the pipe watch of :func:`watch_parent` still applies).
    """
    if not sys.platform.startswith("linux"):
        return False
    libc = _libc()
    if libc is None:  # pragma: no cover
        return False
    return int(libc.prctl(PR_SET_PDEATHSIG, ctypes.c_ulong(signum), 0, 0, 0)) == 0


def parent_death_signal() -> int | None:
    """The signal this process gets when its parent dies (0: none), or None off Linux."""
    if not sys.platform.startswith("linux"):
        return None
    libc = _libc()
    if libc is None:  # pragma: no cover
        return None
    value = ctypes.c_int(0)
    if int(libc.prctl(PR_GET_PDEATHSIG, ctypes.byref(value), 0, 0, 0)) != 0:  # pragma: no cover
        return None
    return value.value


def watch_parent(lifeline: Connection, on_death: Callable[[], None] | None = None) -> threading.Thread:
    """Start a daemon thread that calls ``on_death`` (default: ``os._exit``) when ``lifeline`` ends.

    ``lifeline`` is the read end of a one-way pipe whose write end only the
    parent holds; nothing is ever sent on it, so the read returns only when
    the parent closes its end or dies.
    """

    def exit_now() -> None:
        os._exit(ORPHAN_EXIT)

    action = on_death or exit_now

    def watch() -> None:
        with contextlib.suppress(EOFError, OSError):
            lifeline.recv_bytes()
        action()

    thread = threading.Thread(target=watch, name="distsim-parent-watch", daemon=True)
    thread.start()
    return thread


def init_worker(lifeline: Connection) -> None:
    """Worker initializer: die with the parent (pipe watch, and PDEATHSIG on Linux); ignore SIGINT."""
    set_parent_death_signal()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    watch_parent(lifeline)


def mp_context() -> multiprocessing.context.BaseContext:
    """forkserver where available, else spawn: workers start clean (no inherited threads or open files)."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def run_local(
    fn: Callable[[Item], Result],
    items: Iterable[Item],
    jobs: int,
    order: Callable[[Result], Any],
) -> Generator[Result, None, None]:
    """Yield ``fn(item)`` for every item, computed in ``jobs`` worker processes, as they finish.

    Results that finish together are handed over sorted by ``order`` (a
    deterministic order among simultaneous finishes). Closing the generator
    early (or an exception in the consumer) abandons the runs in flight: see
    the module docstring. A worker's exception is raised here.
    """
    work = list(items)
    reader, writer = multiprocessing.Pipe(duplex=False)
    pool = ProcessPoolExecutor(
        max_workers=max(1, min(jobs, len(work))),
        mp_context=mp_context(),
        initializer=init_worker,
        initargs=(reader,),
    )
    finished_all = False
    try:
        pending: set[Future[Result]] = {pool.submit(fn, item) for item in work}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=lambda f: order(f.result())):
                yield future.result()
        finished_all = True
    finally:
        if not finished_all:
            # Abandon: the busy workers see the pipe end and exit without finishing their run.
            writer.close()
        pool.shutdown(wait=True, cancel_futures=True)
        writer.close()
        reader.close()
