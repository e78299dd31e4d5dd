"""``distsim sweep``: run a sweep file (every point x replication) and write the tidy tables."""

from __future__ import annotations

import argparse

from distsim.commands.outputs import add_set_argument, check_output_dir, overrides_of, progress_choice
from distsim.errors import InputError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sweep = sub.add_parser(
        "sweep",
        help="run a parameter sweep with replications (resumable)",
        description="Run every grid point x replication of a sweep file. Finished runs in "
        "the output directory are skipped, so an interrupted sweep resumes.",
    )
    sweep.add_argument("sweep", help="sweep YAML file (see docs/sweeps.md)")
    add_set_argument(sweep, "in the base scenario of every point")
    sweep.add_argument("--jobs", "-j", type=int, help="local worker processes (default: CPU count; 1: in-process)")
    sweep.add_argument("--dask", metavar="ADDRESS", help="run on a Dask cluster, e.g. tcp://host:8786")
    sweep.add_argument("--out", help="output directory (default: the sweep's output.dir or results/sweeps/<name>)")
    sweep.add_argument("--no-progress", action="store_true", help="never draw the progress bar")
    sweep.set_defaults(func=_sweep)


def _sweep(args: argparse.Namespace) -> int:
    from distsim.experiments import load_sweep, run_sweep

    if args.jobs is not None and not 1 <= args.jobs <= 1024:
        raise InputError(f"expected a job count in 1..1024, got {args.jobs}", field="--jobs")
    if args.dask is not None:
        from distsim.experiments.runner import check_dask_address

        check_dask_address(args.dask)
    sweep = load_sweep(args.sweep, out_dir=args.out, overrides=overrides_of(args))
    check_output_dir(sweep.out_dir, "--out" if args.out else "output.dir")
    from distsim.experiments.folder import check_existing

    check_existing(sweep.out_dir)  # before the first line of output: a mismatched folder is only the error
    runs = len(sweep.points) * sweep.replications
    where = f"Dask at {args.dask}" if args.dask else f"{args.jobs or 'all'} local job(s)"
    print(f"{args.sweep}: {len(sweep.points)} points x {sweep.replications} replications = {runs} runs on {where}")
    result = run_sweep(sweep, jobs=args.jobs, dask_address=args.dask, progress=progress_choice(args))
    print(f"{result.executed} runs executed, {result.skipped} already finished (resumed)")
    if result.stale:
        print(f"{result.stale_runs} stored runs no longer matched and were run again: {result.stale}")
    print(
        f"results in {result.out_dir}/ ({', '.join(p.name for p in result.files)}); "
        f"plot with: distsim plot {result.out_dir}"
    )
    return 0
