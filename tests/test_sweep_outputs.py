"""The files a sweep leaves behind, read back: tables, run files, progress, and the plots built on them.

``test_sweep.py`` covers running sweeps; this file covers what happens at the
edges of their outputs: every cell type through CSV and Parquet and back,
unreadable or missing files, writes that fail half way (nothing is left
behind), the progress bar, and the plot loaders' answers to directories that
hold the wrong thing.
"""

from __future__ import annotations

import io
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from distsim.errors import InputError
from distsim.experiments import load_sweep, read_manifest, read_results, run_sweep
from distsim.experiments import runner as sweep_runner
from distsim.experiments.table import (
    cell,
    result_columns,
    summary_columns,
    write_csv_atomic,
    write_parquet_atomic,
)
from distsim.io import file_mode, write_manifest
from distsim.plots.io import cdf_from_run_dirs, cdf_from_sweep, load_summary, make_figure
from distsim.run import simulate
from distsim.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent


def _typed_summary_row() -> dict[str, Any]:
    """A results row with every summary column, each a value of the type the column reads back as."""
    from distsim.experiments.table import _SUMMARY_TYPES

    row: dict[str, Any] = {"point": 0, "replication": 1, "seed": 11}
    for k, name in enumerate(summary_columns()):
        kind = _SUMMARY_TYPES[name]
        row[name] = {int: k, float: k + 0.25, bool: k % 2 == 0}.get(kind, f"text {k}")
    return row


# -- cells and tables -----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (True, "true"),
        (False, "false"),
        (math.nan, ""),
        (0.1, "0.1"),
        (1e-300, "1e-300"),
        (3, "3"),
        ({"rpi3": 1}, '{"rpi3": 1}'),
        ([["p0", "s1"]], '[["p0", "s1"]]'),
        ("lenet", "lenet"),
    ],
)
def test_cell_formats_each_type(value: Any, text: str) -> None:
    assert cell(value) == text


def _sweep_folder(tmp_path: Path, params: list[str], rows: list[dict[str, Any]]) -> Path:
    out = tmp_path / "sweep"
    out.mkdir()
    (out / "sweep.json").write_text(json.dumps({"params": params}), encoding="utf-8")
    write_csv_atomic(out / "results.csv", result_columns(params), rows)
    write_manifest(out, {"kind": "sweep"})  # a finished folder: readers check the files against it
    return out


def test_results_csv_reads_back_with_the_types_it_was_written_with(tmp_path: Path) -> None:
    params = ["participants.mix", "network.edges", "scheduler.name", "privacy.max_ssim", "output.dir"]
    row = _typed_summary_row()
    row.update(
        {
            "participants.mix": {"rpi3": 1, "nexus5": 2},
            "network.edges": [["p0", "s0"]],
            "scheduler.name": "exact",
            "privacy.max_ssim": 0.6,
            "output.dir": None,
            "latency_mean_s": math.nan,
        }
    )
    out = _sweep_folder(tmp_path, params, [row])
    read_params, rows = read_results(out)
    assert read_params == params
    (back,) = rows
    assert math.isnan(back.pop("latency_mean_s")) and math.isnan(row.pop("latency_mean_s"))
    assert back == row
    assert (out / "results.csv").stat().st_mode & 0o777 == file_mode()
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "results.csv", "sweep.json"]  # no temp file


def test_a_write_that_fails_leaves_neither_a_table_nor_a_temporary_file(tmp_path: Path) -> None:
    (tmp_path / "results.csv").mkdir()  # the final rename fails: a directory is in the way
    with pytest.raises(OSError):
        write_csv_atomic(tmp_path / "results.csv", ["a"], [{"a": 1}])
    assert [p.name for p in tmp_path.iterdir()] == ["results.csv"]
    (tmp_path / "results.csv").rmdir()

    with pytest.raises(TypeError):
        sweep_runner.write_json_atomic(tmp_path / "run.json", {"value": object()})
    assert list(tmp_path.iterdir()) == []


def test_parquet_keeps_one_type_per_column(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    rows = [
        {"mix": {"rpi3": 1}, "flag": True, "name": "a", "count": 1, "rate": 1, "mixed": "x"},
        {"mix": {"rpi3": 2}, "flag": False, "name": "b", "count": 2, "rate": 2.5, "mixed": 3},
        {"mix": [1, 2], "flag": True, "name": "c", "count": 3, "rate": None, "mixed": None},
    ]
    columns = list(rows[0])
    path = write_parquet_atomic(tmp_path / "results.parquet", columns, rows)
    assert path == tmp_path / "results.parquet"
    table = pq.read_table(path).to_pydict()
    assert table["mix"] == ['{"rpi3": 1}', '{"rpi3": 2}', "[1, 2]"]  # structures as JSON text
    assert table["flag"] == [True, False, True]
    assert table["name"] == ["a", "b", "c"]
    assert table["count"] == [1, 2, 3]
    assert table["rate"][:2] == [1.0, 2.5] and math.isnan(table["rate"][2])  # ints and floats: floats, None: NaN
    assert table["mixed"] == ["x", "3", ""]  # anything else: the CSV cell text
    assert path.stat().st_mode & 0o777 == file_mode()


def test_a_parquet_write_that_fails_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pq = pytest.importorskip("pyarrow.parquet")

    def full_disk(table: Any, where: Any, **_: Any) -> None:
        Path(where).write_bytes(b"PAR1 torn")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pq, "write_table", full_disk)
    with pytest.raises(OSError, match=re.escape("No space")):
        write_parquet_atomic(tmp_path / "results.parquet", ["a"], [{"a": 1}])
    assert list(tmp_path.iterdir()) == []


def test_parquet_is_skipped_without_pyarrow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now raises ImportError
    assert write_parquet_atomic(tmp_path / "results.parquet", ["a"], [{"a": 1}]) is None
    assert list(tmp_path.iterdir()) == []


def test_unreadable_manifests_and_unfinished_sweeps_are_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=re.escape("not a sweep output directory")):
        read_manifest(tmp_path)
    (tmp_path / "sweep.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match=re.escape("cannot read sweep.json")):
        read_manifest(tmp_path)
    (tmp_path / "sweep.json").write_text('{"params": "tau"}', encoding="utf-8")
    with pytest.raises(InputError, match=re.escape("expected a 'params' list")):
        read_manifest(tmp_path)
    (tmp_path / "sweep.json").write_text('{"params": ["privacy.max_ssim"]}', encoding="utf-8")
    assert read_manifest(tmp_path)["params"] == ["privacy.max_ssim"]
    with pytest.raises(InputError, match=re.escape("has not finished")):
        read_results(tmp_path)


def test_torn_run_files_count_as_missing(tmp_path: Path) -> None:
    (tmp_path / "torn.json").write_text('{"point": 0, "summ', encoding="utf-8")
    (tmp_path / "list.json").write_text("[1, 2]", encoding="utf-8")
    (tmp_path / "good.json").write_text('{"point": 0}', encoding="utf-8")
    assert sweep_runner.read_run(tmp_path / "torn.json") is None
    assert sweep_runner.read_run(tmp_path / "list.json") is None
    assert sweep_runner.read_run(tmp_path / "absent.json") is None
    assert sweep_runner.read_run(tmp_path / "good.json") == {"point": 0}


# -- progress -------------------------------------------------------------------


def test_progress_counts_percent_and_eta() -> None:
    from distsim.progress import Progress

    stream = io.StringIO()
    bar = Progress(4, done=1, stream=stream, enabled=True, every_s=0.0)
    start = bar._started
    assert bar.line(start) == "1/4 runs (25.0%), elapsed 00:00, ETA --:--"
    bar.advance()
    assert stream.getvalue().startswith("2/4 runs (50.0%)")
    # One fresh run in 10 s, two left: 20 s to go.
    assert bar.line(start + 10.0).endswith("elapsed 00:10, ETA 00:20")
    bar.close()
    assert stream.getvalue().endswith("\n")

    quiet = io.StringIO()
    silent = Progress(2, stream=quiet, enabled=False)
    silent.advance(2)
    silent.close()
    assert quiet.getvalue() == ""
    assert Progress(0, stream=quiet, enabled=False).line().startswith("0/0 runs (100.0%)")


@pytest.mark.parametrize(
    ("seconds", "text"), [(math.nan, "--:--"), (math.inf, "--:--"), (59.4, "00:59"), (65, "01:05"), (3725, "1:02:05")]
)
def test_clock(seconds: float, text: str) -> None:
    from distsim.progress import _clock

    assert _clock(seconds) == text


# -- running: bad arguments -----------------------------------------------------


def _tiny_sweep(tmp_path: Path, *, out: Path, keep_latencies: bool = False) -> Path:
    data = {
        "base": {
            "name": "tiny",
            "sources": [{"cnn": "lenet"}],
            "participants": {"total": 6},
            "workload": {"requests": 6, "rate_per_s": 3.0},
            "privacy": {"max_ssim": 0.6},
        },
        "grid": {"participants.total": [6, 9]},
        "replications": 1,
        "keep_latencies": keep_latencies,
        "output": {"dir": str(out)},
    }
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_run_sweep_refuses_zero_jobs_and_an_output_path_under_a_file(tmp_path: Path) -> None:
    sweep = load_sweep(_tiny_sweep(tmp_path, out=tmp_path / "out"))
    with pytest.raises(InputError, match=re.escape("job count >= 1")) as info:
        run_sweep(sweep, jobs=0)
    assert info.value.field == "--jobs"
    (tmp_path / "file").write_text("", encoding="utf-8")
    blocked = load_sweep(_tiny_sweep(tmp_path, out=tmp_path / "file" / "out"))
    with pytest.raises(InputError, match=re.escape("cannot create the output directory")):
        run_sweep(blocked, jobs=1)


def test_dask_errors_name_the_option(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(InputError, match=re.escape("Dask is not installed")) as info:
        sweep_runner.connect_dask("tcp://127.0.0.1:1")
    assert info.value.field == "--dask"
    monkeypatch.undo()

    distributed = pytest.importorskip("distributed")

    def refuse(address: str, timeout: str) -> None:
        raise OSError(f"Timed out trying to connect to {address} after {timeout}")

    monkeypatch.setattr(distributed, "Client", refuse)
    with pytest.raises(InputError, match=re.escape("cannot reach the Dask scheduler at tcp://127.0.0.1:1")):
        sweep_runner.connect_dask("tcp://127.0.0.1:1")


# -- plots over real outputs ----------------------------------------------------


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two run folders of the quickstart scenario and a tiny sweep without per-request latencies."""
    root = tmp_path_factory.mktemp("outputs")
    scenario = load_scenario(ROOT / "scenarios/quickstart.yaml")
    for name, seed in (("first", 1), ("second", 2)):
        simulate(scenario, seed=seed, out_dir=root / name)
    sweep_out = root / "sweep"
    run_sweep(load_sweep(_tiny_sweep(root, out=sweep_out)), jobs=1)
    return {"first": root / "first", "second": root / "second", "sweep": sweep_out}


def test_latency_cdf_of_run_folders_uses_their_served_requests(outputs: dict[str, Path]) -> None:
    groups = cdf_from_run_dirs([outputs["first"], outputs["second"]])
    assert list(groups) == ["first", "second"]
    result = simulate(load_scenario(ROOT / "scenarios/quickstart.yaml"), seed=1)
    assert result.records is not None
    served = sorted(r.latency_s for r in result.records if not r.dropped)
    assert sorted(groups["first"].tolist()) == pytest.approx(served, rel=1e-12)
    fig = make_figure("cdf", [outputs["first"], outputs["second"]])
    assert len(fig.axes[0].get_lines()) >= 2


def test_plot_loaders_refuse_directories_that_hold_the_wrong_thing(outputs: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(InputError, match=re.escape("no requests.csv")):
        cdf_from_run_dirs([tmp_path])
    with pytest.raises(InputError, match=re.escape("one sweep output directory, or only 'distsim run' directories")):
        make_figure("cdf", [outputs["first"], outputs["sweep"]])
    with pytest.raises(InputError, match=re.escape("kept no per-request latencies")):
        cdf_from_sweep(outputs["sweep"])
    with pytest.raises(InputError, match=re.escape("unknown plot kind 'pie'")):
        make_figure("pie", [outputs["sweep"]])
    with pytest.raises(InputError, match=re.escape("takes one sweep output directory")):
        make_figure("fig3", [outputs["sweep"], outputs["sweep"]])
    with pytest.raises(InputError, match=re.escape("needs privacy.max_ssim among the swept parameters")):
        make_figure("tradeoff", [outputs["sweep"]])
    fig = make_figure("fig3", [outputs["sweep"]], x="participants.total")
    assert fig.axes

    kept = tmp_path / "kept"
    kept.mkdir()
    manifest = json.loads((outputs["sweep"] / "sweep.json").read_text(encoding="utf-8"))
    (kept / "sweep.json").write_text(json.dumps({**manifest, "keep_latencies": True}), encoding="utf-8")
    with pytest.raises(InputError, match=re.escape("the sweep has not finished (2 of 2 runs missing; no manifest")):
        cdf_from_sweep(kept)
    (kept / "sweep.json").write_text(json.dumps({**manifest, "keep_latencies": True, "runs": []}), encoding="utf-8")
    write_manifest(kept, {"kind": "sweep"})
    expected = "expected one of the swept parameters participants.total, got 'tau'"
    with pytest.raises(InputError, match=re.escape(expected)):
        cdf_from_sweep(kept, by="tau")
    with pytest.raises(InputError, match=re.escape("no run files under runs/")):
        cdf_from_sweep(kept)

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "sweep.json").write_text(json.dumps(manifest), encoding="utf-8")
    write_csv_atomic(empty / "results.csv", result_columns(manifest["params"]), [])
    write_manifest(empty, {"kind": "sweep"})
    with pytest.raises(InputError, match=re.escape("results.csv has no rows")):
        load_summary(empty)
