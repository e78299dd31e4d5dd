"""Figure tests that can fail: every plot kind, built from small sweeps and runs made here, passes the referee
checks of distsim.plots.checks (no band below zero for non-negative metrics, every legend titled, no two
labels overlapping, every axis labelled with a unit, no lines across categories, no text under 7 pt);
the benchmark figures, the Gantt chart and the HTML report likewise."""

from __future__ import annotations

import html.parser
import math
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from distsim.cli import main
from distsim.experiments import load_sweep, run_sweep
from distsim.plots.checks import (
    categorical_lines,
    negative_bands,
    overlapping_texts,
    referee,
    unlabelled_axes,
    untitled_legends,
)
from distsim.plots.io import make_figure
from distsim.plots.kinds import KINDS
from distsim.plots.style import FigureOptions

BASE = {
    "name": "tiny",
    "sources": [{"cnn": "lenet"}, {"cnn": "cifar_cnn"}],
    "participants": {"total": 12},
    "workload": {"requests": 12, "rate_per_s": 3.0},
    "privacy": {"max_ssim": 0.6},
}


def _sweep(root: Path, grid: dict[str, Any], keep: bool = False) -> Path:
    data = {"base": BASE, "grid": grid, "replications": 2, "keep_latencies": keep, "output": {"dir": str(root / "out")}}
    (root / "sweep.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    run_sweep(load_sweep(root / "sweep.yaml"), jobs=1)
    return root / "out"


@pytest.fixture(scope="module")
def numeric_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tau x fleet size (the shape of Figure 3 (a, b) and the trade-off views), with per-request latencies."""
    grid = {"privacy.max_ssim": [0.4, 0.6, 0.8], "participants.total": [4, 8, 16]}
    return _sweep(tmp_path_factory.mktemp("numeric"), grid, keep=True)


@pytest.fixture(scope="module")
def mix_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tau x device mix (the shape of Figure 3 (c, d)): a categorical parameter."""
    grid = {
        "privacy.max_ssim": [0.4, 0.8],
        "participants.mix": [{"stm32h7": 7, "rpi3": 3}, {"stm32h7": 3, "rpi3": 7}, {"rpi3": 1}],
    }
    return _sweep(tmp_path_factory.mktemp("mix"), grid)


def test_every_sweep_kind_passes_the_referee(numeric_sweep: Path) -> None:
    sweep_kinds = [k for k in KINDS if k in ("fig3", "fig3-latency", "fig3-shared", "tradeoff", "pareto", "cdf")]
    for kind in sweep_kinds:
        assert referee(make_figure(kind, [numeric_sweep])) == [], kind
    for opts in (FigureOptions(style="talk"), FigureOptions(size="column")):
        assert referee(make_figure("fig3", [numeric_sweep], opts=opts)) == [], (opts.style, opts.size)


def test_docs_figure_commands_pass_the_referee(numeric_sweep: Path, mix_sweep: Path) -> None:
    """The kinds and options the docs figures are made with (docs/paper-reproduction.md), on small sweeps."""
    for kind, sweep, x in (
        ("fig3", numeric_sweep, "participants.total"),
        ("tradeoff", numeric_sweep, None),
        ("pareto", numeric_sweep, None),
        ("cdf", numeric_sweep, None),
        ("fig3", mix_sweep, "participants.mix"),
        ("fig3", mix_sweep, None),
    ):
        fig = make_figure(kind, [sweep], opts=FigureOptions(x=x))
        assert referee(fig) == [], (kind, x)


def test_categorical_sweep_draws_no_lines_across_categories(mix_sweep: Path) -> None:
    fig = make_figure("fig3", [mix_sweep], opts=FigureOptions(x="participants.mix"))
    latency = fig.axes[0]
    assert [t.get_text() for t in latency.get_xticklabels()] == [
        "70% stm32h7\n30% rpi3",
        "30% stm32h7\n70% rpi3",
        "100% rpi3",
    ]
    assert categorical_lines(fig) == []
    # A line through the categories is what the check exists to catch.
    latency.plot([0, 1, 2], [1.0, 2.0, 3.0], linestyle="-")
    assert categorical_lines(fig)


def test_checks_catch_what_a_referee_would_send_back() -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3.5, 2.6))
    ax = fig.subplots()
    ax.plot([1, 2, 3], [1.0, 2.0, 3.0], label="a")
    ax.fill_between([1, 2, 3], [-1.0, 1.0, 2.0], [2.0, 3.0, 4.0])
    ax.set_ylabel("total latency of served requests (s)")
    ax.legend()
    ax.annotate("29% / 27%", (2, 2))
    ax.annotate("36% / 27%", (2, 2))
    problems = referee(fig)
    assert negative_bands(fig) and untitled_legends(fig) and overlapping_texts(fig)
    assert unlabelled_axes(fig) == ["x axis without a label"]
    ax.set_xlabel("participants.groups.0.count")
    assert unlabelled_axes(fig) == ["x axis label without a unit: 'participants.groups.0.count'"]
    assert len(problems) >= 4


def test_pdf_paper_style_is_print_ready(numeric_sweep: Path, tmp_path: Path) -> None:
    assert main(["plot", str(numeric_sweep), "--format", "pdf", "--style", "paper", "--out", str(tmp_path)]) == 0
    (pdf,) = tmp_path.iterdir()
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and b"/FontFile2" in data and b"/Type3" not in data
    # MediaBox is the printed size: 7.16 in wide (double column) = 515.5 pt.
    assert b"/MediaBox [ 0 0 515.52" in data


def test_gantt_shows_every_busy_row_and_names_the_requests(tmp_path: Path) -> None:
    from distsim import simulate
    from distsim.plots.gantt import gantt_figure
    from distsim.scenario import scenario_from_dict
    from distsim.world import build_world

    data = {**BASE, "simulation": {"timing": "contention", "seed": 3}, "workload": {"requests": 8, "rate_per_s": 4.0}}
    result = simulate(build_world(scenario_from_dict(data)), trace=True)
    timeline = result.timeline
    assert timeline is not None
    end = max(s.end_at for s in timeline.spans)
    rows = {(s.device, s.lane, s.slot) for s in timeline.spans}
    fig = gantt_figure(timeline, 0.0, end)
    (ax,) = fig.axes
    assert len(ax.get_yticklabels()) == len(rows)
    assert f"all {len(rows)} busy rows" in ax.get_title(loc="left")
    (legend,) = fig.legends
    assert legend.get_title().get_text().startswith("request id")
    assert {t.get_text() for t in legend.get_texts()} == {str(s.request_id) for s in timeline.spans}
    assert untitled_legends(fig) == [] and unlabelled_axes(fig) == []
    few = gantt_figure(timeline, 0.0, end, max_rows=2)
    assert len(few.axes[0].get_yticklabels()) == 2
    assert f"{len(rows) - 2} left out; --gantt-rows all shows every row" in few.axes[0].get_title(loc="left")


def _scheduler_rows() -> list[dict[str, Any]]:
    rows = []
    for cnn in ("lenet", "cifar_cnn"):
        for seed in (0, 1):
            for name, factor, t in (("exact", 1.0, 2.0), ("distprivacy", 2.0, 1e-3), ("source_only", math.nan, 1e-4)):
                latency = (0.1 if cnn == "lenet" else 1.0) * factor * (1 + seed)
                rows.append(
                    {
                        "cnn": cnn,
                        "participants": 10,
                        "tau": 0.4,
                        "seed": seed,
                        "scheduler": name,
                        "latency_s": latency,
                        "decision_s": t * (1 + seed),
                    }
                )
    return rows


def test_scheduler_benchmark_figure() -> None:
    from distsim.plots.bench import scheduler_figure

    fig = scheduler_figure(_scheduler_rows(), ["distprivacy", "source_only"])
    ratio, times = fig.axes[:2]
    assert ratio.get_yscale() == "linear" and ratio.get_ylim()[0] == 0.0  # bars on a linear axis from 0
    heights = [p.get_height() for p in ratio.patches]
    assert heights[:3] == pytest.approx([1.0, 2.0, 0.0])  # lenet: exact, distprivacy, source_only (rejected)
    assert [t.get_text() for t in ratio.texts] == ["all rejected", "all rejected"]
    assert times.get_yscale() == "log" and not times.patches  # decision time: points, not bars, on a log axis
    assert referee(fig) == []


def test_perf_figures_have_sane_axes() -> None:
    from distsim.plots.bench import perf_decisions_figure, perf_scaling_figure

    decisions = [
        {"cnn": c, "participants": d, "load": load, "fast_ms": 0.5 * d**0.1, "reference_s": 1e-4 * d}
        for c in ("lenet", "vgg16")
        for d in (10, 100, 1000)
        for load in ("idle", "loaded")
    ]
    assert referee(perf_decisions_figure(decisions)) == []
    scaling = [
        {"participants": d, "requests": n, "run_wall_s": n * 1e-3, "floor_s": n * 1e-5, "peak_rss_mb": 66.5 + 0.01 * k}
        for d in (100, 1000)
        for k, n in enumerate((1000, 10000, 100000))
    ]
    fig = perf_scaling_figure(scaling)
    memory = fig.axes[1]
    assert memory.get_ylim()[0] == 0.0 and memory.get_ylim()[1] > 66.5  # not a 0.02 MB wide axis
    assert referee(fig) == []


def test_timing_divergence_figure() -> None:
    from distsim.plots.bench import timing_divergence_figure

    rng = np.random.default_rng(1)
    rows = [
        {
            "timing": m,
            "rate_per_s": r,
            "seed": s,
            "latency_mean_s": (1 + r) * (2 if m == "contention" else 1) * rng.uniform(0.1, 3),
            "latency_p95_s": 4 * (1 + r),
            "queue_mean_s": 0.1 * r,
            "wait_mean_s": 0.2 * r,
            "service_mean_s": 1.0,
        }
        for m in ("analytic", "contention")
        for r in (0.5, 1.0, 2.0)
        for s in (1, 2)
    ]
    fig = timing_divergence_figure(rows)
    assert referee(fig) == []


class _Page(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.external: list[str] = []
        self.cells = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href") and value and not value.startswith("#"):
                self.external.append(value)
        if tag == "td":
            self.cells += 1


def _check_page(path: Path) -> _Page:
    text = path.read_text(encoding="utf-8")
    page = _Page()
    page.feed(text)
    assert text.startswith("<!DOCTYPE html>")
    assert "script" not in page.tags and "link" not in page.tags and "img" not in page.tags
    assert page.external == []  # nothing fetched: the page opens from disk with no network
    # Namespace names (xmlns="http://www.w3.org/2000/svg") identify, they are never fetched.
    bare = re.sub(r'xmlns(:\w+)?="[^"]*"', "", text)
    assert "http://" not in bare and "https://" not in bare
    return page


def _render(path: Path, tmp_path: Path) -> str | None:
    browser = next((b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
    if browser is None:
        return None
    out = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            path.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return out.stdout


def test_sweep_report_is_self_contained(numeric_sweep: Path, tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    assert main(["report", str(numeric_sweep), "--out", str(target)]) == 0
    page = _check_page(target)
    assert page.tags.count("svg") == 4  # fig3, tradeoff, pareto, cdf
    text = target.read_text(encoding="utf-8")
    assert "SHA-256" in text and "results.csv" in text and "replication seeds" in text
    assert page.tags.count("tr") >= 9 + 1  # 9 points and a header
    dom = _render(target, tmp_path)
    if dom is None:
        pytest.skip("no headless browser on this machine (the parse checks above ran)")
    assert "distsim sweep report" in dom and dom.count("<svg") == 4


def test_run_report_is_self_contained(tmp_path: Path) -> None:
    from distsim import simulate
    from distsim.scenario import scenario_from_dict
    from distsim.world import build_world

    simulate(build_world(scenario_from_dict(BASE)), out_dir=tmp_path / "run")
    assert main(["report", str(tmp_path / "run")]) == 0
    target = tmp_path / "run" / "report.html"
    page = _check_page(target)
    assert page.tags.count("svg") == 1
    text = target.read_text(encoding="utf-8")
    assert "requests.csv" in text and "Scenario as run" in text
    assert main(["report", str(tmp_path)]) == 2
    # The hashes come from the run's manifest, not recomputed by the page.
    for name in ("requests.csv", "devices.csv", "summary.json", "scenario.yaml"):
        assert f'{name}</td><td class="l"><code>' in text
        row = text.split(f"{name}</td>", 1)[1].split("</tr>", 1)[0]
        assert row.endswith(">manifest</td>"), row
    dom = _render(target, tmp_path)
    if dom is None:
        pytest.skip("no headless browser on this machine (the parse checks above ran)")
    assert "distsim run report" in dom


def test_report_refuses_a_run_folder_that_does_not_match_its_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from distsim import simulate
    from distsim.scenario import scenario_from_dict
    from distsim.world import build_world

    simulate(build_world(scenario_from_dict(BASE)), out_dir=tmp_path / "run")
    with open(tmp_path / "run" / "requests.csv", "a", encoding="utf-8") as handle:
        handle.write("tampered\n")
    assert main(["report", str(tmp_path / "run"), "--out", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "requests.csv does not match its SHA-256" in err[0]
    assert not (tmp_path / "r.html").exists()
