"""Schedulers from outside distsim (issue 10.4): by import path and by entry point, from the CLI and sweeps."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from distsim.errors import InputError
from distsim.names import ENTRY_POINT_GROUP, check_scheduler, scheduler_class, scheduler_names
from distsim.run import simulate
from distsim.scenario import scenario_from_dict
from tests.conftest import scenario_dict

PLUGIN = '''
from typing import ClassVar

from distsim.scheduling.base import SchedulerParams
from distsim.scheduling.greedy import greedy_place


class Params(SchedulerParams):
    last: bool = False


class LowestId:
    """Every segment on the lowest-id (or, with last, highest-id) qualifying participant."""

    name: ClassVar[str] = "lowest_id"
    Params = Params

    def __init__(self, params, world, rng):
        self.params, self.world = params, world

    def place(self, request, view):
        def pick(request, layer, segment, qualifies):
            ids = qualifies.nonzero()[0]
            return int(ids[-1] if self.params.last else ids[0])

        return greedy_place(self.world, request, view, pick)
'''


def _plugin_dir(tmp_path: Path) -> Path:
    package = tmp_path / "myplug"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "sched.py").write_text(PLUGIN, encoding="utf-8")
    return tmp_path


def _distsim(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import sys; from distsim.cli import main; sys.exit(main(sys.argv[1:]))", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_import_path_through_distsim_run_and_sweep_with_two_jobs(tmp_path: Path) -> None:
    """A module in the working directory (not installed): ``distsim run`` and ``distsim sweep --jobs 2``."""
    here = _plugin_dir(tmp_path)
    base = scenario_dict(scheduler={"name": "myplug.sched:LowestId"}, workload={"requests": 8, "rate_per_s": 4.0})
    (here / "s.yaml").write_text(yaml.safe_dump(base), encoding="utf-8")
    run = _distsim(["run", "s.yaml", "--out", "out"], here)
    assert run.returncode == 0, run.stderr
    assert "myplug.sched:LowestId" in run.stdout and (here / "out" / "requests.csv").is_file()
    sweep = {"base": "s.yaml", "grid": {"scheduler.params.last": [False, True]}, "replications": 2}
    (here / "sw.yaml").write_text(yaml.safe_dump(sweep), encoding="utf-8")
    done = _distsim(["sweep", "sw.yaml", "--jobs", "2", "--out", "sw", "--no-progress"], here)
    assert done.returncode == 0, done.stderr
    assert "4 runs executed" in done.stdout
    rows = (here / "sw" / "results.csv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 1 + 4


def test_import_path_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(_plugin_dir(tmp_path)))
    result = simulate(scenario_from_dict(scenario_dict(scheduler={"name": "myplug.sched:LowestId"})))
    assert result.summary.scheduler == "myplug.sched:LowestId" and result.summary.served > 0


def test_entry_point_plugins_are_listed_and_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An installed package offering ``[distsim.schedulers] lowest_id = myplug.sched:LowestId``."""
    here = _plugin_dir(tmp_path)
    info = here / "myplug-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: myplug\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\nlowest_id = myplug.sched:LowestId\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(here))
    assert "lowest_id" in scheduler_names()
    assert scheduler_class("lowest_id").__name__ == "LowestId"
    result = simulate(scenario_from_dict(scenario_dict(scheduler={"name": "lowest_id", "params": {"last": True}})))
    assert result.summary.scheduler == "lowest_id" and result.summary.served > 0


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("nosuchpkg.sched:X", "No module named 'nosuchpkg'"),
        ("distsim.scheduling.base:NoSuchClass", "AttributeError"),
        ("distsim.scheduling.base:Request", "is not a scheduler: it lacks"),
        ("distsim.fields:MAX_SEED", "expected a class"),
        ("magic", "or an import path"),
    ],
)
def test_bad_import_paths_are_one_clear_error(name: str, words: str) -> None:
    with pytest.raises(InputError, match=r"scheduler\.name") as info:
        check_scheduler(name, {})
    assert words in str(info.value)


def test_example_plugin_params_are_validated() -> None:
    with pytest.raises(InputError, match=r"scheduler\.params\.rank_by"):
        check_scheduler("examples.fastest_first:FastestFirst", {"rank_by": "colour"})


def test_cli_error_for_a_missing_plugin_module(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(scenario_dict(scheduler={"name": "nope.mod:X"})), "utf-8")
    done = _distsim(["validate", "s.yaml"], tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "Traceback" not in done.stderr
    assert "s.yaml: scheduler.name: cannot load scheduler 'nope.mod:X'" in done.stderr
