"""Confidence intervals that respect a metric's domain (what the bands and error bars of every figure show).

``summary.csv`` stores, per point, the mean ``m`` of a metric over ``n``
replications and the half-width ``h = t(0.975, n-1) * s / sqrt(n)`` of the
95% Student-t interval (:mod:`distsim.experiments.aggregate`). ``m ± h`` can
leave the metric's domain: a total latency of 700 ± 1050 s has a negative
lower end. The figures therefore draw:

* ``nonneg`` metrics (latencies, bytes, counts): the same Student-t interval
  computed on the log scale with the delta method, ``m ×/÷ exp(h / m)``
  (the standard error of ``log m`` is ``s / (m sqrt n)``). It is positive,
  multiplicative (as wide in decades above as below, right on log axes), and
  to first order equal to ``m ± h`` when ``h`` is small against ``m``. A mean of 0
  (every replication 0) gets the empty interval ``[0, 0]``.
* ``fraction`` metrics (rejection rates in [0, 1]): the interval on the logit
  scale, ``expit(logit m ± h / (m (1 - m)))``, inside (0, 1); 0 and 1 exactly
  (every replication equal) get an empty interval.
* ``real`` metrics: ``m ± h``.

With one replication there is no interval (NaN half-width): nothing is drawn,
and the notes say so.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from distsim.plots.labels import Domain

#: Text naming the interval method per domain, for figure notes.
METHOD: dict[str, str] = {
    "nonneg": "95% Student-t intervals of the mean over replications, on the log scale (m ×/÷ exp(t·s/(m√n))), "
    "so they stay positive",
    "fraction": "95% Student-t intervals of the mean over replications, on the logit scale, so they stay in [0, 100]%",
    "real": "95% Student-t intervals of the mean over replications (m ± t·s/√n)",
}


def interval(mean: float, half: float, domain: Domain) -> tuple[float, float]:
    """Lower and upper end of the 95% interval of a mean with Student-t half-width ``half`` (NaN if none)."""
    if not (math.isfinite(mean) and math.isfinite(half)):
        return math.nan, math.nan
    if domain == "real":
        return mean - half, mean + half
    if domain == "nonneg":
        if mean <= 0.0:
            return 0.0, 0.0
        factor = math.exp(half / mean)
        return mean / factor, mean * factor
    if mean <= 0.0 or mean >= 1.0:
        return mean, mean
    se = half / (mean * (1.0 - mean))
    logit = math.log(mean / (1.0 - mean))
    return 1.0 / (1.0 + math.exp(-(logit - se))), 1.0 / (1.0 + math.exp(-(logit + se)))


def intervals(
    means: npt.ArrayLike, halves: npt.ArrayLike, domain: Domain
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """:func:`interval` element-wise: arrays of lower and upper ends."""
    pairs = [interval(float(m), float(h), domain) for m, h in zip(np.ravel(means), np.ravel(halves), strict=True)]
    lo = np.array([p[0] for p in pairs], dtype=np.float64)
    hi = np.array([p[1] for p in pairs], dtype=np.float64)
    return lo, hi
