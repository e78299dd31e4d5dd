"""``distsim plot``: figures (PDF, SVG, PNG) from a sweep output directory or run directories."""

from __future__ import annotations

import argparse
from pathlib import Path

from distsim.commands.figure_args import add_figure_arguments, figure_options
from distsim.commands.outputs import check_output_dir


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from distsim.plots.kinds import KINDS

    kinds = "; ".join(f"{k.name} ({k.help})" for k in KINDS.values())
    plot = sub.add_parser(
        "plot",
        help="plot sweep results (PDF, SVG, PNG)",
        description=f"Plot the results of 'distsim sweep' (or of 'distsim run' for cdf and charge). Kinds: {kinds}.",
    )
    plot.add_argument("results", nargs="+", help="sweep output directory (cdf, charge: or several run directories)")
    plot.add_argument(
        "--kind", choices=list(KINDS), help="plot kind (default: tradeoff if only tau is swept, else fig3)"
    )
    plot.add_argument("--out", help="directory for the figures (default: RESULTS/plots)")
    plot.add_argument("--name", help="file name stem (default: the kind)")
    plot.add_argument("--x", help="parameter on the x axis (default: the numeric swept parameter with most values)")
    plot.add_argument("--by", help="cdf: parameter whose values get one line each (default: tau)")
    plot.add_argument("--title", help="figure title")
    add_figure_arguments(plot)
    plot.set_defaults(func=_plot)


def _plot(args: argparse.Namespace) -> int:
    from distsim.plots.io import default_kind, is_run_dir, make_figure, save_figure

    first = Path(args.results[0])
    kind = args.kind
    opts = figure_options(args, x=args.x)
    if kind is None:
        if all(is_run_dir(r) for r in args.results):
            kind = "cdf"
        else:
            from distsim.experiments.table import read_manifest

            kind = default_kind([str(p) for p in read_manifest(first)["params"]])
    out = check_output_dir(Path(args.out) if args.out else first / "plots", "--out")
    fig = make_figure(kind, args.results, by=args.by, title=args.title, opts=opts)
    for path in save_figure(fig, out, args.name or kind, opts):
        print(path)
    return 0
