"""``python -m benchmarks [perf] [--quick] [--out DIR]``: run a benchmark suite and write its tables and plots."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmarks import perf

SUITES = {"perf": perf.run}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("what", nargs="?", default="perf", choices=sorted(SUITES), help="suite to run (default perf)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (about 30 s); what the smoke test runs")
    parser.add_argument(
        "--out", type=Path, default=perf.DEFAULT_OUT, help=f"output directory (default {perf.DEFAULT_OUT})"
    )
    args = parser.parse_args(argv)
    report = SUITES[args.what](quick=args.quick, out=args.out)
    print(f"tables and plots in {report.parent}/ ({report.name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
