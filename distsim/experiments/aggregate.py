"""Mean and 95% confidence interval per point over replications (``summary.csv``).

For each numeric summary metric ``m`` a point gets ``m_mean`` and ``m_ci95``,
the half-width of the two-sided 95% Student-t interval of the mean:
``t(0.975, n-1) * s / sqrt(n)`` with ``s`` the sample standard deviation
(``ddof = 1``) over the ``n`` replications whose value is finite (a run that
served nothing has NaN latency percentiles). With ``n = 1`` the half-width is
NaN (empty cell). ``n_runs`` counts the replications of the point.

The t quantiles come from a small table (scipy is not a dependency): exact
for 1-30 degrees of freedom, then 40, 60, 120 and the normal 1.960; between
tabulated values the next *smaller* degree of freedom is used, so the interval
is never narrower than the exact one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from distsim.experiments.table import numeric_metrics, write_csv_atomic

#: Two-sided 95% Student-t quantiles t(0.975, df).
T_975: dict[int, float] = {
    1: 12.706,
    2: 4.303,
    3: 3.182,
    4: 2.776,
    5: 2.571,
    6: 2.447,
    7: 2.365,
    8: 2.306,
    9: 2.262,
    10: 2.228,
    11: 2.201,
    12: 2.179,
    13: 2.160,
    14: 2.145,
    15: 2.131,
    16: 2.120,
    17: 2.110,
    18: 2.101,
    19: 2.093,
    20: 2.086,
    21: 2.080,
    22: 2.074,
    23: 2.069,
    24: 2.064,
    25: 2.060,
    26: 2.056,
    27: 2.052,
    28: 2.048,
    29: 2.045,
    30: 2.042,
    40: 2.021,
    60: 2.000,
    120: 1.980,
}
_Z_975 = 1.960


def t_quantile_975(df: int) -> float:
    """t(0.975, df) from :data:`T_975` (next smaller tabulated df; 1.960 beyond 120)."""
    if df < 1:
        return math.nan
    if df > 120:
        return _Z_975
    return T_975[max(k for k in T_975 if k <= df)]


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
