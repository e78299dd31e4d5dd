"""Benchmark suites, shipped inside the package so that they run from an installed wheel.

One table, :data:`SUITES`, lists every suite; ``distsim bench WHAT`` and
``python -m distsim.benchmarks WHAT`` (and, from a checkout,
``python -m benchmarks WHAT``) are built from it, so all three offer the same
suites with the same options. A suite is a function ``run(out, quick,
progress) -> Path`` that measures, writes its tables and figures into ``out``
and returns the path of its main report. Suites import their heavy
dependencies only when they run.

The scenarios a suite times (``scenarios/paper.yaml``, ``quickstart.yaml``)
are packaged under ``distsim/data/scenarios/`` (:func:`packaged_scenario`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Suite:
    """One benchmark suite.

    Attributes:
        name: the ``WHAT`` of ``distsim bench WHAT``.
        help: one line for ``--help``.
        module: module holding ``run(out, *, quick, progress) -> Path``.
        outputs: the files it writes, for the closing line.
    """

    name: str
    help: str
    module: str
    outputs: str

    def run(self, out: Path, *, quick: bool, progress: Progress) -> Path:
        """Import the suite's module and run it; returns the path of its main report."""
        runner = importlib.import_module(self.module).run
        report: Path = runner(out, quick=quick, progress=progress)
        return report

    @property
    def default_out(self) -> Path:
        """``results/bench-<name>``, relative to the working directory."""
        return Path("results") / f"bench-{self.name}"


SUITES: dict[str, Suite] = {
    suite.name: suite
    for suite in (
        Suite(
            "perf",
            "decision time, end-to-end runs, scaling, SimPy floor (docs/performance.md)",
            "distsim.benchmarks.perf",
            "perf.md, decisions.csv, runs.csv, scaling.csv, perf_*.png",
        ),
        Suite(
            "schedulers",
            "every scheduler against the CP-SAT optimum (docs/schedulers.md)",
            "distsim.benchmarks.schedulers",
            "schedulers.csv, batch.csv, target.csv, schedulers.md, schedulers.png",
        ),
        Suite(
            "baselines",
            "baseline decision and paper.yaml run times beside DistPrivacy's (docs/performance.md)",
            "distsim.benchmarks.baselines",
            "baselines.csv, baselines_runs.csv, baselines.md",
        ),
        Suite(
            "timing",
            "analytic vs contention latency as load grows (docs/timing-models.md)",
            "distsim.benchmarks.timing_divergence",
            "timing_divergence.csv, timing_divergence.png",
        ),
    )
}


def packaged_scenario(name: str) -> Path:
    """Path of a scenario shipped with the package (``paper`` or ``quickstart``)."""
    return Path(str(resources.files("distsim.data") / "scenarios" / f"{name}.yaml"))
