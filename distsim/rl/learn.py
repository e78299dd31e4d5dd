"""A reference learner that needs no deep-learning framework: cross-entropy search over DistPrivacy's weights.

DistPrivacy ranks candidates by ``nrm = alpha * t + beta / b`` (the paper
uses ``alpha = 0.7``, ``beta = 0.3``). :func:`cross_entropy_weights` searches
``(alpha, beta)`` in ``[0, 1]^2`` with the cross-entropy method: sample a
population from a Gaussian, simulate each candidate on the training seeds in
the engine (the same runs as ``distsim run``), refit the Gaussian to the
best ``elite`` candidates, repeat. The cost of a run is its mean latency
per request with a penalty for every first-attempt rejection (see
:func:`run_cost`). :func:`held_out` compares two weight pairs on seeds the
search never saw, paired by seed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from distsim.engine.records import MemorySink, Summary
from distsim.engine.simulation import Simulation
from distsim.scheduling.distprivacy import DistPrivacy
from distsim.scheduling.reference import DistPrivacyParams
from distsim.world import World

#: The paper's weights (DistPrivacy, Section 6).
PAPER_WEIGHTS = (0.7, 0.3)


def run_cost(summary: Summary, rejection_penalty_s: float) -> float:
    """Cost of a run, s per request: ``(total latency + penalty * first-attempt rejections) / requests``."""
    if summary.requests == 0:
        return 0.0
    return (summary.total_latency_s + rejection_penalty_s * summary.rejected_first_attempt) / summary.requests


def simulate_weights(world: World, alpha: float, beta: float, seed: int) -> Summary:
    """One run of ``world`` with seed ``seed`` and DistPrivacy at weights ``(alpha, beta)``."""
    scheduler = DistPrivacy(DistPrivacyParams(alpha=alpha, beta=beta), world, np.random.default_rng(seed))
    return Simulation(world, MemorySink(), seed=seed, scheduler=scheduler).run()


@dataclass(frozen=True, slots=True)
class SearchResult:
    """Outcome of :func:`cross_entropy_weights`.

    Attributes:
        alpha, beta: the best weights found (lowest mean training cost of any candidate evaluated).
        cost_s: their mean training cost, s per request.
        history: per iteration, (mean alpha, mean beta, best cost so far in s).
        runs: simulations run.
    """

    alpha: float
    beta: float
    cost_s: float
    history: tuple[tuple[float, float, float], ...]
    runs: int


def cross_entropy_weights(
    world: World,
    train_seeds: Sequence[int],
    *,
    iterations: int = 4,
    population: int = 10,
    elite: int = 3,
    rejection_penalty_s: float = 10.0,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> SearchResult:
    """Cross-entropy search of ``(alpha, beta)`` on ``train_seeds`` (see the module docstring).

    The paper's weights are evaluated first and kept unless a candidate is
    strictly better on the training seeds. Deterministic for a given ``seed``.
    """
    rng = np.random.default_rng(seed)
    mean = np.array([0.5, 0.5])
    std = np.array([0.3, 0.3])
    history = []
    runs = 0
    cache: dict[tuple[float, float], float] = {}

    def cost(alpha: float, beta: float) -> float:
        nonlocal runs
        key = (round(alpha, 6), round(beta, 6))
        if key not in cache:
            costs = [run_cost(simulate_weights(world, key[0], key[1], s), rejection_penalty_s) for s in train_seeds]
            runs += len(costs)
            cache[key] = float(np.mean(costs))
        return cache[key]

    # Ties keep the paper's weights: a candidate must be strictly better to replace them.
    best = (cost(*PAPER_WEIGHTS), *PAPER_WEIGHTS)
    for it in range(iterations):
        samples: npt.NDArray[np.float64] = np.clip(rng.normal(mean, std, size=(population, 2)), 0.0, 1.0)
        scored = sorted((cost(float(a), float(b)), float(a), float(b)) for a, b in samples)
        if scored[0][0] < best[0]:
            best = scored[0]
        top = np.array([[a, b] for _, a, b in scored[:elite]])
        mean = top.mean(axis=0)
        std = np.maximum(top.std(axis=0), 0.02)  # keep exploring a little
        history.append((float(mean[0]), float(mean[1]), float(best[0])))
        if progress is not None:
            progress(
                f"iteration {it + 1}/{iterations}: best cost {best[0]:.4f} s at alpha={best[1]:.3f} beta={best[2]:.3f}"
            )
    return SearchResult(best[1], best[2], float(best[0]), tuple(history), runs)


def held_out(
    world: World,
    weights: tuple[float, float],
    baseline: tuple[float, float],
    seeds: Sequence[int],
    rejection_penalty_s: float = 10.0,
) -> npt.NDArray[np.float64]:
    """Per held-out seed, ``cost(weights) - cost(baseline)`` in s per request (negative: ``weights`` better)."""
    diffs = [
        run_cost(simulate_weights(world, *weights, s), rejection_penalty_s)
        - run_cost(simulate_weights(world, *baseline, s), rejection_penalty_s)
        for s in seeds
    ]
    return np.asarray(diffs, dtype=np.float64)
