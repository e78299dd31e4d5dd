"""No process of a sweep outlives its parent, and SIGTERM ends a sweep like Ctrl-C (issue 17.3).

The kill tests start ``distsim sweep --jobs 2`` in a new session, wait until
one run is finished and both workers are busy with long runs, kill the parent,
and list every process of that session from ``/proc``: the parent, the
forkserver, multiprocessing's resource tracker and the workers must all be gone
(zombies waiting for a reaper count as gone) within a bounded wait.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from multiprocessing import Pipe
from pathlib import Path

import pytest

from distsim.experiments import workers
from distsim.experiments.runner import RUNS_DIR, make_tasks, run_file_name
from distsim.experiments.spec import load_sweep
from tests.conftest import ROOT

PROC = Path("/proc")
needs_proc = pytest.mark.skipif(not (PROC / "self" / "stat").exists(), reason="lists processes through /proc (Linux)")

#: Point 0 finishes in well under a second; points 1 and 2 would run for minutes.
SLOW_SWEEP = f"""\
name: kill-me
base: {ROOT / "scenarios" / "quickstart.yaml"}
grid:
  workload.requests: [40, 1000000, 1000000]
replications: 1
"""
#: Longest wait for the first run, and for the sweep's processes to go after the kill, s.
START_S = 120.0
GONE_S = 10.0


def session_members(sid: int) -> dict[int, str]:
    """pid -> command name of every live (not zombie) process of session ``sid``."""
    members = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        state, _ppid, _pgrp, session = stat[stat.rindex(")") + 2 :].split()[:4]
        if int(session) == sid and state != "Z":
            members[int(entry.name)] = name
    return members


def wait_gone(sid: int, timeout_s: float) -> dict[int, str]:
    """Poll until no live process of ``sid`` is left or ``timeout_s`` passed; returns the survivors."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = session_members(sid)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


@pytest.fixture
def sweep_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path, Path]]:
    """A running ``--jobs 2`` sweep (its own session), once its first run is saved; killed afterwards."""
    sweep_file = tmp_path / "kill.yaml"
    sweep_file.write_text(SLOW_SWEEP, encoding="utf-8")
    out = tmp_path / "out"
    log = tmp_path / "stderr.txt"
    argv = ["sweep", str(sweep_file), "--jobs", "2", "--no-progress", "--out", str(out)]
    with open(log, "wb") as err:
        parent = subprocess.Popen(
            [sys.executable, "-m", "distsim", *argv],
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
    try:
        first = out / RUNS_DIR / run_file_name(0, 0)
        deadline = time.monotonic() + START_S
        while not first.exists():
            assert parent.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the sweep saved no run in time"
            time.sleep(0.05)
        yield parent, out, log
    finally:
        # Whatever the outcome, leave nothing running: kill what this test started, by pid.
        for pid in session_members(parent.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        parent.wait(timeout=GONE_S)


def _busy_pool(parent: subprocess.Popen[bytes]) -> dict[int, str]:
    members = session_members(parent.pid)
    # The parent, the forkserver, the resource tracker and two busy workers.
    assert len(members) >= 4, members
    return members


@needs_proc
def test_sigkill_of_the_parent_leaves_no_process(sweep_process: tuple[subprocess.Popen[bytes], Path, Path]) -> None:
    parent, _out, _log = sweep_process
    _busy_pool(parent)
    os.kill(parent.pid, signal.SIGKILL)
    assert parent.wait(timeout=GONE_S) == -signal.SIGKILL
    assert wait_gone(parent.pid, GONE_S) == {}


@needs_proc
def test_sigterm_is_handled_like_ctrl_c(sweep_process: tuple[subprocess.Popen[bytes], Path, Path]) -> None:
    parent, out, log = sweep_process
    _busy_pool(parent)
    os.kill(parent.pid, signal.SIGTERM)
    assert parent.wait(timeout=GONE_S) == 143
    assert wait_gone(parent.pid, GONE_S) == {}
    text = log.read_text(encoding="utf-8")
    assert "terminated" in text.splitlines() and "Traceback" not in text, text
    # The finished run is kept, whole and with its key (so the same command resumes it); the runs in
    # flight were abandoned: no file, no temporary file, and no tables from an unfinished sweep.
    (task, *_rest) = make_tasks(load_sweep(out.parent / "kill.yaml", out_dir=str(out)))
    runs = sorted(p.name for p in (out / RUNS_DIR).iterdir())
    assert runs == [run_file_name(0, 0)]
    assert json.loads((out / RUNS_DIR / runs[0]).read_text(encoding="utf-8"))["key"] == task.key
    assert not (out / "results.csv").exists()


def _probe(_: int) -> tuple[int | None, bool, bool]:
    """In a worker: its parent-death signal, whether SIGINT is ignored, whether the parent watch runs."""
    import threading

    watching = any(t.name == "distsim-parent-watch" for t in threading.enumerate())
    return workers.parent_death_signal(), signal.getsignal(signal.SIGINT) == signal.SIG_IGN, watching


def test_workers_are_set_up_to_die_with_the_parent() -> None:
    """Each worker has SIGKILL as its parent-death signal (Linux), ignores SIGINT and runs the parent watch;
    closing the stream after the first results returns (the queued items are cancelled)."""
    stream = workers.run_local(_probe, range(6), 2, order=lambda r: 0)
    expected_signal = signal.SIGKILL if sys.platform.startswith("linux") else None
    assert [next(stream), next(stream)] == [(expected_signal, True, True)] * 2
    stream.close()


def test_parent_death_signal_calls() -> None:
    current = workers.parent_death_signal()
    if sys.platform.startswith("linux"):
        assert current is not None
        # Setting the value it already has changes nothing for this test process.
        assert workers.set_parent_death_signal(current)
        assert workers.parent_death_signal() == current
    else:
        assert current is None and not workers.set_parent_death_signal()


def test_watch_parent_fires_when_the_pipe_ends() -> None:
    reader, writer = Pipe(duplex=False)
    fired: list[bool] = []
    thread = workers.watch_parent(reader, on_death=lambda: fired.append(True))
    time.sleep(0.05)
    assert thread.is_alive() and not fired
    writer.close()
    thread.join(timeout=5)
    assert fired == [True]
