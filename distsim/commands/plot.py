"""``distsim plot``: figures (PNG and SVG) from a sweep output directory."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from distsim.plots.kinds import KINDS

    plot = sub.add_parser(
        "plot",
        help="plot sweep results (PNG and SVG)",
        description="Plot the results of 'distsim sweep'. Kinds: fig3 (total latency with rejection % and "
        "shared data vs a parameter, one line per other parameter), fig3-latency, fig3-shared, "
        "tradeoff (latency and shared data per request vs tau), pareto (latency vs shared data, "
        "Pareto front), cdf (per-request latency CDF; needs keep_latencies: true, or "
        "'distsim run' output directories).",
    )
    plot.add_argument("results", nargs="+", help="sweep output directory (cdf: or several run directories)")
    plot.add_argument("--kind", choices=KINDS, help="plot kind (default: tradeoff if only tau is swept, else fig3)")
    plot.add_argument("--out", help="directory for the figures (default: RESULTS/plots)")
    plot.add_argument("--name", help="file name stem (default: the kind)")
    plot.add_argument("--x", help="parameter on the x axis (fig3 kinds; default: first swept one other than tau)")
    plot.add_argument("--by", help="cdf: parameter whose values get one line each (default: tau)")
    plot.add_argument("--title", help="figure title")
    plot.set_defaults(func=_plot)


def _plot(args: argparse.Namespace) -> int:
    from distsim.plots.io import default_kind, is_run_dir, make_figure, save_figure

    first = Path(args.results[0])
    kind = args.kind
    if kind is None:
        if all(is_run_dir(r) for r in args.results):
            kind = "cdf"
        else:
            from distsim.experiments.table import read_manifest

            kind = default_kind([str(p) for p in read_manifest(first)["params"]])
    fig = make_figure(kind, args.results, x=args.x, by=args.by, title=args.title)
    out = Path(args.out) if args.out else first / "plots"
    for path in save_figure(fig, out, args.name or kind):
        print(path)
    return 0
