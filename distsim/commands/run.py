"""``distsim run`` and ``distsim validate``."""

from __future__ import annotations

import argparse
import math
import sys

from distsim.commands.figure_args import add_figure_arguments, figure_options
from distsim.commands.format import summary_table
from distsim.commands.outputs import (
    add_set_argument,
    check_output_dir,
    check_output_file,
    overrides_of,
    progress_choice,
)
from distsim.errors import InputError
from distsim.fields import MAX_SEED
from distsim.run import simulate
from distsim.scenario import load_scenario
from distsim.world import build_world

#: Exit status of ``distsim run`` when ``simulation.max_wall_s`` stopped the run (2 is bad input).
INCOMPLETE_EXIT = 3


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser("run", help="simulate a scenario, print the summary, write results")
    run.add_argument("scenario", help="scenario YAML file")
    add_set_argument(run)
    run.add_argument("--out", help="output directory (default: the scenario's output.dir or results/<name>)")
    run.add_argument("--seed", type=int, help="override simulation.seed")
    run.add_argument("--no-write", action="store_true", help="print the summary only, write no files")
    run.add_argument(
        "--no-progress", action="store_true", help="no progress (default: a bar on a terminal, a line every 30 s else)"
    )
    run.add_argument("--timing", help="override simulation.timing (analytic, contention)")
    run.add_argument(
        "--placements",
        metavar="FILE",
        help="write one JSON line per served request: segments per device and relays per layer (docs/privacy.md)",
    )
    run.add_argument(
        "--trace",
        metavar="FILE",
        help="write a Chrome trace JSON (open in ui.perfetto.dev); needs simulation.timing: contention",
    )
    run.add_argument(
        "--series", metavar="FILE", help="write per-device busy/queue-length time series as CSV (contention timing)"
    )
    run.add_argument("--gantt", metavar="FILE", help="plot a Gantt chart of --window (PNG/SVG/PDF; contention timing)")
    run.add_argument(
        "--window",
        nargs=2,
        type=float,
        metavar=("START_S", "END_S"),
        help="time window of the Gantt chart, s (default: the first second)",
    )
    run.add_argument(
        "--gantt-rows",
        default="all",
        metavar="N|all",
        help="Gantt chart: show only the N busiest rows (the chart says how many it left out; default: all)",
    )
    add_figure_arguments(run, labels=False, formats=False)
    run.set_defaults(func=_run)
    check = sub.add_parser("validate", help="check a scenario without running it")
    check.add_argument("scenario", help="scenario YAML file")
    add_set_argument(check)
    check.set_defaults(func=_validate)


def _check_files(args: argparse.Namespace) -> None:
    """Refuse, before anything runs, an output file that could not be written."""
    if args.placements:
        check_output_file(args.placements, "--placements")
    if args.trace:
        check_output_file(args.trace, "--trace")
    if args.series:
        check_output_file(args.series, "--series")
    if args.gantt:
        from distsim.plots.style import FORMATS

        check_output_file(args.gantt, "--gantt", ["", *(f".{ext}" for ext in FORMATS)])


def _run(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario, overrides_of(args))
    if args.timing is not None:
        scenario = scenario.model_copy(
            update={"simulation": scenario.simulation.model_copy(update={"timing": args.timing})}
        )
    world = build_world(scenario, file=args.scenario)
    # Every option is checked before the run, so a late error cannot leave results half-written.
    if args.seed is not None and not 0 <= args.seed <= MAX_SEED:
        raise InputError(f"expected a seed in 0..{MAX_SEED}, got {args.seed}", field="--seed")
    out = None if args.no_write else check_output_dir(args.out or scenario.output_dir, "--out")
    trace = bool(args.trace or args.series or args.gantt)
    rows = _gantt_rows(args.gantt_rows)
    window = tuple(args.window) if args.window else (0.0, 1.0)
    if not all(math.isfinite(v) for v in window) or window[1] <= window[0]:
        raise InputError(f"expected finite START_S < END_S, got {window[0]} {window[1]}", field="--window")
    _check_files(args)
    try:
        result = simulate(
            world,
            out_dir=out,
            seed=args.seed,
            trace=trace,
            placements=args.placements,
            file=args.scenario,
            progress=progress_choice(args),
        )
    except InputError as exc:
        raise exc.located(file=args.scenario) from None
    print(summary_table(result.summary))
    print(f"{'wall time':<23}  {result.wall_s:.2f} s")
    if result.out_dir is not None:
        print(f"results in {result.out_dir}/ (requests.csv, devices.csv, summary.json)")
    if not result.summary.complete:
        print(
            f"distsim: incomplete run: simulation.max_wall_s = {scenario.simulation.max_wall_s} s passed; "
            "the results hold the requests that had ended",
            file=sys.stderr,
        )
    if args.placements:
        print(f"placements in {args.placements} (one JSON line per served request)")
    if result.timeline is not None:
        if args.trace:
            print(f"trace in {result.timeline.write_chrome_trace(args.trace)} (open in https://ui.perfetto.dev)")
        if args.series:
            print(f"busy/queue time series in {result.timeline.write_series(args.series)}")
        if args.gantt:
            from distsim.plots.gantt import save_gantt

            path = save_gantt(
                result.timeline, args.gantt, window[0], window[1], max_rows=rows, opts=figure_options(args)
            )
            print(f"Gantt chart in {path}")
    return 0 if result.summary.complete else INCOMPLETE_EXIT


def _gantt_rows(text: str) -> int | None:
    if text == "all":
        return None
    try:
        rows = int(text)
    except ValueError:
        rows = 0
    if rows < 1:
        raise InputError(f"expected a positive number of rows or 'all', got {text!r}", field="--gantt-rows")
    return rows


def _validate(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario, overrides_of(args))
    world = build_world(scenario, file=args.scenario)
    fleet = world.fleet
    print(
        f"{args.scenario}: ok: {fleet.participants} participants, {len(fleet.sources)} sources, "
        f"CNNs {', '.join(world.cnns)}, max_ssim {scenario.privacy.max_ssim}"
    )
    return 0
