"""The figure options every plot command shares: ``--format``, ``--size``, ``--dpi``, ``--style``, ``--label``.

Registering them imports nothing heavy; :func:`figure_options` (run when the
command executes) builds :class:`distsim.plots.style.FigureOptions`.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from distsim.plots.style import FigureOptions


def add_figure_arguments(parser: argparse.ArgumentParser, *, labels: bool = True, formats: bool = True) -> None:
    """Add the shared figure options to ``parser``."""
    group = parser.add_argument_group("figure options")
    if formats:
        group.add_argument(
            "--format",
            metavar="FMT[,FMT]",
            help="file formats: pdf, svg, png, comma-separated (default: all three)",
        )
    group.add_argument(
        "--size",
        help="printed size: column (3.5 in wide), double (7.16 in), slide (10 x 5.6 in) or WxH in inches "
        "(default: double for two panels, column for one; slide with --style talk)",
    )
    group.add_argument("--dpi", type=int, default=300, help="PNG resolution, dots per inch (default: 300)")
    group.add_argument(
        "--style",
        choices=("paper", "talk"),
        default="paper",
        help="paper: 7-8 pt fonts; talk: 12-14 pt (default: paper)",
    )
    if labels:
        group.add_argument(
            "--label",
            action="append",
            metavar="NAME=TEXT",
            help="axis/legend label of a parameter or metric, e.g. participants.total='fleet size' (repeatable)",
        )
    group.add_argument("--no-notes", action="store_true", help="leave out the notes under the panels")


def figure_options(args: argparse.Namespace, *, x: str | None = None) -> FigureOptions:
    """:class:`FigureOptions` from parsed arguments."""
    from distsim.plots.style import FigureOptions, parse_formats, parse_labels

    return FigureOptions(
        style=args.style,
        size=args.size,
        dpi=args.dpi,
        formats=parse_formats(getattr(args, "format", None)),
        labels=parse_labels(getattr(args, "label", None)),
        x=x,
        notes=not getattr(args, "no_notes", False),
    )
