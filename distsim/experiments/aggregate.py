"""Mean and 95% confidence interval per point over replications (``summary.csv``).

For each numeric summary metric ``m`` a point gets ``m_mean`` and ``m_ci95``,
the half-width of the two-sided 95% Student-t interval of the mean:
``t(0.975, n-1) * s / sqrt(n)`` with ``s`` the sample standard deviation
(``ddof = 1``) over the ``n`` replications whose value is finite (a run that
served nothing has NaN latency percentiles). With ``n = 1`` the half-width is
NaN (empty cell). ``n_runs`` counts the replications of the point.

The t quantiles are scipy's (``scipy.stats.t.ppf(0.975, n - 1)``), exact for
every number of replications.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from distsim.experiments.table import numeric_metrics, write_csv_atomic


def t_quantile_975(df: int) -> float:
    """The two-sided 95% Student-t quantile t(0.975, df) from scipy (NaN for df < 1)."""
    if df < 1:
        return math.nan
    from scipy.stats import t  # here: scipy loads only when a sweep is aggregated

    return float(t.ppf(0.975, df))


def mean_ci95(values: Iterable[float]) -> tuple[float, float, int]:
    """Mean, 95% CI half-width and count of the finite values (NaN, NaN, 0 if none)."""
    arr = np.asarray([v for v in values if v is not None], dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    n = int(arr.size)
    if n == 0:
        return math.nan, math.nan, 0
    mean = float(arr.mean())
    if n == 1:
        return mean, math.nan, 1
    half = t_quantile_975(n - 1) * float(arr.std(ddof=1)) / math.sqrt(n)
    return mean, half, n


def aggregate(
    rows: Sequence[dict[str, Any]], params: Sequence[str], metrics: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """One row per point (in point order): the parameters, ``n_runs``, ``<metric>_mean``, ``<metric>_ci95``."""
    names = list(metrics) if metrics is not None else numeric_metrics()
    by_point: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        by_point.setdefault(int(row["point"]), []).append(row)
    out = []
    for point in sorted(by_point):
        group = by_point[point]
        agg: dict[str, Any] = {"point": point}
        for name in params:
            agg[name] = group[0][name]
        agg["n_runs"] = len(group)
        for metric in names:
            mean, half, _ = mean_ci95(float(r[metric]) for r in group)
            agg[f"{metric}_mean"] = mean
            agg[f"{metric}_ci95"] = half
        out.append(agg)
    return out


def summary_columns(params: Sequence[str], metrics: Sequence[str] | None = None) -> list[str]:
    """Column order of ``summary.csv``."""
    names = list(metrics) if metrics is not None else numeric_metrics()
    return ["point", *params, "n_runs", *(f"{m}_{s}" for m in names for s in ("mean", "ci95"))]


def write_summary_csv(path: Path, summary: Sequence[dict[str, Any]], params: Sequence[str]) -> Path:
    """Write ``summary.csv`` atomically."""
    return write_csv_atomic(path, summary_columns(params), summary)
