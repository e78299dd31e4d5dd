"""The Figure-3 study as a benchmark: whole sweeps on both kernel paths, timed in one run.

The paper's Figure 3 takes three sweeps (``scenarios/fig3/``: participants,
device mix and CNN, each against tau). :func:`measure_study` runs each sweep
through the command line (``python -m distsim sweep FILE --jobs J``, fresh
worker processes) once with the compiled kernels (``DISTSIM_KERNEL=numba``)
and once on the Python path, one path after the other in the same benchmark
run, and reports the wall time of all the sweeps per path, their ratio, and
whether every ``results.csv`` is byte-identical across the paths (SHA-256).

The sweep files ship with the repository, not the wheel: from a wheel the full
suite skips the study and says so. The quick suite times a two-point sweep
over the packaged ``scenarios/quickstart.yaml`` instead.
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

#: The Figure-3 sweep files, in a checkout.
FIG3_DIR = Path(__file__).resolve().parent.parent.parent / "scenarios" / "fig3"
FIG3_SWEEPS = ("ab_participants", "cd_mix", "ef_cnn")
#: The paths timed, in order: the compiled kernels, then the readable Python path.
PATHS = ("numba", "python")


@dataclass(frozen=True)
class Study:
    """What :func:`measure_study` runs.

    Attributes:
        label: how the report names it.
        sweeps: sweep definitions by name (``base`` an absolute path), replications already set.
        jobs: local worker processes per sweep (``--jobs``).
    """

    label: str
    sweeps: dict[str, dict[str, Any]]
    jobs: int


def figure3(replications: int, jobs: int = 2) -> Study | None:
    """The three Figure-3 sweeps at ``replications``, or None when the checkout's files are not there."""
    if not all((FIG3_DIR / f"{name}.yaml").is_file() for name in FIG3_SWEEPS):
        return None
    sweeps = {}
    for name in FIG3_SWEEPS:
        source = FIG3_DIR / f"{name}.yaml"
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
        data["replications"] = replications
        data["base"] = str((source.parent / data["base"]).resolve())
        sweeps[name] = data
    return Study(f"Figure-3 study ({', '.join(FIG3_SWEEPS)}), {replications} replications", sweeps, jobs)


def quick_study(base: Path) -> Study:
    """A two-point, one-replication sweep over ``base`` (the quick suite's stand-in for Figure 3)."""
    sweep = {
        "name": "quick-study",
        "base": str(base),
        "grid": {"participants.total": [8, 12]},
        "replications": 1,
        "seed": 1,
    }
    # One in-process worker: the quick suite checks the plumbing and the equality, not the pool.
    return Study("two-point quickstart sweep, 1 replication", {"quick": sweep}, 1)


def measure_study(
    study: Study,
    run_child: Callable[[list[str], str | None], tuple[float, str]],
    load: Callable[[], str],
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """Run every sweep of ``study`` on each of :data:`PATHS`; one report row (see the module docstring).

    ``run_child(args, kernel)`` runs a command with ``DISTSIM_KERNEL=kernel``
    and returns its wall time, s; ``load()`` the load averages for the row.
    """
    walls = dict.fromkeys(PATHS, 0.0)
    digests: dict[str, list[str]] = {path: [] for path in PATHS}
    runs = 0
    with tempfile.TemporaryDirectory(prefix="distsim-perf-study-") as tmp:
        files = []
        for name, data in study.sweeps.items():
            file = Path(tmp) / f"{name}.yaml"
            file.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
            files.append(file)
        for path in PATHS:
            for file in files:
                out = Path(tmp) / path / file.stem
                command = [sys.executable, "-m", "distsim", "sweep", str(file), "--jobs", str(study.jobs)]
                wall, _ = run_child([*command, "--no-progress", "--out", str(out)], path)
                walls[path] += wall
                results = (out / "results.csv").read_bytes()
                digests[path].append(hashlib.sha256(results).hexdigest())
                if path == PATHS[0]:
                    runs += results.count(b"\n") - 1
            progress(f"study {study.label}, {path}: {runs} runs in {walls[path]:.1f} s (--jobs {study.jobs})")
    return {
        "what": f"{study.label}, --jobs {study.jobs}",
        "runs": runs,
        "compiled_s": walls["numba"],
        "python_s": walls["python"],
        "python_over_compiled": walls["python"] / walls["numba"],
        "identical": digests["numba"] == digests["python"],
        "load_average": load(),
    }
