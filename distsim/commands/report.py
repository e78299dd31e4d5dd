"""``distsim report``: one self-contained HTML page (summary, figures as inline SVG, provenance) of a run or sweep."""

from __future__ import annotations

import argparse

from distsim.commands.figure_args import add_figure_arguments, figure_options
from distsim.commands.outputs import check_output_file


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = sub.add_parser(
        "report",
        help="write one self-contained HTML page of a run or sweep (opens offline)",
        description="Write RESULTS/report.html: a summary table, every figure inline as SVG and the provenance "
        "(versions, seeds, SHA-256 of inputs and results). The page loads nothing from the network.",
    )
    report.add_argument("results", help="sweep output directory or 'distsim run' output directory")
    report.add_argument("--out", help="HTML file to write (default: RESULTS/report.html)")
    report.add_argument("--x", help="parameter on the x axis of the sweep figures")
    add_figure_arguments(report, formats=False)
    report.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    from distsim.plots.report import write_report

    if args.out is not None:
        check_output_file(args.out, "--out", [".html", ".htm"])
    print(write_report(args.results, args.out, figure_options(args, x=args.x)))
    return 0
