"""Plots: the matplotlib objects carry the labels, series and data of the table they were built from."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from distsim.cli import main
from distsim.errors import InputError
from distsim.experiments import aggregate, load_sweep, run_sweep
from distsim.plots import fig3, latency_cdf, make_figure, pareto, pareto_front, save_figure, single_metric, tradeoff
from distsim.plots.checks import categorical_lines, negative_bands, referee, small_fonts
from distsim.plots.figures import default_x
from distsim.plots.labels import axis_label
from distsim.plots.style import MARKERS, FigureOptions, series_style

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


def _legend_texts(fig: Any) -> list[str]:
    (legend,) = fig.legends
    return [t.get_text() for t in legend.get_texts()]


def test_fig3_axes_series_and_data_match_the_table() -> None:
    fig = fig3(summary(), ["privacy.max_ssim", "participants.total"], x="participants.total")
    latency, shared, table = fig.axes
    assert latency.get_xlabel() == "participants D (devices)"
    assert latency.get_ylabel() == "total latency of served requests (s)"
    assert shared.get_ylabel() == "data shared between devices (GB)"
    assert _legend_texts(fig) == ["τ = 0.4", "τ = 0.6", "τ = 0.8"]
    assert fig.legends[0].get_title().get_text() == "tolerated SSIM τ"
    for ax in (latency, shared):
        assert len(ax.get_lines()) == 3
    for tau, line in zip(TAUS, latency.get_lines(), strict=True):
        assert list(line.get_xdata()) == list(SIZES)
        assert np.allclose(line.get_ydata(), [100 * tau + 10 * k + 0.5 for k in range(3)])
    for tau, line in zip(TAUS, shared.get_lines(), strict=True):
        assert np.allclose(line.get_ydata(), [(k + 1) / tau + 0.05 for k in range(3)])
    # Rejections and drops go to the table panel (rows: series, columns: x), not onto the data.
    assert not latency.texts and not shared.texts
    cells = {(r, c): cell.get_text().get_text() for (r, c), cell in table.tables[0].get_celld().items()}
    assert [cells[(0, c)] for c in range(3)] == ["15", "30", "60"]
    assert [cells[(r, -1)] for r in (1, 2, 3)] == ["τ = 0.4", "τ = 0.6", "τ = 0.8"]
    assert cells[(1, 0)] == "25 / 2" and cells[(2, 0)] == "25 / 0" and cells[(3, 0)] == "0 / 0"
    # Bands: the Student-t half-width h = 12.706 * 0.5 (t(0.975, 1) s / sqrt 2) on the log scale, m ×/÷ exp(h/m).
    band = latency.collections[0].get_paths()[0].vertices
    m, h = 100 * 0.4 + 0.5, 12.706 * 0.5
    assert band[:, 1].min() == pytest.approx(m / math.exp(h / m), rel=1e-5)
    assert band[:, 1].max() == pytest.approx((m + 20) * math.exp(h / (m + 20)), rel=1e-5)
    notes = [t.get_text() for t in fig.texts if t.get_gid() == "notes"]
    assert "means of 2 replications per point" in notes[0] and "log scale" in notes[0]
    assert referee(fig) == []


def test_default_x_is_the_numeric_parameter_with_most_values() -> None:
    rows = summary()
    assert default_x(["privacy.max_ssim", "participants.total"], rows) == "privacy.max_ssim"  # tie: sweep order
    more = summary(xs=(15, 30, 60, 120))
    assert default_x(["privacy.max_ssim", "participants.total"], more) == "participants.total"
    mixes = ({"stm32h7": 7, "rpi3": 3}, {"stm32h7": 5, "rpi3": 5}, {"stm32h7": 3, "rpi3": 7}, {"stm32h7": 1})
    assert default_x(["privacy.max_ssim", "participants.mix"], summary("participants.mix", mixes)) == "privacy.max_ssim"
    timing = summary("simulation.timing", ("analytic", "contention"))
    assert default_x(["simulation.timing", "privacy.max_ssim"], timing) == "privacy.max_ssim"


def test_categorical_x_draws_grouped_points_not_lines() -> None:
    mixes = ({"stm32h7": 7, "rpi3": 3}, {"stm32h7": 5, "rpi3": 5}, {"stm32h7": 3, "rpi3": 7})
    fig = single_metric(
        summary("participants.mix", mixes),
        ["privacy.max_ssim", "participants.mix"],
        "shared_bytes",
        x="participants.mix",
    )
    (ax,) = fig.axes
    assert ax.get_xlabel() == "device mix (share of participants)"
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "70% stm32h7\n30% rpi3",
        "50% stm32h7\n50% rpi3",
        "30% stm32h7\n70% rpi3",
    ]
    lines = [line for line in ax.get_lines() if line.get_marker() in MARKERS]
    assert len(lines) == 3 and all(line.get_linestyle() == "None" for line in lines)
    # Series side by side around each category position.
    offsets = [line.get_xdata()[0] for line in lines]
    assert offsets[0] < 0 < offsets[2] and offsets[1] == pytest.approx(0.0)
    assert categorical_lines(fig) == [] and referee(fig) == []


def test_cnn_lists_label_the_categories() -> None:
    cnns = ([{"cnn": "lenet"}], [{"cnn": "vgg16", "count": 2}])
    fig = single_metric(summary("sources", cnns), ["privacy.max_ssim", "sources"], "total_latency_s", x="sources")
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["lenet", "vgg16 ×2"]


def test_tradeoff_puts_tau_on_x_and_fleets_in_the_legend() -> None:
    fig = tradeoff(summary(), ["privacy.max_ssim", "participants.total"])
    latency, shared, _table = fig.axes
    assert latency.get_xlabel() == shared.get_xlabel() == "tolerated SSIM τ"
    assert latency.get_ylabel() == "mean latency per served request (s)"
    assert shared.get_ylabel() == "shared data per served request (MB)"
    assert _legend_texts(fig) == ["D = 15", "D = 30", "D = 60"]
    assert fig.legends[0].get_title().get_text() == "participants D (devices)"
    assert list(latency.get_lines()[1].get_xdata()) == list(TAUS)
    assert np.allclose(latency.get_lines()[1].get_ydata(), [1.0 + tau + 1 for tau in TAUS])


def test_coinciding_series_are_drawn_once_and_named_together() -> None:
    rows = synthetic_rows()
    for row in rows:  # D = 30 and D = 60 give the same results
        if row["participants.total"] == 60:
            twin = next(
                r
                for r in rows
                if r["participants.total"] == 30
                and r["privacy.max_ssim"] == row["privacy.max_ssim"]
                and r["replication"] == row["replication"]
            )
            for key in (
                "total_latency_s",
                "shared_bytes",
                "latency_mean_s",
                "shared_bytes_per_request",
                "rejection_rate",
                "dropped",
            ):
                row[key] = twin[key]
    table = aggregate(
        rows,
        ["privacy.max_ssim", "participants.total"],
        metrics=[
            "total_latency_s",
            "shared_bytes",
            "rejection_rate",
            "dropped",
            "requests",
            "latency_mean_s",
            "shared_bytes_per_request",
        ],
    )
    fig = tradeoff(table, ["privacy.max_ssim", "participants.total"])
    assert _legend_texts(fig) == ["D = 15", "D = 30, 60"]
    assert len(fig.axes[0].get_lines()) == 2
    notes = " ".join(t.get_text() for t in fig.texts)
    assert "D = 30, 60: equal within 1% in every panel" in notes


def test_bands_of_a_wide_interval_stay_positive() -> None:
    rows = synthetic_rows()
    for row in rows:  # replications 0 and 1 of one point: 5 s and 1000 s, t interval 502 ± 6327 s
        if row["point"] == 0:
            row["total_latency_s"] = 5.0 if row["replication"] == 0 else 1000.0
    table = aggregate(
        rows,
        ["privacy.max_ssim", "participants.total"],
        metrics=["total_latency_s", "shared_bytes", "rejection_rate", "dropped", "requests"],
    )
    assert table[0]["total_latency_s_mean"] - table[0]["total_latency_s_ci95"] < 0
    fig = fig3(table, ["privacy.max_ssim", "participants.total"], x="participants.total")
    assert negative_bands(fig) == []
    assert fig.axes[0].collections[0].get_paths()[0].vertices[:, 1].min() > 0


def test_labels_are_overridable_and_unknown_paths_are_readable() -> None:
    opts = FigureOptions(labels={"participants.total": "fleet size"})
    fig = single_metric(
        summary(), ["privacy.max_ssim", "participants.total"], "shared_bytes", x="participants.total", opts=opts
    )
    assert fig.axes[0].get_xlabel() == "fleet size (devices)"
    assert axis_label("participants.groups.0.count") == "participants in group #1 (devices)"
    assert axis_label("budgets.window_s") == "budget window W (s)"
    assert axis_label("network.foo_bytes") == "network foo (bytes)"


def test_style_sizes_fonts_and_24_distinguishable_series() -> None:
    styles = [series_style(i) for i in range(24)]
    assert len({(s["color"], s["marker"]) for s in styles}) == 24
    assert len({(s["color"], s["marker"], s["linestyle"]) for s in styles}) == 24
    assert FigureOptions(size="column").figsize() == (3.5, 2.6)
    assert FigureOptions(size="3x2").figsize() == (3.0, 2.0)
    assert FigureOptions(style="talk").figsize() == (10.0, 5.625)
    for style in ("paper", "talk"):
        fig = fig3(summary(), ["privacy.max_ssim", "participants.total"], opts=FigureOptions(style=style))
        assert small_fonts(fig) == []
    with pytest.raises(InputError, match="--size"):
        FigureOptions(size="huge")


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
    (front,) = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    complete = [r for r in table if r["dropped_mean"] == 0]
    xs = [r["shared_bytes_per_request_mean"] * 1e-6 for r in complete]
    ys = [r["latency_mean_s_mean"] for r in complete]
    expected = pareto_front(xs, ys)
    assert np.allclose(front.get_xdata(), [xs[i] for i in expected])
    assert np.allclose(front.get_ydata(), [ys[i] for i in expected])
    assert _legend_texts(fig) == ["τ = 0.4", "τ = 0.6", "τ = 0.8", "hollow: dropped requests", "Pareto front"]
    # Front points carry the fleet size, placed where no label or marker overlaps.
    assert {t.get_text() for t in ax.texts} <= {f"D = {d}" for d in SIZES}
    assert ax.texts and referee(fig) == []


def test_place_labels_never_overlaps() -> None:
    from matplotlib.figure import Figure

    from distsim.plots.annotate import place_labels
    from distsim.plots.checks import overlapping_texts

    fig = Figure(figsize=(3.5, 2.6))
    ax = fig.subplots()
    ax.plot([1.0, 1.01, 1.02, 2.0], [1.0, 1.0, 1.01, 2.0], "o")
    unplaced = place_labels(ax, [(1.0, 1.0, "first label"), (1.01, 1.0, "second label"), (1.02, 1.01, "third")], 7)
    assert overlapping_texts(fig) == []
    assert len(ax.texts) + len(unplaced) == 3


def test_latency_cdf_steps_to_one() -> None:
    fig = latency_cdf({"a": [3.0, 1.0, 2.0], "b": [0.5, math.nan]}, by="privacy.max_ssim")
    (ax,) = fig.axes
    first, second = ax.get_lines()
    assert list(first.get_xdata()) == [1.0, 2.0, 3.0]
    assert np.allclose(first.get_ydata(), [100 / 3, 200 / 3, 100.0])
    assert list(second.get_xdata()) == [0.5]
    assert _legend_texts(fig) == ["a (n = 3)", "b (n = 1)"]
    assert ax.get_xlabel() == "per-request latency (s)"
    assert referee(fig) == []


def test_save_figure_writes_pdf_svg_png(tmp_path: Path) -> None:
    paths = save_figure(fig3(summary(), ["privacy.max_ssim", "participants.total"]), tmp_path / "f", "fig")
    assert [p.name for p in paths] == ["fig.pdf", "fig.svg", "fig.png"]
    assert paths[0].read_bytes().startswith(b"%PDF")
    assert b"/FontFile2" in paths[0].read_bytes()  # TrueType fonts embedded (print-ready)
    assert b"<svg" in paths[1].read_bytes()[:2000]
    assert paths[2].read_bytes().startswith(b"\x89PNG")
    assert paths[2].stat().st_mode & 0o044 == 0o044  # readable like any file open() makes (umask 022 or laxer)
    again = save_figure(fig3(summary(), ["privacy.max_ssim", "participants.total"]), tmp_path / "g", "fig")
    assert [p.read_bytes() for p in paths] == [p.read_bytes() for p in again]  # deterministic bytes
    from PIL import Image

    opts = FigureOptions(size="column", dpi=600, formats=("png",))
    (png,) = save_figure(
        single_metric(summary(), ["privacy.max_ssim", "participants.total"], "shared_bytes", opts=opts),
        tmp_path,
        "col",
        opts,
    )
    with Image.open(png) as image:
        assert image.size[0] == 3.5 * 600


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
    assert _legend_texts(cdf)[0] == f"τ = 0.6 (n = {served})"


def test_cli_plot_every_kind(sweep_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for kind in ("fig3", "fig3-shared", "tradeoff", "pareto", "cdf"):
        assert main(["plot", str(sweep_dir), "--kind", kind, "--out", str(tmp_path)]) == 0
        for ext in ("pdf", "svg", "png"):
            assert (tmp_path / f"{kind}.{ext}").stat().st_size > 0
    assert (
        main(
            [
                "plot",
                str(sweep_dir),
                "--kind",
                "fig3-latency",
                "--out",
                str(tmp_path / "p"),
                "--format",
                "pdf",
                "--style",
                "paper",
                "--size",
                "column",
                "--label",
                "participants.total=fleet size",
            ]
        )
        == 0
    )
    assert [p.name for p in (tmp_path / "p").iterdir()] == ["fig3-latency.pdf"]
    assert main(["plot", str(sweep_dir), "--format", "gif"]) == 2
    assert "--format" in capsys.readouterr().err
    assert main(["plot", str(sweep_dir), "--out", str(tmp_path), "--name", "default"]) == 0
    assert (tmp_path / "default.png").exists()
    assert main(["plot", str(tmp_path)]) == 2
    assert "not a sweep output directory" in capsys.readouterr().err
    assert main(["plot", str(sweep_dir), "--x", "nope"]) == 2


def test_fleet_plot_kinds_draw_sweeps(tmp_path: Path) -> None:
    """energy, lifetime and churn kinds (docs/energy.md, docs/dynamics.md) on a tiny sweep pass the referee."""
    from distsim.experiments.runner import run_sweep
    from distsim.experiments.spec import load_sweep
    from distsim.plots.checks import referee
    from distsim.plots.kinds import KINDS, PlotRequest
    from distsim.plots.style import FigureOptions

    sweep = tmp_path / "s.yaml"
    sweep.write_text(
        "name: s\nbase:\n  name: s\n  sources: [{cnn: lenet}]\n  participants: {groups: [{type: rpi3, count: 8}]}\n"
        "  devices: {rpi3: {battery_wh: 0.0002, power: {idle_w: 0.0}}}\n  energy: {batteries: true}\n"
        "  churn: {random: {rpi3: {up_mean_s: 5.0, down_mean_s: 1.0}}}\n"
        "  workload: {requests: 60, rate_per_s: 10.0}\n  privacy: {max_ssim: 0.6}\n"
        "grid:\n  privacy.max_ssim: [0.4, 0.8]\nreplications: 2\n"
        f"output: {{dir: {tmp_path / 'out'}}}\n",
        encoding="utf-8",
    )
    run_sweep(load_sweep(sweep), jobs=1)
    for kind in ("energy", "lifetime", "churn"):
        fig = KINDS[kind].load()(PlotRequest([tmp_path / "out"], FigureOptions(formats=("png",))))
        assert referee(fig) == [], kind
