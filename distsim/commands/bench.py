"""``distsim bench WHAT``: the benchmark suites of :data:`distsim.benchmarks.SUITES`.

``python -m distsim.benchmarks`` (and ``python -m benchmarks`` from a
checkout) call this same command, so every spelling offers the same suites.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from distsim.benchmarks import SUITES
from distsim.commands.outputs import check_output_dir


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    lines = "; ".join(f"{name}: {suite.help}" for name, suite in sorted(SUITES.items()))
    bench = sub.add_parser("bench", help="run a benchmark suite", description=f"Benchmark suites. {lines}")
    bench.add_argument("what", choices=sorted(SUITES), help="which suite")
    bench.add_argument("--out", help="output directory (default: results/bench-WHAT)")
    bench.add_argument("--quick", action="store_true", help="a small suite that runs in under a minute")
    bench.set_defaults(func=_dispatch)


def _dispatch(args: argparse.Namespace) -> int:
    suite = SUITES[args.what]
    out = check_output_dir(Path(args.out) if args.out else suite.default_out, "--out")
    report = suite.run(out, quick=args.quick, progress=print)
    print(f"results in {report.parent if report.is_file() else report}/ ({suite.outputs})")
    return 0
