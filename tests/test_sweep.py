"""Sweeps: file validation, grid expansion, seeds, execution backends, resume, aggregation."""

from __future__ import annotations

import csv
import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from distsim.cli import main
from distsim.errors import InputError
from distsim.experiments import (
    aggregate,
    load_sweep,
    make_tasks,
    mean_ci95,
    read_results,
    replication_seed,
    run_sweep,
    sweep_from_dict,
    t_quantile_975,
)
from distsim.experiments.table import result_columns

BASE: dict[str, Any] = {
    "name": "tiny",
    "sources": [{"cnn": "lenet"}, {"cnn": "cifar_cnn"}],
    "participants": {"total": 12, "mix": {"rpi3": 1, "nexus5": 1, "stm32h7": 1}},
    "workload": {"requests": 20, "rate_per_s": 3.0},
    "privacy": {"max_ssim": 0.6},
}


def tiny(tmp_path: Path, out: str = "out", **extra: Any) -> Path:
    """Write a quickstart-like sweep (2 x 2 points, 2 replications) with a base scenario file beside it."""
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(BASE), encoding="utf-8")
    data: dict[str, Any] = {
        "base": "base.yaml",
        "grid": {"participants.total": [6, 12], "privacy.max_ssim": [0.6, 0.8]},
        "replications": 2,
        "seed": 5,
        "output": {"dir": str(tmp_path / out)},
    }
    data.update(extra)
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


# -- spec ---------------------------------------------------------------------


def test_grid_expands_first_key_slowest(tmp_path: Path) -> None:
    sweep = load_sweep(tiny(tmp_path))
    assert [p.params for p in sweep.points] == [
        {"participants.total": 6, "privacy.max_ssim": 0.6},
        {"participants.total": 6, "privacy.max_ssim": 0.8},
        {"participants.total": 12, "privacy.max_ssim": 0.6},
        {"participants.total": 12, "privacy.max_ssim": 0.8},
    ]
    assert sweep.points[1].scenario["participants"]["total"] == 6
    assert sweep.points[1].scenario["privacy"]["max_ssim"] == 0.8
    assert sweep.params == ("participants.total", "privacy.max_ssim")


def test_overrides_replace_mappings_and_index_lists() -> None:
    sweep = sweep_from_dict(
        {
            "base": BASE,
            "grid": {
                "participants.mix": [{"rpi3": 1}],
                "sources.1.cnn": ["lenet"],
                "devices.rpi3.mults_per_s": [100.0],
            },
        }
    )
    scenario = sweep.points[0].scenario  # resolved: every default filled in
    assert scenario["participants"]["mix"] == {"rpi3": 1}
    assert [s["cnn"] for s in scenario["sources"]] == ["lenet", "lenet"]
    assert list(scenario["devices"]) == ["rpi3"] and scenario["devices"]["rpi3"]["mults_per_s"] == 100.0
    assert BASE["participants"]["mix"] == {"rpi3": 1, "nexus5": 1, "stm32h7": 1}  # base untouched
    assert sweep.points[0].columns == {
        "participants.mix": {"rpi3": 1},
        "sources.1.cnn": "lenet",
        "devices.rpi3.mults_per_s": 100.0,
    }


def test_seeds_depend_on_replication_only() -> None:
    for n in (3, 5):
        children = np.random.SeedSequence(11).spawn(n)
        for r in range(3):
            words = children[r].generate_state(2, dtype=np.uint32)
            assert replication_seed(11, r) == (int(words[0]) << 31) ^ int(words[1])
    assert len({replication_seed(11, r) for r in range(50)}) == 50
    assert replication_seed(11, 0) != replication_seed(12, 0)


def test_tasks_cover_points_times_replications(tmp_path: Path) -> None:
    sweep = load_sweep(tiny(tmp_path))
    tasks = make_tasks(sweep)
    assert [(t.point, t.replication) for t in tasks] == [(p, r) for p in range(4) for r in range(2)]
    assert {t.seed for t in tasks if t.replication == 1} == {replication_seed(5, 1)}


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"grid": {"participants.totl": [3]}}, "grid.participants.totl", "unknown field"),
        ({"grid": {"privacy.max_ssim": [0.5, 1.5]}}, "grid.privacy.max_ssim", "1.5"),
        ({"grid": {"privacy.max_ssim": 0.4}}, "grid.privacy.max_ssim", "list"),
        ({"grid": {"privacy.max_ssim": []}}, "grid.privacy.max_ssim", "at least 1"),
        ({"grid": {"sources.5.cnn": ["lenet"]}}, "grid.sources.5.cnn", "list index"),
        ({"grid": {"sources.0.cnn": ["resnet"]}}, "grid.sources.0.cnn", "resnet"),
        ({"grid": {"simulation.seed": [1, 2]}}, "grid.simulation.seed", "replications"),
        ({"grid": {"privacy..max_ssim": [0.4]}}, "grid.privacy..max_ssim", "dotted"),
        ({"replications": 0}, "replications", "greater than or equal to 1"),
        ({"seed": -1}, "seed", "greater than or equal to 0"),
        ({"base": "missing.yaml"}, "base", "file not found"),
        ({"grids": {}}, "grids", "unknown field"),
    ],
)
def test_bad_sweep_files_name_file_and_field(tmp_path: Path, change: dict[str, Any], field: str, words: str) -> None:
    path = tiny(tmp_path, **change)
    with pytest.raises(InputError) as info:
        load_sweep(path)
    assert info.value.file == str(path)
    assert info.value.field == field
    assert words in info.value.detail


def test_bad_point_names_the_combination(tmp_path: Path) -> None:
    path = tiny(tmp_path, grid={"participants.total": [12], "participants.mix": [{"rpi3": 1}, {"toaster": 1}]})
    with pytest.raises(InputError) as info:
        load_sweep(path)
    assert info.value.field == "grid.participants.mix"
    assert "point 1" in info.value.detail and "toaster" in info.value.detail


def test_cli_reports_bad_sweep_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tiny(tmp_path, grid={"privacy.max_ssim": [2.0]})
    assert main(["sweep", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: grid.privacy.max_ssim:")
    assert "Traceback" not in err


# -- execution ------------------------------------------------------------------


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_identical_tables_with_jobs_1_jobs_2_and_dask(tmp_path: Path) -> None:
    one = run_sweep(load_sweep(tiny(tmp_path), out_dir=tmp_path / "j1"), jobs=1)
    two = run_sweep(load_sweep(tiny(tmp_path), out_dir=tmp_path / "j2"), jobs=2)
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        dask = run_sweep(load_sweep(tiny(tmp_path), out_dir=tmp_path / "dk"), client=client)
    assert one.executed == two.executed == dask.executed == 8
    for name in ("results.csv", "summary.csv"):
        assert _read(tmp_path / "j1" / name) == _read(tmp_path / "j2" / name) == _read(tmp_path / "dk" / name)
    assert one.rows == two.rows
    # The table has one row per run, sorted, with parameters, seeds and every summary field.
    with open(tmp_path / "j1" / "results.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == result_columns(("participants.total", "privacy.max_ssim"))
    assert [(r["point"], r["replication"]) for r in rows] == [(str(p), str(r)) for p in range(4) for r in range(2)]
    assert {r["seed"] for r in rows if r["replication"] == "0"} == {str(replication_seed(5, 0))}
    assert [r["participants"] for r in rows] == ["6"] * 4 + ["12"] * 4
    assert [r["max_ssim"] for r in rows] == ["0.6", "0.6", "0.8", "0.8"] * 2


def test_run_matches_a_direct_simulation(tmp_path: Path) -> None:
    from distsim.run import simulate
    from distsim.scenario import scenario_from_dict

    result = run_sweep(load_sweep(tiny(tmp_path)), jobs=1)
    direct = simulate(
        scenario_from_dict(
            {**BASE, "participants": {"total": 12, "mix": BASE["participants"]["mix"]}, "privacy": {"max_ssim": 0.8}}
        ),
        seed=replication_seed(5, 1),
    )
    row = result.rows[-1]
    assert row["total_latency_s"] == direct.summary.total_latency_s
    assert row["shared_bytes"] == direct.summary.shared_bytes


class _Interrupt(Exception):
    pass


def test_resume_skips_finished_runs(tmp_path: Path) -> None:
    path = tiny(tmp_path)
    done: list[tuple[int, int]] = []

    def stop_after_three(record: dict[str, Any]) -> None:
        done.append((record["point"], record["replication"]))
        if len(done) == 3:
            raise _Interrupt

    with pytest.raises(_Interrupt):
        run_sweep(load_sweep(path), jobs=1, on_run=stop_after_three)
    assert len(list((tmp_path / "out" / "runs").glob("*.json"))) == 3
    assert not (tmp_path / "out" / "results.csv").exists()
    again: list[tuple[int, int]] = []
    result = run_sweep(load_sweep(path), jobs=1, on_run=lambda r: again.append((r["point"], r["replication"])))
    assert (result.executed, result.skipped) == (5, 3)
    assert set(again).isdisjoint(done) and len(set(again) | set(done)) == 8
    run_sweep(load_sweep(tiny(tmp_path, out="fresh")), jobs=1)
    assert _read(tmp_path / "out" / "results.csv") == _read(tmp_path / "fresh" / "results.csv")
    # Finished and unchanged: nothing runs; a changed seed makes every stored run stale.
    assert run_sweep(load_sweep(path), jobs=1).executed == 0
    assert run_sweep(load_sweep(tiny(tmp_path, seed=6)), jobs=1).executed == 8


def test_cli_sweep_writes_tables(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tiny(tmp_path, keep_latencies=True)
    assert main(["sweep", str(path), "--jobs", "1", "--out", str(tmp_path / "cli")]) == 0
    out = capsys.readouterr().out
    assert "8 runs executed, 0 already finished" in out
    params, rows = read_results(tmp_path / "cli")
    assert params == ["participants.total", "privacy.max_ssim"]
    assert len(rows) == 8 and isinstance(rows[0]["extrapolated_limits"], bool)
    assert isinstance(rows[0]["participants.total"], int) and isinstance(rows[0]["latency_mean_s"], float)
    assert main(["sweep", str(path), "--jobs", "0"]) == 2


def test_parquet_matches_csv(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    result = run_sweep(
        load_sweep(tiny(tmp_path, grid={"participants.mix": [{"rpi3": 1}, {"nexus5": 1}]}, replications=1)), jobs=1
    )
    table = pq.read_table(tmp_path / "out" / "results.parquet").to_pylist()
    assert [r["total_latency_s"] for r in table] == [r["total_latency_s"] for r in result.rows]
    assert table[0]["participants.mix"] == '{"rpi3": 1}'


# -- aggregation ----------------------------------------------------------------


def test_mean_ci95_closed_form() -> None:
    mean, half, n = mean_ci95([1.0, 2.0, 3.0])
    assert (mean, n) == (2.0, 3)
    assert half == pytest.approx(4.303 / math.sqrt(3), rel=1e-4)
    mean, half, n = mean_ci95([4.0, math.nan, 4.0])
    assert (mean, half, n) == (4.0, 0.0, 2)
    assert math.isnan(mean_ci95([7.0])[1])
    assert math.isnan(mean_ci95([math.nan])[0])


def test_t_quantiles_are_scipys_and_match_the_textbook_table() -> None:
    # Textbook two-sided 95% values (any statistics table), to 3 decimals.
    table = {1: 12.706, 2: 4.303, 5: 2.571, 10: 2.228, 30: 2.042, 120: 1.980}
    for df, q in table.items():
        assert t_quantile_975(df) == pytest.approx(q, abs=1e-3)
    assert t_quantile_975(10**6) == pytest.approx(1.960, abs=1e-3)
    values = [t_quantile_975(df) for df in range(1, 200)]
    assert all(a > b for a, b in itertools.pairwise(values))
    assert math.isnan(t_quantile_975(0))


def test_aggregate_groups_by_point() -> None:
    rows = [
        {"point": 1, "replication": 0, "x": 2, "total_latency_s": 3.0},
        {"point": 0, "replication": 0, "x": 1, "total_latency_s": 1.0},
        {"point": 0, "replication": 1, "x": 1, "total_latency_s": 3.0},
        {"point": 1, "replication": 1, "x": 2, "total_latency_s": 5.0},
    ]
    summary = aggregate(rows, ["x"], metrics=["total_latency_s"])
    assert [(s["point"], s["x"], s["n_runs"], s["total_latency_s_mean"]) for s in summary] == [
        (0, 1, 2, 2.0),
        (1, 2, 2, 4.0),
    ]
    assert summary[0]["total_latency_s_ci95"] == pytest.approx(12.706 * math.sqrt(2) / math.sqrt(2), rel=1e-4)
