"""``distsim run`` and ``distsim validate``."""

from __future__ import annotations

import argparse
from pathlib import Path

from distsim.commands.format import summary_table
from distsim.run import simulate
from distsim.scenario import load_scenario
from distsim.world import build_world


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    run = sub.add_parser("run", help="simulate a scenario, print the summary, write results")
    run.add_argument("scenario", help="scenario YAML file")
    run.add_argument("--out", help="output directory (default: the scenario's output.dir or results/<name>)")
    run.add_argument("--seed", type=int, help="override simulation.seed")
    run.add_argument("--no-write", action="store_true", help="print the summary only, write no files")
    run.set_defaults(func=_run)
    check = sub.add_parser("validate", help="check a scenario without running it")
    check.add_argument("scenario", help="scenario YAML file")
    check.set_defaults(func=_validate)


def _run(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario)
    world = build_world(scenario, file=args.scenario)
    if args.seed is not None and args.seed < 0:
        from distsim.errors import InputError

        raise InputError(f"expected a seed >= 0, got {args.seed}", field="--seed")
    out = None if args.no_write else Path(args.out) if args.out else scenario.output_dir
    result = simulate(world, out_dir=out, seed=args.seed)
    print(summary_table(result.summary))
    print(f"{'wall time':<23}  {result.wall_s:.2f} s")
    if result.out_dir is not None:
        print(f"results in {result.out_dir}/ (requests.csv, devices.csv, summary.json)")
    return 0


def _validate(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario)
    world = build_world(scenario, file=args.scenario)
    fleet = world.fleet
    print(f"{args.scenario}: ok: {fleet.participants} participants, {len(fleet.sources)} sources, "
          f"CNNs {', '.join(world.cnns)}, max_ssim {scenario.privacy.max_ssim}")
    return 0
