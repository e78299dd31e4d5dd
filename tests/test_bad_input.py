"""Hardened input (issue 10.3): every bad-input kind is one line, exit 2, nothing written."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from distsim.cli import main
from distsim.fields import MAX_BUDGET, MAX_DEVICES, MAX_REQUESTS
from distsim.reading import read_text
from distsim.scenario import parse_yaml
from tests.conftest import scenario_dict

NAN, INF = float("nan"), float("inf")

#: (case, top-level overrides, field path in the message, words in the message)
BAD: list[tuple[str, dict[str, Any], str, str]] = [
    ("nan rate", {"workload": {"requests": 3, "rate_per_s": NAN}}, "workload.rate_per_s", "finite"),
    ("infinite rate", {"workload": {"requests": 3, "rate_per_s": INF}}, "workload.rate_per_s", "finite"),
    ("nan window", {"budgets": {"window_s": NAN}}, "budgets.window_s", "finite"),
    ("infinite window", {"budgets": {"window_s": INF}}, "budgets.window_s", "finite"),
    ("nan tau", {"privacy": {"max_ssim": NAN}}, "privacy.max_ssim", "finite"),
    ("nan weight", {"sources": [{"cnn": "lenet", "weight": NAN}]}, "sources.0.weight", "finite"),
    ("nan mix", {"participants": {"total": 4, "mix": {"rpi3": NAN}}}, "participants.mix.rpi3", "finite"),
    ("nan interval", {"simulation": {"retry": {"interval_s": NAN}}}, "simulation.retry.interval_s", "finite"),
    ("nan alpha", {"scheduler": {"name": "distprivacy", "params": {"alpha": NAN}}}, "scheduler.params.alpha", "finite"),
    ("infinite beta", {"scheduler": {"params": {"beta": INF}}}, "scheduler.params.beta", "finite"),
    (
        "nan position",
        {"network": {"topology": "geometric", "range_m": 10, "positions": {"p0": [NAN, 1.0]}}},
        "network.positions.p0.0",
        "finite",
    ),
    ("infinite range", {"network": {"topology": "geometric", "range_m": INF}}, "network.range_m", "finite"),
    ("mobility on a full mesh", {"network": {"mobility": {"speed_mps": [1, 2]}}}, "network", "geometric"),
    (
        "mobility speeds reversed",
        {"network": {"topology": "geometric", "range_m": 10, "mobility": {"speed_mps": [2, 1]}}},
        "network.mobility",
        "min <= max",
    ),
    (
        "zero mobility speed",
        {"network": {"topology": "geometric", "range_m": 10, "mobility": {"speed_mps": [0, 1]}}},
        "network.mobility.speed_mps.0",
        "greater than 0",
    ),
    (
        "rate table out of order",
        {
            "network": {
                "topology": "geometric",
                "range_m": 10,
                "rate_tables": {"802.11n": [{"up_to_m": 5, "rate_bps": 1e6}, {"up_to_m": 5, "rate_bps": 2e6}]},
            }
        },
        "network",
        "strictly increasing",
    ),
    (
        "rate table of an unknown radio",
        {
            "network": {
                "topology": "geometric",
                "range_m": 10,
                "rate_tables": {"wifi7": [{"up_to_m": 5, "rate_bps": 1e6}]},
            }
        },
        "network.rate_tables.wifi7",
        "unknown radio",
    ),
    ("bool as integer", {"workload": {"requests": True, "rate_per_s": 1.0}}, "workload.requests", "integer"),
    ("bool as count", {"sources": [{"cnn": "lenet", "count": True}]}, "sources.0.count", "integer"),
    ("bool as float", {"workload": {"requests": 3, "rate_per_s": True}}, "workload.rate_per_s", "number"),
    ("int as bool", {"network": {"shared_channel": 1}}, "network.shared_channel", "boolean"),
    ("text as number", {"budgets": {"window_s": "5"}}, "budgets.window_s", "number"),
    ("fractional count", {"participants": {"total": 2.5}}, "participants.total", "integer"),
    ("huge camera count", {"sources": [{"cnn": "lenet", "count": 10**8}]}, "sources.0.count", str(MAX_DEVICES)),
    ("huge fleet", {"participants": {"total": 10**9}}, "participants.total", str(MAX_DEVICES)),
    (
        "fleet over the bound in all",
        {"sources": [{"cnn": "lenet", "count": MAX_DEVICES}], "participants": {"total": 1}},
        "",
        f"at most {MAX_DEVICES} devices",
    ),
    ("huge request count", {"workload": {"requests": 10**12, "rate_per_s": 1.0}}, "workload.requests", "less than"),
    ("budget beyond int64", {"devices": {"rpi3": {"compute_budget_mults": 2**70}}}, "devices.rpi3", "less than"),
    (
        "derived budget too large",
        {"devices": {"rpi3": {"mults_per_s": 1e15}}, "budgets": {"window_s": 1e6}},
        "budgets.window_s",
        f"{MAX_BUDGET:.3g}",
    ),
    ("huge seed", {"simulation": {"seed": 2**64}}, "simulation.seed", "less than"),
    ("huge attempts", {"simulation": {"retry": {"max_attempts": 10**12}}}, "simulation.retry.max_attempts", "less"),
    ("name dotdot", {"name": ".."}, "name", "folder name"),
    ("name dot", {"name": "."}, "name", "folder name"),
    ("name with separator", {"name": "a/b"}, "name", "path separators"),
    ("name with newline", {"name": "a\nb"}, "name", "control characters"),
    ("name option-like", {"name": "-rf"}, "name", "'-'"),
    (
        "nan solver time limit",
        {"scheduler": {"name": "exact", "params": {"time_limit_s": NAN}}},
        "scheduler.params.time_limit_s",
        "finite",
    ),
    (
        "infinite solver work limit",
        {"scheduler": {"name": "exact", "params": {"work_limit": INF}}},
        "scheduler.params.work_limit",
        "finite",
    ),
    ("nan wall budget", {"simulation": {"seed": 3, "max_wall_s": NAN}}, "simulation.max_wall_s", "finite"),
    (
        "override for a type the fleet lacks",
        {"participants": {"total": 4, "mix": {"rpi3": 1}}, "devices": {"nexus5": {"mults_per_s": 1e9}}},
        "devices.nexus5",
        "no device of type 'nexus5'",
    ),
]


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _yaml(data: dict[str, Any]) -> str:
    # yaml.safe_dump writes .nan / .inf, which YAML reads back as floats.
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def assert_one_line(status: int, err: str, *words: str) -> None:
    lines = err.strip().splitlines()
    assert status == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for word in words:
        assert word in err, err


@pytest.mark.parametrize(("case", "mutation", "field", "words"), BAD, ids=[b[0] for b in BAD])
def test_bad_value_is_one_line_and_writes_nothing(
    case: str, mutation: dict[str, Any], field: str, words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(_yaml(scenario_dict(**copy.deepcopy(mutation))), encoding="utf-8")
    out_dir = tmp_path / "out"
    for command in (["validate", str(path)], ["run", str(path), "--out", str(out_dir)]):
        status, _, err = run_cli(command, capsys)
        assert_one_line(status, err, "bad.yaml", field, words)
    assert not out_dir.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


def test_scientific_notation_reads_as_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``4.0e7`` and ``2e8`` are numbers (YAML 1.2), and an integral float is accepted for an integer."""
    text = _yaml(scenario_dict()) + "devices:\n  stm32h7: {mults_per_s: 4.0e7, compute_budget_mults: 2.0e8}\n"
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    status, _, err = run_cli(["validate", str(path)], capsys)
    assert status == 0, err
    assert parse_yaml("a: 1e9\nb: -2.5E-3\nc: 7\nd: '1e9'\n") == {"a": 1e9, "b": -2.5e-3, "c": 7, "d": "1e9"}


def test_yaml_alias_bomb_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    for k in range(1, 9):
        bomb += f"{chr(97 + k)}: &{chr(97 + k)} [" + ",".join([f"*{chr(96 + k)}"] * 9) + "]\n"
    path = tmp_path / "bomb.yaml"
    path.write_text(bomb, encoding="utf-8")
    status, _, err = run_cli(["validate", str(path)], capsys)
    assert_one_line(status, err, "bomb.yaml", "aliases", "line 2")


def test_endless_and_huge_files_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if Path("/dev/zero").exists():
        status, _, err = run_cli(["validate", "/dev/zero"], capsys)
        assert_one_line(status, err, "/dev/zero", "larger than")
    big = tmp_path / "big.yaml"
    with open(big, "wb") as handle:
        handle.truncate(17 * 2**20)
    status, _, err = run_cli(["run", str(big), "--out", str(tmp_path / "o")], capsys)
    assert_one_line(status, err, "big.yaml", "larger than 16 MiB")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("data", "words"),
    [(b"\xff\xfename: x\n", "not UTF-8"), (b"name: \0x\n", "binary"), (b"[" * 100_000, "")],
)
def test_binary_and_deep_files_are_one_line(
    data: bytes, words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "odd.yaml"
    path.write_bytes(data)
    status, _, err = run_cli(["validate", str(path)], capsys)
    assert_one_line(status, err, "odd.yaml", words)


def test_directory_and_missing_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run_cli(["validate", str(tmp_path)], capsys)
    assert_one_line(status, err, "got a directory")
    status, _, err = run_cli(["validate", str(tmp_path / "nope.yaml")], capsys)
    assert_one_line(status, err, "nope.yaml", "file not found")


def test_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfcnn,layer\n")
    assert read_text(path) == "cnn,layer\n"


def test_every_bound_is_documented() -> None:
    import distsim.fields as fields

    text = (Path(__file__).resolve().parent.parent / "docs" / "scenarios.md").read_text(encoding="utf-8")
    bounds = [name for name in fields.__all__ if name.startswith("MAX_")]
    assert bounds and all(f"(`{name}`" in text for name in bounds), bounds
    assert f"{MAX_REQUESTS:,}" in text and f"{MAX_DEVICES:,}" in text


# -- every command: outputs, late errors, pipes, foreign folders, Dask addresses -------------------------
QUICK = {**scenario_dict(), "simulation": {"seed": 3, "timing": "contention"}}


def _scenario(tmp_path: Path) -> str:
    path = tmp_path / "s.yaml"
    path.write_text(_yaml(QUICK), encoding="utf-8")
    return str(path)


def _listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--gantt", "{tmp}/g.xyz"], "expected a file ending in .pdf, .svg, .png"),
        (["--gantt", "{tmp}/g.png", "--window", "nan", "1"], "--window"),
        (["--gantt", "{tmp}/g.png", "--window", "2", "1"], "--window"),
        (["--trace", "{tmp}/missing/t.json"], "does not exist"),
        (["--series", "{tmp}/missing/s.csv"], "does not exist"),
        (["--trace", "{tmp}"], "it is a folder"),
        (["--trace", "/dev/null"], "not a regular file"),
        (["--out", "{tmp}/s.yaml"], "is a file"),
        (["--out", "{tmp}/s.yaml/sub"], "it is a file"),
        (["--seed", str(2**64)], "--seed"),
        (["--gantt-rows", "0"], "--gantt-rows"),
    ],
)
def test_run_refuses_bad_outputs_before_writing(
    extra: list[str], words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = _scenario(tmp_path)
    before = _listing(tmp_path)
    argv = ["run", scenario, *[a.replace("{tmp}", str(tmp_path)) for a in extra]]
    if "--out" not in extra:
        argv += ["--out", str(tmp_path / "out")]
    status, _, err = run_cli(argv, capsys)
    assert_one_line(status, err, words)
    assert _listing(tmp_path) == before, "nothing may be written"


def _as_nobody(argv: list[str]) -> tuple[int, str]:
    """Run ``distsim argv`` in a forked child without root's privileges (uid/gid 65534); its (status, stderr).

    Root may write into any folder whatever its mode, so as root the read-only
    folder case is only a real case for an unprivileged user. The child is a
    fork of this (already importing) interpreter, so it needs no access to
    files root keeps private (such as an interpreter under /root).
    """
    import contextlib
    import io
    import json
    import os

    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child; the parent asserts on what it reports
        status, err = -1, ""
        try:
            os.close(reader)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            buffer = io.StringIO()
            with contextlib.redirect_stderr(buffer), contextlib.redirect_stdout(io.StringIO()):
                status = main(argv)
            err = buffer.getvalue()
        except BaseException as exc:
            err = f"child failed: {exc!r}"
        finally:
            os.write(writer, json.dumps([status, err]).encode())
            os._exit(0)
    os.close(writer)
    with os.fdopen(reader, "rb") as handle:
        data = handle.read()
    os.waitpid(pid, 0)
    status, err = json.loads(data)
    return int(status), str(err)


def test_read_only_folder_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """An output folder inside a folder nobody may write to: one line, exit 2, nothing written.

    As root (CI containers) the command runs as an unprivileged user, because root writes anywhere.
    """
    import os
    import shutil
    import tempfile

    root = os.geteuid() == 0
    # A folder an unprivileged user can reach (pytest's own base folder is root's only).
    top = Path(tempfile.mkdtemp(prefix="distsim-ro-"))
    try:
        top.chmod(0o755)
        scenario = top / "s.yaml"
        scenario.write_text(_yaml(QUICK), encoding="utf-8")
        scenario.chmod(0o644)
        argv = ["run", str(scenario), "--out", str(top / "ro" / "out")]
        if root:
            # Warm up: the child must find every module already imported (it may not read root's files).
            status, _, err = run_cli(["run", str(scenario), "--out", str(top / "warm")], capsys)
            assert status == 0, err
        locked = top / "ro"
        locked.mkdir()
        locked.chmod(0o555)
        if root:
            status, err = _as_nobody(argv)
        else:
            status, _, err = run_cli(argv, capsys)
        assert_one_line(status, err, f"{locked / 'out'}: --out: cannot write into {locked}: permission denied")
        assert list(locked.iterdir()) == []
    finally:
        if (top / "ro").exists():
            (top / "ro").chmod(0o755)
        shutil.rmtree(top, ignore_errors=True)


def test_proc_and_sys_outputs_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Outputs under /proc or /sys (not writable even to root): one line, exit 2."""
    scenario = _scenario(tmp_path)
    for argv in (
        ["run", scenario, "--out", "/proc/distsim-out"],
        ["run", scenario, "--no-write", "--trace", "/proc/distsim-trace.json"],
        ["run", scenario, "--out", "/sys/distsim-out"],
    ):
        if not Path(argv[-1]).parent.is_dir():
            continue  # no /proc or /sys on this system
        status, _, err = run_cli(argv, capsys)
        assert_one_line(status, err, argv[-1])
        assert not Path(argv[-1]).exists()


def test_full_disk_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import errno

    import distsim.commands.run as run_command

    def full(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "out"))

    monkeypatch.setattr(run_command, "simulate", full)
    status, _, err = run_cli(["run", _scenario(tmp_path), "--out", str(tmp_path / "out")], capsys)
    assert_one_line(status, err, "No space left on device")


def test_closed_stdout_is_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    argv = [sys.executable, "-m", "distsim", "catalog", "cnns"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader goes away before distsim writes
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 2
    assert_one_line(2, err, "standard output was closed")


@pytest.mark.parametrize("corrupt", ["truncated", "binary", "foreign", "bad manifest", "no manifest"])
def test_plot_on_broken_folders_is_one_line(corrupt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "res"
    folder.mkdir()
    (folder / "sweep.json").write_text('{"params": ["privacy.max_ssim"], "keep_latencies": true}', encoding="utf-8")
    header = "point,replication,seed,privacy.max_ssim,served\n"
    if corrupt == "truncated":
        (folder / "results.csv").write_text(header + "0,0,1,0.4,3\n1,0,", encoding="utf-8")
    elif corrupt == "binary":
        (folder / "results.csv").write_bytes(b"\x99\xff" * 100)
    elif corrupt == "foreign":
        (folder / "results.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    elif corrupt == "bad manifest":
        (folder / "sweep.json").write_text("{bad", encoding="utf-8")
    else:
        (folder / "sweep.json").unlink()
    for kind in ([], ["--kind", "cdf"]):
        status, _, err = run_cli(["plot", str(folder), *kind], capsys)
        assert_one_line(status, err, "res")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "requests.csv").write_text("latency_s,dropped\nabc,false\n", encoding="utf-8")
    status, _, err = run_cli(["plot", str(run_dir), "--kind", "cdf"], capsys)
    assert_one_line(status, err, "no manifest.json")
    from distsim.io import write_manifest

    write_manifest(run_dir, {"kind": "run"})  # a manifest that matches: the row itself is refused
    status, _, err = run_cli(["plot", str(run_dir), "--kind", "cdf"], capsys)
    assert_one_line(status, err, "malformed row")
    assert not (folder / "plots").exists() and not (run_dir / "plots").exists()


def test_bench_refuses_an_unwritable_out_before_running(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("x", encoding="utf-8")
    status, _, err = run_cli(["bench", "perf", "--quick", "--out", str(tmp_path / "file" / "o")], capsys)
    assert_one_line(status, err, "--out", "it is a file")


@pytest.mark.parametrize("address", ["notanaddress", "http://host:1", "tcp://host:99999", "tcp://:8786"])
def test_malformed_dask_address_is_one_line(address: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(_yaml({"base": scenario_dict(), "grid": {"privacy.max_ssim": [0.5]}}), encoding="utf-8")
    status, _, err = run_cli(["sweep", str(sweep), "--dask", address, "--out", str(tmp_path / "o")], capsys)
    assert_one_line(status, err, "--dask")
    assert not (tmp_path / "o").exists()


def test_a_port_that_is_not_dask_fails_within_the_bound() -> None:
    import socket
    import threading
    import time

    from distsim.errors import InputError
    from distsim.experiments.runner import connect_dask

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(server.accept()[0]), daemon=True).start()
    started = time.monotonic()
    with pytest.raises(InputError, match="cannot reach the Dask scheduler"):
        connect_dask(f"tcp://127.0.0.1:{server.getsockname()[1]}", timeout_s=1.0)
    assert time.monotonic() - started < 10
    server.close()
    for conn in accepted:
        conn.close()


def test_a_real_dask_scheduler_is_accepted() -> None:
    distributed = pytest.importorskip("distributed")
    from distsim.experiments.runner import connect_dask

    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=None) as cluster:
        client = connect_dask(cluster.scheduler_address)
        try:
            assert client.scheduler_info()["type"] == "Scheduler"
        finally:
            client.close()


def test_override_for_a_type_the_fleet_lacks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = scenario_dict(participants={"total": 4, "mix": {"rpi3": 1}}, devices={"nexus5": {"cores": 2}})
    path = tmp_path / "s.yaml"
    path.write_text(_yaml(data), encoding="utf-8")
    status, _, err = run_cli(["validate", str(path)], capsys)
    assert_one_line(status, err, "devices.nexus5", "no device of type 'nexus5'")
