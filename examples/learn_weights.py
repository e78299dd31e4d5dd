"""Learn DistPrivacy's weights (alpha, beta) by cross-entropy search, then test them on held-out seeds.

    .venv/bin/python examples/learn_weights.py [SCENARIO] [--out policy.json]

Trains on seeds 0-1 of the scenario (default scenarios/paper.yaml), writes the
learned weights as a ``policy`` scheduler file, and prints the mean
difference in cost per request (learned minus the paper's 0.7 / 0.3) over 10
held-out seeds (100-109) with its 95% confidence interval (t distribution,
paired by seed). Run it with ``scheduler: {name: policy, params: {path: ...}}``.
"""

from __future__ import annotations

import argparse
import time

from distsim import load_scenario
from distsim.experiments.aggregate import mean_ci95
from distsim.rl.learn import PAPER_WEIGHTS, cross_entropy_weights, held_out
from distsim.rl.policy import save_policy
from distsim.world import build_world


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default="scenarios/paper.yaml")
    parser.add_argument("--out", default="results/learned_policy.json")
    parser.add_argument("--iterations", type=int, default=4)
    parser.add_argument("--population", type=int, default=10)
    args = parser.parse_args()
    started = time.perf_counter()
    world = build_world(load_scenario(args.scenario))
    result = cross_entropy_weights(
        world, (0, 1), iterations=args.iterations, population=args.population, progress=print
    )
    path = save_policy(args.out, {"kind": "distprivacy", "alpha": result.alpha, "beta": result.beta})
    diffs = held_out(world, (result.alpha, result.beta), PAPER_WEIGHTS, range(100, 110))
    mean, half, n = mean_ci95(diffs.tolist())
    print(
        f"learned alpha={result.alpha:.3f} beta={result.beta:.3f} (training cost {result.cost_s:.4f} s/request, "
        f"{result.runs} runs); policy in {path}"
    )
    print(
        f"held-out ({n} seeds): learned - paper = {mean:+.4f} s/request, "
        f"95% CI [{mean - half:+.4f}, {mean + half:+.4f}]"
    )
    print(f"wall time {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
