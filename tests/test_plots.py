"""Plots: the matplotlib objects carry the labels, series and data of the table they were built from."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from distsim.cli import main
from distsim.experiments import aggregate, load_sweep, run_sweep
from distsim.plots import fig3, latency_cdf, make_figure, pareto, pareto_front, save_figure, single_metric, tradeoff

TAUS = (0.4, 0.6, 0.8)
SIZES = (15, 30, 60)


def synthetic_rows(x_param: str = "participants.total", xs: tuple[Any, ...] = SIZES) -> list[dict[str, Any]]:
    """Two replications per (tau, x) point with known metrics (no simulation)."""
    rows = []
    point = 0
    for tau in TAUS:
        for k, x in enumerate(xs):
            for rep in range(2):
                rows.append(
                    {
                        "point": point,
                        "replication": rep,
                        "privacy.max_ssim": tau,
                        x_param: x,
                        "total_latency_s": 100.0 * tau + 10.0 * k + rep,  # mean: 100 tau + 10 k + 0.5
                        "shared_bytes": 1e9 * (k + 1) / tau + 1e8 * rep,  # mean: (k+1)/tau GB + 0.05 GB
                        "rejection_rate": 0.25 if k == 0 and tau < 0.8 else 0.0,
                        "dropped": 8 if k == 0 and tau == 0.4 else 0,
                        "requests": 320,
                        "latency_mean_s": 1.0 + tau + k,
                        "shared_bytes_per_request": 1e6 * (k + 1) / tau,
                    }
                )
            point += 1
    return rows


def summary(x_param: str = "participants.total", xs: tuple[Any, ...] = SIZES) -> list[dict[str, Any]]:
    metrics = [
        "total_latency_s",
        "shared_bytes",
        "rejection_rate",
        "dropped",
        "requests",
        "latency_mean_s",
        "shared_bytes_per_request",
    ]
    return aggregate(synthetic_rows(x_param, xs), ["privacy.max_ssim", x_param], metrics=metrics)


def test_fig3_axes_series_and_data_match_the_table() -> None:
    fig = fig3(summary(), ["privacy.max_ssim", "participants.total"])
    latency, shared = fig.axes
    assert latency.get_xlabel() == "participants D"
    assert latency.get_ylabel() == "total latency (s)"
    assert shared.get_ylabel() == "shared data (GB)"
    for ax in (latency, shared):
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["τ = 0.4", "τ = 0.6", "τ = 0.8"]
        assert len(ax.get_lines()) == 3
    for tau, line in zip(TAUS, latency.get_lines(), strict=True):
        assert list(line.get_xdata()) == list(SIZES)
        assert np.allclose(line.get_ydata(), [100 * tau + 10 * k + 0.5 for k in range(3)])
    for tau, line in zip(TAUS, shared.get_lines(), strict=True):
        assert np.allclose(line.get_ydata(), [(k + 1) / tau + 0.05 for k in range(3)])
    # Rejection percentages annotate the latency panel only: 25% at D = 15 for tau 0.4 and 0.6, plus drops.
    texts = sorted(t.get_text() for t in latency.texts)
    assert texts == ["25%", "25% / 2%"]
    assert not shared.texts
    # CI bands: one filled band per series, as wide as t(0.975, 1) * s / sqrt(2) = 12.706 * 0.5 on each side.
    band = latency.collections[0].get_paths()[0].vertices
    assert band[:, 1].max() - band[:, 1].min() == pytest.approx(
        (100 * 0.4 + 20.5 + 12.706 * 0.5) - (100 * 0.4 + 0.5 - 12.706 * 0.5)
    )


def test_categorical_x_uses_positions_and_tick_labels() -> None:
    mixes = ({"stm32h7": 7, "rpi3": 3}, {"stm32h7": 5, "rpi3": 5}, {"stm32h7": 3, "rpi3": 7})
    fig = single_metric(summary("participants.mix", mixes), ["privacy.max_ssim", "participants.mix"], "shared_bytes")
    (ax,) = fig.axes
    assert ax.get_xlabel() == "device mix (share of participants)"
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "70% stm32h7\n30% rpi3",
        "50% stm32h7\n50% rpi3",
        "30% stm32h7\n70% rpi3",
    ]
    assert [list(line.get_xdata()) for line in ax.get_lines()] == [[0.0, 1.0, 2.0]] * 3


def test_cnn_lists_label_the_categories() -> None:
    cnns = ([{"cnn": "lenet"}], [{"cnn": "vgg16", "count": 2}])
    fig = single_metric(summary("sources", cnns), ["privacy.max_ssim", "sources"], "total_latency_s")
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["lenet", "vgg16 ×2"]


def test_tradeoff_puts_tau_on_x_and_fleets_in_the_legend() -> None:
    fig = tradeoff(summary(), ["privacy.max_ssim", "participants.total"])
    latency, shared = fig.axes
    assert latency.get_xlabel() == shared.get_xlabel() == "tolerated SSIM τ"
    assert latency.get_ylabel() == "mean latency per served request (s)"
    assert shared.get_ylabel() == "shared data per served request (MB)"
    assert [t.get_text() for t in latency.get_legend().get_texts()] == ["D = 15", "D = 30", "D = 60"]
    assert list(latency.get_lines()[1].get_xdata()) == list(TAUS)
    assert np.allclose(latency.get_lines()[1].get_ydata(), [1.0 + tau + 1 for tau in TAUS])


def test_pareto_front_minimises_both() -> None:
    xs = [1.0, 2.0, 3.0, 2.0, 0.5, 1.0]
    ys = [5.0, 3.0, 4.0, 1.0, 9.0, 5.0]
    assert pareto_front(xs, ys) == [4, 0, 3]


def test_pareto_figure_draws_the_front_of_complete_points() -> None:
    table = summary()
    fig = pareto(table, ["privacy.max_ssim", "participants.total"])
    (ax,) = fig.axes
    assert ax.get_xlabel() == "shared data per served request (MB)"
    assert ax.get_ylabel() == "mean latency per served request (s)"
    (front,) = [line for line in ax.get_lines() if line.get_label() == "Pareto front"]
    complete = [r for r in table if r["dropped_mean"] == 0]
    xs = [r["shared_bytes_per_request_mean"] * 1e-6 for r in complete]
    ys = [r["latency_mean_s_mean"] for r in complete]
    expected = pareto_front(xs, ys)
    assert np.allclose(front.get_xdata(), [xs[i] for i in expected])
    assert np.allclose(front.get_ydata(), [ys[i] for i in expected])
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[:3] == ["τ = 0.4", "τ = 0.4 (dropped requests)", "τ = 0.6"]


def test_latency_cdf_steps_to_one() -> None:
    fig = latency_cdf({"a": [3.0, 1.0, 2.0], "b": [0.5, math.nan]}, by="privacy.max_ssim")
    (ax,) = fig.axes
    first, second = ax.get_lines()
    assert list(first.get_xdata()) == [1.0, 2.0, 3.0]
    assert np.allclose(first.get_ydata(), [1 / 3, 2 / 3, 1.0])
    assert list(second.get_xdata()) == [0.5]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a (n = 3)", "b (n = 1)"]
    assert ax.get_xlabel() == "per-request latency (s)"


def test_save_figure_writes_png_and_svg(tmp_path: Path) -> None:
    paths = save_figure(fig3(summary(), ["privacy.max_ssim", "participants.total"]), tmp_path / "f", "fig")
    assert [p.name for p in paths] == ["fig.png", "fig.svg"]
    assert paths[0].read_bytes().startswith(b"\x89PNG")
    assert b"<svg" in paths[1].read_bytes()[:2000]
    assert paths[0].stat().st_mode & 0o044 == 0o044  # readable like any file open() makes (umask 022 or laxer)


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real tiny sweep (tau x fleet size, 2 replications) with per-request latencies."""
    root = tmp_path_factory.mktemp("sweep")
    data = {
        "base": {
            "name": "tiny",
            "sources": [{"cnn": "lenet"}, {"cnn": "cifar_cnn"}],
            "participants": {"total": 12},
            "workload": {"requests": 20, "rate_per_s": 3.0},
            "privacy": {"max_ssim": 0.6},
        },
        "grid": {"privacy.max_ssim": [0.6, 0.8], "participants.total": [6, 12]},
        "replications": 2,
        "keep_latencies": True,
        "output": {"dir": str(root / "out")},
    }
    (root / "sweep.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    run_sweep(load_sweep(root / "sweep.yaml"), jobs=1)
    return root / "out"


def test_plots_from_a_sweep_directory(sweep_dir: Path) -> None:
    from distsim.experiments import read_results

    _params, rows = read_results(sweep_dir)
    fig = make_figure("fig3-latency", [sweep_dir])
    lines = fig.axes[0].get_lines()
    assert [list(line.get_xdata()) for line in lines] == [[6.0, 12.0], [6.0, 12.0]]
    expected = np.mean([r["total_latency_s"] for r in rows if r["point"] == 0])
    assert lines[0].get_ydata()[0] == pytest.approx(expected)
    cdf = make_figure("cdf", [sweep_dir])
    served = sum(r["served"] for r in rows if r["privacy.max_ssim"] == 0.6)
    assert next(t.get_text() for t in cdf.axes[0].get_legend().get_texts()) == f"τ = 0.6 (n = {served})"


def test_cli_plot_every_kind(sweep_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for kind in ("fig3", "fig3-shared", "tradeoff", "pareto", "cdf"):
        assert main(["plot", str(sweep_dir), "--kind", kind, "--out", str(tmp_path)]) == 0
        assert (tmp_path / f"{kind}.png").stat().st_size > 0
        assert (tmp_path / f"{kind}.svg").stat().st_size > 0
    assert main(["plot", str(sweep_dir), "--out", str(tmp_path), "--name", "default"]) == 0
    assert (tmp_path / "default.png").exists()
    assert main(["plot", str(tmp_path)]) == 2
    assert "not a sweep output directory" in capsys.readouterr().err
    assert main(["plot", str(sweep_dir), "--x", "nope"]) == 2
