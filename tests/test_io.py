"""distsim.io: atomic files, one permission policy, one CSV cell format, strict JSON, atomic folders, manifests."""

from __future__ import annotations

import json
import math
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from distsim import io as dio
from distsim.errors import InputError
from distsim.run import simulate
from distsim.scenario import scenario_from_dict
from tests.conftest import scenario_dict


@pytest.fixture
def umask_027() -> Iterator[None]:
    old = os.umask(0o027)
    try:
        yield
    finally:
        os.umask(old)


def test_files_and_folders_follow_the_umask(tmp_path: Path, umask_027: None) -> None:
    path = dio.write_text(tmp_path / "a.txt", "x")
    assert path.stat().st_mode & 0o777 == 0o640
    with dio.atomic_path(tmp_path / "b.bin", suffix=".bin") as tmp:
        tmp.write_bytes(b"1")
    assert (tmp_path / "b.bin").stat().st_mode & 0o777 == 0o640
    staging = dio.stage_dir(tmp_path / "out")
    assert staging.stat().st_mode & 0o777 == 0o750
    dio.write_text(staging / "f", "1")
    dio.publish_dir(staging, tmp_path / "out")
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o750
    # A run folder and its files get the same policy as any other output (they used to end 0700).
    run = simulate(scenario_from_dict(scenario_dict()), out_dir=tmp_path / "run")
    assert run.out_dir is not None and run.out_dir.stat().st_mode & 0o777 == 0o750
    assert {p.stat().st_mode & 0o777 for p in run.out_dir.iterdir()} == {0o640}


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), dio.atomic_path(tmp_path / "x.csv") as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_one_cell_format() -> None:
    assert [dio.cell(v) for v in (True, False, None, math.nan, 0.1, 3, "a", {"b": 1}, [1, 2])] == [
        "true",
        "false",
        "",
        "",
        "0.1",
        "3",
        "a",
        '{"b": 1}',
        "[1, 2]",
    ]
    assert dio.csv_text(["a", "b"], [[1, True], {"a": 2.5, "b": None}]) == "a,b\n1,true\n2.5,\n"


def test_strict_json_never_writes_nan_or_infinity() -> None:
    data = {"a": math.inf, "b": [-math.inf, math.nan, 1.5], "c": {"d": float("nan")}}
    for text in (dio.json_text(data), dio.compact_json(data)):
        assert "Infinity" not in text and "NaN" not in text
        assert json.loads(text, parse_constant=lambda name: pytest.fail(name)) == {
            "a": None,
            "b": [None, None, 1.5],
            "c": {"d": None},
        }


def test_manifest_detects_a_changed_or_missing_file(tmp_path: Path) -> None:
    dio.write_text(tmp_path / "a.csv", "1\n")
    (tmp_path / "sub").mkdir()
    dio.write_text(tmp_path / "sub" / "b.json", "{}")
    dio.write_manifest(tmp_path, {"kind": "test"})
    manifest = dio.verify_manifest(tmp_path)
    assert sorted(manifest["files"]) == ["a.csv", "sub/b.json"]
    (tmp_path / "a.csv").write_text("2\n")
    with pytest.raises(InputError, match=r"a\.csv does not match its SHA-256"):
        dio.verify_manifest(tmp_path)
    (tmp_path / "a.csv").unlink()
    with pytest.raises(InputError, match=r"a\.csv is listed in manifest\.json but missing"):
        dio.verify_manifest(tmp_path)
    with pytest.raises(InputError, match=r"no manifest\.json"):
        dio.verify_manifest(tmp_path / "sub")


def test_stage_dir_refuses_what_it_must_not_replace(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        dio.stage_dir(tmp_path / "file")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("x")
    with pytest.raises(InputError, match="not a distsim output folder"):
        dio.stage_dir(tmp_path / "mine")
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "mine"]


def _publication_steps(tmp_path: Path, run: Callable[[], None]) -> list[str]:
    seen: list[str] = []
    dio.step_hook = seen.append
    try:
        run()
    finally:
        dio.step_hook = None
    return seen


def _killed_at(step: str, run: Callable[[], None], exchange: bool) -> None:
    """Run ``run`` in a forked child that SIGKILLs itself when publication reaches ``step``."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child never returns to pytest)
        try:
            if not exchange:
                dio._exchange = lambda a, b: False  # type: ignore[assignment]

            def hook(name: str) -> None:
                if name == step:
                    os.kill(os.getpid(), signal.SIGKILL)

            dio.step_hook = hook
            run()
        finally:
            os._exit(3)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, f"child did not die at {step}"


DATA_FILES = ("requests.csv", "devices.csv", "summary.json", "scenario.yaml")


def _contents(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in DATA_FILES}


@pytest.mark.parametrize("exchange", [True, False], ids=["rename-exchange", "two-renames"])
def test_publication_killed_at_every_step_leaves_old_or_new(tmp_path: Path, exchange: bool) -> None:
    """SIGKILL at every step of replacing a run folder: it is always entirely the old run or the new one."""
    scenario = scenario_from_dict(scenario_dict(workload={"requests": 8, "rate_per_s": 3.0}))
    target = tmp_path / "out"
    simulate(scenario, out_dir=tmp_path / "new-reference", seed=2)
    new = _contents(tmp_path / "new-reference")

    def replace() -> None:
        simulate(scenario, out_dir=target, seed=2)

    simulate(scenario, out_dir=target, seed=1)
    old = _contents(target)
    assert old != new
    if not exchange:
        real = dio._exchange
        dio._exchange = lambda a, b: False  # type: ignore[assignment]
    try:
        steps = _publication_steps(tmp_path, replace)
    finally:
        if not exchange:
            dio._exchange = real  # type: ignore[assignment]
    expected_tail = ["staged", "exchanged", "published"]
    if not exchange:
        expected_tail = ["staged", "set-aside", "renamed", "published"]
    assert steps[-len(expected_tail) :] == expected_tail
    assert "wrote manifest.json" in steps and steps[0] == "wrote requests.csv"
    for step in steps:
        simulate(scenario, out_dir=target, seed=1)  # back to the old results
        _killed_at(step, replace, exchange)
        if target.exists():
            dio.verify_manifest(target)
            assert _contents(target) in (old, new), step
            if steps.index(step) <= steps.index("staged"):
                assert _contents(target) == old, step
        else:
            # Only the two-rename fallback has an instant without the folder: between its renames.
            assert not exchange and step == "set-aside"
        leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")]
        # The next publication cleans what the killed one left (or puts the old folder back).
        dio.clean_leftovers(target)
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")] == [], leftovers
        assert target.is_dir() and _contents(target) in (old, new)
        replace()
        assert _contents(target) == new
        assert sorted(p.name for p in tmp_path.iterdir()) == ["new-reference", "out"]


def test_subnormal_rate_is_refused_and_summaries_are_strict_json(tmp_path: Path) -> None:
    """Regression: a subnormal arrival rate used to end in ``Infinity`` tokens in summary.json."""
    with pytest.raises(InputError, match="inter-arrival"):
        scenario_from_dict(scenario_dict(workload={"requests": 3, "rate_per_s": 5e-324}))
    from dataclasses import replace

    from distsim.run import summary_json

    result = simulate(scenario_from_dict(scenario_dict(workload={"requests": 3, "rate_per_s": 3.0})))
    text = summary_json(replace(result.summary, throughput_per_s=math.inf, latency_mean_s=math.nan))
    data = json.loads(text, parse_constant=lambda name: pytest.fail(name))
    assert data["throughput_per_s"] is None and data["latency_mean_s"] is None


def test_plot_refuses_a_run_folder_that_does_not_match_its_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from distsim.cli import main

    folder = tmp_path / "run"
    simulate(scenario_from_dict(scenario_dict()), out_dir=folder)
    assert main(["plot", str(folder), "--kind", "cdf", "--out", str(tmp_path / "fig")]) == 0
    text = (folder / "requests.csv").read_text()
    (folder / "requests.csv").write_text(text.replace("false", "true", 1))
    capsys.readouterr()
    assert main(["plot", str(folder), "--kind", "cdf", "--out", str(tmp_path / "fig2")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "requests.csv does not match its SHA-256" in err
    assert not (tmp_path / "fig2").exists()


def test_json_of_numpy_scalars_and_malformed_manifests(tmp_path: Path) -> None:
    import numpy as np

    assert json.loads(dio.compact_json({"a": np.float64("inf"), "b": np.int64(3)})) == {"a": None, "b": 3}
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(InputError, match="cannot read manifest"):
        dio.verify_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("[]")
    with pytest.raises(InputError, match="malformed manifest"):
        dio.verify_manifest(tmp_path)


def test_leftovers_of_a_live_publisher_are_kept(tmp_path: Path) -> None:
    target = tmp_path / "out"
    alive = tmp_path / f".out{dio.STAGING_TAG}1-abc"  # pid 1 is always alive
    dead = tmp_path / f".out{dio.STAGING_TAG}999999999-abc"
    odd = tmp_path / f".out{dio.OLD_TAG}x-abc"
    for folder in (alive, dead, odd):
        folder.mkdir()
    dio.clean_leftovers(target)
    # The set-aside folder of an unknown publisher comes back as the target (it was missing).
    assert sorted(p.name for p in tmp_path.iterdir()) == [alive.name, "out"]


def test_exchange_errors_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a").mkdir()
    with pytest.raises(OSError):
        dio._exchange(tmp_path / "a", tmp_path / "missing")
    monkeypatch.setattr(dio.sys, "platform", "darwin")
    assert dio._exchange(tmp_path / "a", tmp_path / "b") is False
    staging = dio.stage_dir(tmp_path / "out")
    (tmp_path / "out").mkdir()
    monkeypatch.setattr(dio, "_exchange", lambda a, b: (_ for _ in ()).throw(OSError(28, "No space left on device")))
    with pytest.raises(InputError, match="cannot publish results: No space left"):
        dio.publish_dir(staging, tmp_path / "out")


def test_provenance_records_versions_commit_and_inputs(tmp_path: Path) -> None:
    from distsim import provenance

    (tmp_path / "t.csv").write_text("x\n")
    record = provenance.provenance(5, {"privacy.ssim_table": tmp_path / "t.csv"})
    assert record["seed"] == 5 and record["versions"]["numpy"] and record["distsim_version"]
    assert record["inputs"]["privacy.ssim_table"]["sha256"] == dio.sha256_file(tmp_path / "t.csv")
    git = record["git"]
    assert git is None or (len(git["commit"]) == 40 and isinstance(git["dirty"], bool))
