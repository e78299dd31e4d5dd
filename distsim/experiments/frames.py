"""Sweep tables as pandas DataFrames (the optional ``frames`` extra: ``pip install 'distsim[frames]'``).

>>> from distsim.experiments import load_table          # doctest: +SKIP
>>> runs = load_table("results/fig3-ab")                 # one row per run: point, replication, seed, params, metrics
>>> means = load_table("results/fig3-ab", "summary")     # one row per point: <metric>_mean, <metric>_ci95, n_runs

Columns keep the tables' types: grid values as their YAML values, integers
as integers, an empty cell (a metric undefined for a run) as NaN. pandas is
imported only when a frame is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from distsim.errors import InputError
from distsim.optional import pandas
from distsim.reading import MAX_RESULT_BYTES, read_text


def load_table(out_dir: str | Path, table: Literal["results", "summary"] = "results") -> Any:
    """A sweep output folder's ``results.csv`` (one row per run) or ``summary.csv`` (per point) as a DataFrame."""
    pd = pandas()
    if table == "results":
        from distsim.experiments.table import read_results

        params, rows = read_results(out_dir)
        frame = pd.DataFrame(rows)
        return frame
    if table == "summary":
        import io

        from distsim.experiments.table import verified_definition

        params = [str(p) for p in verified_definition(out_dir)["params"]]
        path = Path(out_dir) / "summary.csv"
        if not path.is_file():
            raise InputError("no summary.csv: the sweep has not finished", file=str(out_dir))
        text = read_text(path, limit=MAX_RESULT_BYTES, what="summary.csv")
        # Grid values stay text here (a YAML list or mapping cell would not parse as a number).
        return pd.read_csv(io.StringIO(text), dtype={name: "object" for name in params})
    raise ValueError(f"expected table 'results' or 'summary', got {table!r}")
