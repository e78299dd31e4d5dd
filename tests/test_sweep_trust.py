"""Sweeps that cannot lie (issue 17.1) and honest resume with provenance (issue 10.2).

Each test reproduces a defect found by attacking sweeps: overlapping grid keys
that overrode each other while the table showed the grid's values; an edited
grid crashing the resume on a stale run file; a CDF drawing a point no longer
in the sweep; a changed SSIM table reused as if unchanged; sweep folders
without provenance or a manifest; relative paths that break on Dask workers
started elsewhere; a saved ``scenario.yaml`` that must rerun from anywhere.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from distsim.cli import main
from distsim.errors import InputError
from distsim.experiments import load_sweep, make_tasks, read_results, run_sweep, run_task
from distsim.experiments import resume as sweep_resume
from distsim.io import MANIFEST, sha256_file, verify_manifest
from distsim.plots.io import cdf_from_sweep

BASE: dict[str, Any] = {
    "name": "tiny",
    "sources": [{"cnn": "lenet"}],
    "participants": {"total": 12, "mix": {"rpi3": 1, "nexus5": 1}},
    "workload": {"requests": 8, "rate_per_s": 3.0},
    "privacy": {"max_ssim": 0.6},
}
#: The paper's LeNet rows (Table I) as a user table; the tests change one byte of it.
TABLE = (
    "dataset,cnn,layer,paper_label,maps_per_device,ssim\n"
    "mnist,lenet,conv1,Conv1,2,0.28\n"
    "mnist,lenet,conv1,Conv1,4,0.39\n"
)


def _write(tmp_path: Path, grid: dict[str, Any], *, base: dict[str, Any] | None = None, **extra: Any) -> Path:
    """A sweep file ``sweep.yaml`` with its base scenario ``base.yaml`` beside it; output into ``out``."""
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(base or BASE), encoding="utf-8")
    data: dict[str, Any] = {"base": "base.yaml", "grid": grid, "replications": 1, "seed": 3, "output": {"dir": "out"}}
    data.update(extra)
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _one_line_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str], *words: str) -> str:
    """Run the CLI, check it exits 2 with one ``error:`` line containing ``words``; return its standard output."""
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, err
    for word in words:
        assert word in err, err
    return captured.out


# -- 17.1: grid keys that overlap --------------------------------------------------


@pytest.mark.parametrize(
    ("grid", "field", "words"),
    [
        # The defect: a later key overrode an earlier one and the table reported totals 5 and 10.
        ({"participants.total": [5, 10], "participants": [{"total": 3}]}, "grid.participants", "contains"),
        ({"participants": [{"total": 3}], "participants.total": [5, 10]}, "grid.participants.total", "lies inside"),
        ({"sources.0.cnn": ["lenet"], "sources.00.cnn": ["lenet"]}, "grid.sources.00.cnn", "same field"),
    ],
)
def test_overlapping_grid_keys_are_refused_with_nothing_written(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    grid: dict[str, Any],
    field: str,
    words: str,
) -> None:
    path = _write(tmp_path, grid)
    monkeypatch.chdir(tmp_path)
    _one_line_exit_2(["sweep", str(path), "--jobs", "1"], capsys, f"sweep.yaml: {field}: ", words, "do not overlap")
    assert not (tmp_path / "out").exists()


def test_duplicate_yaml_keys_are_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(BASE), encoding="utf-8")
    path = tmp_path / "sweep.yaml"
    path.write_text(
        "base: base.yaml\ngrid:\n  participants.total: [5]\n  participants.total: [10]\noutput: {dir: out}\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    _one_line_exit_2(["sweep", str(path)], capsys, "grid.participants.total: duplicate key (lines 3 and 4)")
    assert not (tmp_path / "out").exists()
    # The same holds in scenario files (the last value silently won there too).
    (tmp_path / "s.yaml").write_text("name: a\nsources: [{cnn: lenet}]\nname: b\n", encoding="utf-8")
    _one_line_exit_2(["validate", str(tmp_path / "s.yaml")], capsys, "s.yaml: name: duplicate key")


def test_a_set_path_inside_a_grid_key_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, {"participants": [{"total": 3}]})
    _one_line_exit_2(
        ["sweep", str(path), "--set", "participants.total=5"], capsys, "--set: participants.total overlaps"
    )


def test_parameter_columns_are_read_from_each_runs_resolved_scenario(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "own.csv").write_text(TABLE, encoding="utf-8")
    path = _write(tmp_path, {"privacy.ssim_table": ["own.csv"], "participants.total": [6, 12]})
    monkeypatch.chdir(tmp_path)
    result = run_sweep(load_sweep("sweep.yaml"), jobs=1)
    with open(tmp_path / "out" / "results.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    # The table names the file the run read (absolute), not the grid's text.
    assert {r["privacy.ssim_table"] for r in rows} == {str((tmp_path / "own.csv").resolve())}
    assert [int(r["participants.total"]) for r in rows] == [r["participants"] for r in result.rows] == [6, 12]
    assert path.is_file()


def test_a_table_named_in_the_grid_resolves_against_the_sweep_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "own.csv").write_text(TABLE, encoding="utf-8")
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "own.csv").write_text(TABLE.replace("0.39", "0.9"), encoding="utf-8")
    base = {**BASE, "privacy": {"max_ssim": 0.6, "ssim_table": "own.csv"}}
    (tmp_path / "scenarios" / "base.yaml").write_text(yaml.safe_dump(base), encoding="utf-8")
    sweep = {"base": "scenarios/base.yaml", "grid": {"participants.total": [6]}}
    in_base = load_sweep(_sweep_file(tmp_path, sweep))
    in_grid = load_sweep(_sweep_file(tmp_path, {**sweep, "grid": {"privacy.ssim_table": ["own.csv"]}}))
    # The base's own path is the base's neighbour; a path written in the sweep file is the sweep file's.
    assert in_base.points[0].scenario["privacy"]["ssim_table"] == str(tmp_path / "scenarios" / "own.csv")
    assert in_grid.points[0].scenario["privacy"]["ssim_table"] == str(tmp_path / "own.csv")
    monkeypatch.chdir(tmp_path / "scenarios")
    assert load_sweep("../sweep.yaml").points == in_grid.points


def _sweep_file(folder: Path, data: dict[str, Any]) -> Path:
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


# -- 17.1: edited grids, stale files, current points only ---------------------------


def test_an_edited_grid_reruns_what_changed_and_never_crashes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _write(tmp_path, {"privacy.max_ssim": [0.6, 0.8]}, keep_latencies=True)
    monkeypatch.chdir(tmp_path)
    run_sweep(load_sweep("sweep.yaml"), jobs=1)
    # The defect: this rerun crashed with KeyError: 'participants.total' on the reused run file of point 0.
    _write(tmp_path, {"participants.total": [12, 6]}, keep_latencies=True)
    again = run_sweep(load_sweep("sweep.yaml"), jobs=1)
    assert (again.executed, again.skipped) == (1, 1)  # total = 12 with τ = 0.6 is the old point 0 (the base)
    assert [r["participants.total"] for r in again.rows] == [12, 6]
    # Reordered values: both runs moved to another point and are reused, not run again.
    _write(tmp_path, {"participants.total": [6, 12]}, keep_latencies=True)
    swapped = run_sweep(load_sweep("sweep.yaml"), jobs=1)
    assert (swapped.executed, swapped.skipped) == (0, 2)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    _write(fresh, {"participants.total": [6, 12]}, keep_latencies=True)
    monkeypatch.chdir(fresh)
    run_sweep(load_sweep("sweep.yaml"), jobs=1)
    assert (tmp_path / "out" / "results.csv").read_bytes() == (fresh / "out" / "results.csv").read_bytes()


def test_cdf_and_report_use_only_the_current_points(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(tmp_path, {"privacy.max_ssim": [0.6, 0.8]}, keep_latencies=True)
    monkeypatch.chdir(tmp_path)
    run_sweep(load_sweep("sweep.yaml"), jobs=1)
    assert len(cdf_from_sweep("out")[1]) == 2
    assert main(["plot", "out", "--kind", "cdf", "--format", "svg"]) == 0
    run_sweep(load_sweep("sweep.yaml"), jobs=1)  # nothing changed: the figure stays
    assert (tmp_path / "out" / "plots" / "cdf.svg").is_file()
    _write(tmp_path, {"privacy.max_ssim": [0.6]}, keep_latencies=True)
    run_sweep(load_sweep("sweep.yaml"), jobs=1)
    assert not (tmp_path / "out" / "plots").exists()  # it drew the old points
    assert (tmp_path / "out" / "runs" / "p0001-r000.json").is_file()  # the old point's run stays ...
    by, groups = cdf_from_sweep("out")
    assert by == "privacy.max_ssim" and list(groups) == ["τ = 0.6"]  # ... but is not drawn (it was)
    assert main(["report", "out"]) == 0
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "1 points × 1 replications" in page


def test_an_unfinished_sweep_says_how_many_runs_are_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(tmp_path, {"participants.total": [6, 12]}, replications=2)
    monkeypatch.chdir(tmp_path)
    run_sweep(load_sweep("sweep.yaml"), jobs=1)
    _write(tmp_path, {"participants.total": [6, 8]}, replications=2)

    class Stop(Exception):
        pass

    def stop(record: dict[str, Any]) -> None:
        raise Stop

    with pytest.raises(Stop):
        run_sweep(load_sweep("sweep.yaml"), jobs=1, on_run=stop)
    # The old tables are gone: nothing reads as a finished sweep of the edited grid.
    assert not (tmp_path / "out" / "results.csv").exists() and not (tmp_path / "out" / MANIFEST).exists()
    for argv in (["plot", "out"], ["report", "out"]):
        _one_line_exit_2(argv, capsys, "the sweep has not finished (1 of 4 runs missing")
    with pytest.raises(InputError, match=re.escape("1 of 4 runs missing")):
        read_results("out")
    if importlib.util.find_spec("pandas") is not None:
        from distsim.experiments import load_table

        with pytest.raises(InputError, match=re.escape("1 of 4 runs missing")):
            load_table("out", "summary")
    assert run_sweep(load_sweep("sweep.yaml"), jobs=1).executed == 1
    (tmp_path / "out" / MANIFEST).unlink()  # as if the sweep stopped between its tables and its manifest
    _one_line_exit_2(["plot", "out"], capsys, "the sweep has not finished (its tables were not completed")


STEPS = [
    "sweep: removed manifest.json",
    "sweep: removed the tables",
    "sweep: wrote sweep.json",
    "sweep: wrote results.csv",
    "sweep: wrote results.parquet",
    "sweep: wrote summary.csv",
    "sweep: wrote manifest.json",
]


class _Killed(BaseException):
    """Stands for SIGKILL at one step: nothing after it runs (files are written atomically)."""


@pytest.mark.parametrize("at", STEPS)
def test_a_sweep_killed_at_any_step_is_finished_and_current_or_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, at: str
) -> None:
    pytest.importorskip("pyarrow")
    from distsim import io as distsim_io

    _write(tmp_path, {"participants.total": [6]})
    monkeypatch.chdir(tmp_path)
    run_sweep(load_sweep("sweep.yaml"), jobs=1)
    _write(tmp_path, {"participants.total": [6, 12]})  # edited: the old finished folder must not pass for it

    def kill(name: str) -> None:
        if name == at:
            raise _Killed

    monkeypatch.setattr(distsim_io, "step_hook", kill)
    with pytest.raises(_Killed):
        run_sweep(load_sweep("sweep.yaml"), jobs=1)
    monkeypatch.setattr(distsim_io, "step_hook", None)
    try:
        _, rows = read_results("out")
    except InputError as exc:
        assert "the sweep has not finished" in str(exc)
    else:
        assert at == STEPS[-1] and [r["participants.total"] for r in rows] == [6, 12]
    assert [r["participants.total"] for r in run_sweep(load_sweep("sweep.yaml"), jobs=1).rows] == [6, 12]
    read_results("out")


# -- 10.2: the resume key covers file contents and the version ----------------------


def test_one_changed_byte_of_a_table_reruns_exactly_the_runs_that_read_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = tmp_path / "own.csv"
    table.write_text(TABLE, encoding="utf-8")
    path = _write(tmp_path, {"privacy.ssim_table": [None, "own.csv"], "participants.total": [6, 12]}, replications=2)
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", str(path), "--jobs", "1", "--no-progress"]) == 0
    capsys.readouterr()
    table.write_text(TABLE.replace("0.39", "0.38"), encoding="utf-8")  # one byte
    rerun: list[tuple[int, int]] = []
    result = run_sweep(load_sweep(path), jobs=1, on_run=lambda r: rerun.append((r["point"], r["replication"])))
    # Points 2 and 3 read the table (None x 2 totals, then own.csv x 2 totals), 2 replications each.
    assert sorted(rerun) == [(2, 0), (2, 1), (3, 0), (3, 1)]
    assert result.stale == "4 privacy.ssim_table contents changed"
    table.write_text(TABLE, encoding="utf-8")
    assert main(["sweep", str(path), "--jobs", "1", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "4 runs executed, 4 already finished" in out
    assert "4 stored runs no longer matched and were run again: 4 privacy.ssim_table contents changed" in out
    # Moving the table (same bytes, another path) keeps every key.
    moved = tmp_path / "tables"
    moved.mkdir()
    table.rename(moved / "own.csv")
    _write(
        tmp_path,
        {"privacy.ssim_table": [None, "tables/own.csv"], "participants.total": [6, 12]},
        replications=2,
    )
    assert run_sweep(load_sweep(path), jobs=1).executed == 0


def test_a_new_distsim_version_reruns_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path, {"participants.total": [6, 12]})
    monkeypatch.chdir(tmp_path)
    run_sweep(load_sweep("sweep.yaml"), jobs=1)
    monkeypatch.setattr(sweep_resume, "distsim_version", lambda: "99.0")
    again = run_sweep(load_sweep("sweep.yaml"), jobs=1)
    assert again.executed == 2
    assert again.stale.startswith("2 distsim version ") and again.stale.endswith(" -> 99.0")


def test_stale_reasons_name_each_changed_part() -> None:
    wanted = sweep_resume.Fingerprint("s" * 64, {"privacy.ssim_table": "b" * 64}, "0.2.0", 7, True)
    same = wanted.as_record()
    assert sweep_resume.stale_reasons(None, wanted) == ["new"]
    assert sweep_resume.stale_reasons({"key": "x"}, wanted) == ["unknown"]  # written before fingerprints
    assert sweep_resume.stale_reasons({"fingerprint": same}, wanted) == ["unknown"]
    old = {**same, "distsim_version": "0.1.0", "inputs": {"privacy.ssim_table": "a" * 64}, "seed": 6}
    old.update(keep_latencies=False, scenario_sha256="t" * 64)
    assert sweep_resume.stale_reasons({"fingerprint": old}, wanted) == [
        "distsim version 0.1.0 -> 0.2.0",
        "privacy.ssim_table contents changed",
        "seed changed",
        "keep_latencies changed",
        "scenario changed",
    ]
    assert sweep_resume.describe_stale([["new"], ["seed changed", "new"]]) == "2 new, 1 seed changed"
    assert wanted.key == sweep_resume.Fingerprint(**same).key != sweep_resume.Fingerprint(**old).key


def test_a_table_edited_while_the_sweep_runs_is_not_recorded_as_what_the_runs_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    table = tmp_path / "own.csv"
    table.write_text(TABLE, encoding="utf-8")
    _write(tmp_path, {"privacy.ssim_table": ["own.csv"], "participants.total": [6, 12]})
    monkeypatch.chdir(tmp_path)

    def edit(record: dict[str, Any]) -> None:
        table.write_text(TABLE.replace("0.39", "0.38"), encoding="utf-8")

    with pytest.raises(InputError, match=re.escape("a referenced input file changed while the sweep ran")):
        run_sweep(load_sweep("sweep.yaml"), jobs=1, on_run=edit)
    assert not (tmp_path / "out" / MANIFEST).exists()  # not a finished folder
    assert run_sweep(load_sweep("sweep.yaml"), jobs=1).executed == 2  # both keyed by the old bytes: rerun


# -- 10.2: sweep-folder provenance and manifest -------------------------------------


def test_the_sweep_folder_records_provenance_and_refuses_edits(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = tmp_path / "own.csv"
    table.write_text(TABLE, encoding="utf-8")
    path = _write(tmp_path, {"privacy.ssim_table": ["own.csv"], "participants.total": [6, 12]}, keep_latencies=True)
    monkeypatch.chdir(tmp_path)
    run_sweep(load_sweep(path), jobs=1)
    out = tmp_path / "out"
    manifest = verify_manifest(out)
    assert manifest["kind"] == "sweep" and manifest["seed"] == 3 and len(manifest["seeds"]) == 1
    assert manifest["distsim_version"] and "numpy" in manifest["versions"] and "git" in manifest
    inputs = manifest["inputs"]
    assert inputs["sweep"]["sha256"] == sha256_file(path)
    assert inputs["base"]["sha256"] == sha256_file(tmp_path / "base.yaml")
    assert inputs["privacy.ssim_table"] == {"path": str(table.resolve()), "sha256": sha256_file(table)}
    listed = set(manifest["files"])
    assert {"sweep.json", "results.csv", "summary.csv", "runs/p0000-r000.json", "runs/p0001-r000.json"} <= listed
    definition = json.loads((out / "sweep.json").read_text(encoding="utf-8"))
    assert [r["file"] for r in definition["runs"]] == ["runs/p0000-r000.json", "runs/p0001-r000.json"]

    assert main(["report", "out"]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert sha256_file(table) in page and sha256_file(out / "results.csv") in page and "2 run files" in page
    (out / "report.html").unlink()
    capsys.readouterr()
    with open(out / "runs" / "p0001-r000.json", "a", encoding="utf-8") as handle:
        handle.write(" ")  # a run file edited by hand
    for argv in (["plot", "out"], ["plot", "out", "--kind", "cdf"], ["report", "out"], ["sweep", str(path)]):
        out_text = _one_line_exit_2(argv, capsys, "runs/p0001-r000.json does not match its SHA-256 in manifest.json")
        assert out_text == ""  # refused before any other output
    assert not (out / "plots").exists() and not (out / "report.html").exists()


def test_a_sweep_refuses_to_run_into_a_run_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, {"participants.total": [6]})
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(BASE), encoding="utf-8")
    assert main(["run", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    _one_line_exit_2(["sweep", str(path), "--out", str(tmp_path / "out")], capsys, "not of a sweep")
    assert verify_manifest(tmp_path / "out")["kind"] == "run"


# -- 10.2: paths resolved before dispatch, self-contained run folders ---------------


def test_dispatched_runs_name_absolute_files_and_run_from_any_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "own.csv").write_text(TABLE.replace("0.39", "0.9"), encoding="utf-8")
    base = {**BASE, "privacy": {"max_ssim": 0.6, "ssim_table": "own.csv"}}
    _write(tmp_path, {"participants.total": [6]}, base=base)
    monkeypatch.chdir(tmp_path)
    (task,) = make_tasks(load_sweep("sweep.yaml"))  # a relative sweep path, as a user types it
    assert task.scenario["privacy"]["ssim_table"] == str((tmp_path / "own.csv").resolve())
    here = run_task(task)
    elsewhere = tmp_path / "worker"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # a Dask worker started in another directory
    there = run_task(task)
    assert there["summary"] == here["summary"] and there["key"] == task.key


def test_a_saved_scenario_reruns_byte_identically_from_another_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = tmp_path / "first"
    first.mkdir()
    (first / "own.csv").write_text(TABLE.replace("0.39", "0.9"), encoding="utf-8")
    scenario = {**BASE, "privacy": {"max_ssim": 0.6, "ssim_table": "own.csv"}}
    (first / "s.yaml").write_text(yaml.safe_dump(scenario), encoding="utf-8")
    monkeypatch.chdir(first)
    assert main(["run", "s.yaml", "--out", "a"]) == 0
    second = tmp_path / "second"
    second.mkdir()
    monkeypatch.chdir(second)
    (first / "own.csv").unlink()  # the original table is gone: the copy in the run folder is what reruns
    assert main(["run", str(first / "a" / "scenario.yaml"), "--out", "b"]) == 0
    capsys.readouterr()
    names = ["requests.csv", "devices.csv", "summary.json", "scenario.yaml", "privacy.ssim_table.csv"]
    for name in names:
        assert (first / "a" / name).read_bytes() == (second / "b" / name).read_bytes(), name
    verify_manifest(second / "b")
