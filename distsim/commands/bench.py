"""``distsim bench WHAT``: benchmark suites, one per choice of ``WHAT``.

``BENCHES`` maps each choice to a runner ``(args) -> exit status``; a suite
adds itself with :func:`add_bench` (its options are added to the shared
parser by the ``options`` hook) so that ``distsim bench perf`` can live
beside ``distsim bench schedulers``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

Runner = Callable[[argparse.Namespace], int]
#: choice -> (help line, runner)
BENCHES: dict[str, tuple[str, Runner]] = {}
#: hooks adding suite-specific options to the ``bench`` parser
OPTION_HOOKS: list[Callable[[argparse.ArgumentParser], None]] = []


def add_bench(
    name: str, help_line: str, runner: Runner, options: Callable[[argparse.ArgumentParser], None] | None = None
) -> None:
    """Register a suite as ``distsim bench NAME``."""
    BENCHES[name] = (help_line, runner)
    if options is not None:
        OPTION_HOOKS.append(options)


def _schedulers(args: argparse.Namespace) -> int:
    from benchmarks.schedulers import run

    out = Path(args.out) if args.out else Path("results/bench-schedulers")
    target = run(out, quick=args.quick, progress=print)
    print(f"results in {target}/ (schedulers.csv, batch.csv, schedulers.md, schedulers.png)")
    return 0


add_bench("schedulers", "every scheduler against the CP-SAT optimum (docs/schedulers.md)", _schedulers)


def _perf(args: argparse.Namespace) -> int:
    from benchmarks.perf import DEFAULT_OUT, run

    report = run(quick=args.quick, out=Path(args.out) if args.out else DEFAULT_OUT)
    print(f"results in {report.parent}/ (perf.md, decisions.csv, runs.csv, scaling.csv, perf_*.png)")
    return 0


add_bench("perf", "decision time, end-to-end runs, scaling, SimPy floor (docs/performance.md)", _perf)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    lines = "; ".join(f"{name}: {help_line}" for name, (help_line, _) in sorted(BENCHES.items()))
    bench = sub.add_parser("bench", help="run a benchmark suite", description=f"Benchmark suites. {lines}")
    bench.add_argument("what", choices=sorted(BENCHES), help="which suite")
    bench.add_argument("--out", help="output directory (default: results/bench-WHAT)")
    bench.add_argument("--quick", action="store_true", help="a small suite that runs in under a minute")
    for hook in OPTION_HOOKS:
        hook(bench)
    bench.set_defaults(func=_dispatch)


def _dispatch(args: argparse.Namespace) -> int:
    return BENCHES[args.what][1](args)
