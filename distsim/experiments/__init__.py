"""Experiments: parameter sweeps with replications, their execution and aggregation.

>>> from distsim.experiments import load_sweep, run_sweep
>>> result = run_sweep(load_sweep("scenarios/fig3/ab_participants.yaml"), jobs=2)  # doctest: +SKIP

See ``docs/sweeps.md``.
"""

from distsim.experiments.aggregate import aggregate, mean_ci95, t_quantile_975
from distsim.experiments.frames import load_table
from distsim.experiments.runner import SweepResult, connect_dask, make_tasks, run_sweep, run_task
from distsim.experiments.spec import Point, Sweep, SweepSpec, load_sweep, replication_seed, sweep_from_dict
from distsim.experiments.table import read_manifest, read_results

__all__ = [
    "Point",
    "Sweep",
    "SweepResult",
    "SweepSpec",
    "aggregate",
    "connect_dask",
    "load_sweep",
    "load_table",
    "make_tasks",
    "mean_ci95",
    "read_manifest",
    "read_results",
    "replication_seed",
    "run_sweep",
    "run_task",
    "sweep_from_dict",
    "t_quantile_975",
]
