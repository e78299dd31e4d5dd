"""The one figure style of distsim: print sizes, fonts, a colour-blind-safe series style, saving.

Every figure distsim draws (sweeps, Gantt charts, benchmarks, and the kinds
other modules add) is built inside :func:`styled` and saved with
:func:`save_figure`, so they share sizes, fonts and colours:

* **Sizes** are the printed size, in inches (:data:`SIZES`): ``column``
  (3.5 in, one column of a two-column paper), ``double`` (7.16 in, the full
  text width), ``slide`` (16:9 at 10 in); ``WxH`` gives any other. Figures
  are drawn at that size, so font sizes are the printed sizes.
* **Fonts** are at least 7 pt in the ``paper`` style (8 pt text, 7 pt tick
  labels, legends, tables and notes), 14 pt text in ``talk``.
* **Series** get :func:`series_style` ``(i)``: the Okabe-Ito palette (7
  colours safe for the common colour-vision deficiencies; its yellow is left
  out, it vanishes on white), combined with 8 markers and 4 line styles so that
  the first 56 series all differ in colour *and* marker, and 24 series stay
  distinguishable in greyscale print too.
* **Files**: PDF (TrueType fonts embedded, as journals ask), SVG (text as
  paths: renders identically without the fonts) and PNG at a chosen dpi; the
  same figure gives the same bytes (no dates, fixed SVG ids).

>>> from distsim.plots.style import FigureOptions, new_figure, save_figure, series_style, styled
>>> opts = FigureOptions(style="paper", size="column", formats=("pdf",))
>>> with styled(opts):                                     # doctest: +SKIP
...     fig = new_figure(opts)
...     ax = fig.subplots()
...     ax.plot([1, 2], [3, 4], **series_style(0), label="a")
>>> save_figure(fig, "out", "example", opts)               # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import textwrap
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine, TightLayoutEngine

from distsim.errors import InputError

#: Printed figure sizes, inches (width, height).
SIZES: dict[str, tuple[float, float]] = {
    "column": (3.5, 2.6),
    "double": (7.16, 2.9),
    "slide": (10.0, 5.625),
}

#: Output formats :func:`save_figure` writes.
FORMATS = ("pdf", "svg", "png")

#: Style names (``--style``).
STYLE_NAMES = ("paper", "talk")

#: Okabe & Ito (2008) colour-blind-safe palette without its yellow: blue, vermillion, bluish green,
#: reddish purple, orange, sky blue, black.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINESTYLES = ("-", "--", ":", "-.")

#: Smallest font size allowed at print size, pt.
MIN_FONT_PT = 7.0

_COMMON: dict[str, Any] = {
    "pdf.fonttype": 42,  # TrueType, embedded: journals reject Type 3 fonts
    "ps.fonttype": 42,
    "svg.fonttype": "path",
    "svg.hashsalt": "distsim",  # fixed element ids: the same figure gives the same SVG bytes
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "legend.title_fontsize": None,
    "figure.constrained_layout.use": True,
    "savefig.bbox": None,
    "axes.formatter.use_mathtext": True,
    "font.family": "DejaVu Sans",
}

#: rcParams per style. Text sizes are at print size (figures are drawn at their printed size).
STYLES: dict[str, dict[str, Any]] = {
    "paper": {
        **_COMMON,
        "font.size": 8.0,
        "axes.titlesize": 8.0,
        "axes.labelsize": 8.0,
        "xtick.labelsize": 7.0,
        "ytick.labelsize": 7.0,
        "legend.fontsize": 7.0,
        "legend.title_fontsize": 7.0,
        "figure.titlesize": 9.0,
        "lines.linewidth": 1.2,
        "lines.markersize": 4.0,
        "axes.linewidth": 0.6,
        "grid.linewidth": 0.4,
        "xtick.major.width": 0.6,
        "ytick.major.width": 0.6,
        "hatch.linewidth": 0.5,
    },
    "talk": {
        **_COMMON,
        "font.size": 14.0,
        "axes.titlesize": 14.0,
        "axes.labelsize": 14.0,
        "xtick.labelsize": 12.0,
        "ytick.labelsize": 12.0,
        "legend.fontsize": 12.0,
        "legend.title_fontsize": 12.0,
        "figure.titlesize": 16.0,
        "lines.linewidth": 2.2,
        "lines.markersize": 7.0,
        "axes.linewidth": 1.0,
        "grid.linewidth": 0.6,
        "hatch.linewidth": 1.0,
    },
}

#: Font size of small text (annotations, tables, notes) per style, pt.
SMALL_PT = {"paper": 7.0, "talk": 12.0}


@dataclass(frozen=True)
class FigureOptions:
    """How a figure is drawn and saved (the ``--style``, ``--size``, ``--dpi``, ``--format``, ``--label``,
    ``--x`` options of every plot command).

    Attributes:
        style: ``paper`` or ``talk``.
        size: a key of :data:`SIZES`, ``WxH`` in inches, or None for the kind's default
            (``double`` for two-panel figures, ``column`` for one panel; ``slide`` in the talk style).
        dpi: resolution of PNG files, dots per inch (PDF and SVG are vector).
        formats: file formats to write, a subset of :data:`FORMATS`.
        labels: axis/legend label overrides, parameter or metric name -> text.
        x: parameter on the x axis (None: the numeric swept parameter with most values).
        notes: whether figures carry their notes (replications, interval method) under the panels.
    """

    style: str = "paper"
    size: str | None = None
    dpi: int = 300
    formats: tuple[str, ...] = FORMATS
    labels: Mapping[str, str] = field(default_factory=dict)
    x: str | None = None
    notes: bool = True

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise InputError(f"expected a style among {', '.join(STYLES)}, got {self.style!r}", field="--style")
        if not 30 <= self.dpi <= 2400:
            raise InputError(f"expected a dpi between 30 and 2400, got {self.dpi}", field="--dpi")
        bad = [f for f in self.formats if f not in FORMATS]
        if bad or not self.formats:
            raise InputError(
                f"expected formats among {', '.join(FORMATS)}, got {', '.join(bad) or 'none'}", field="--format"
            )
        if self.size is not None:
            parse_size(self.size)

    @property
    def small_pt(self) -> float:
        """Font size of annotations, tables and notes, pt."""
        return SMALL_PT[self.style]

    def figsize(self, default: str = "double", height_scale: float = 1.0) -> tuple[float, float]:
        """Width and height in inches: ``size`` if given, else ``default`` (``slide`` in the talk style).

        ``height_scale`` stretches the named sizes' height for figures with extra rows (tables,
        notes); an explicit ``WxH`` is taken as it is.
        """
        if self.size is not None and "x" in self.size:
            return parse_size(self.size)
        name = self.size or ("slide" if self.style == "talk" else default)
        width, height = SIZES[name]
        return width, height * height_scale


def parse_size(text: str) -> tuple[float, float]:
    """A size name of :data:`SIZES` or ``WxH`` (inches) as (width, height)."""
    if text in SIZES:
        return SIZES[text]
    try:
        w, h = (float(v) for v in text.lower().split("x"))
    except ValueError:
        raise InputError(
            f"expected a size among {', '.join(SIZES)} or WIDTHxHEIGHT in inches, got {text!r}", field="--size"
        ) from None
    if not (0.5 <= w <= 40 and 0.5 <= h <= 40):
        raise InputError(f"expected a size between 0.5 and 40 inches per side, got {text!r}", field="--size")
    return w, h


def parse_labels(items: Sequence[str] | None) -> dict[str, str]:
    """``--label path=Text`` items as a dict."""
    out: dict[str, str] = {}
    for item in items or ():
        name, sep, text = item.partition("=")
        if not sep or not name.strip() or not text.strip():
            raise InputError(f"expected NAME=TEXT, got {item!r}", field="--label")
        out[name.strip()] = text.strip()
    return out


def parse_formats(text: str | None) -> tuple[str, ...]:
    """``--format pdf,png`` as a tuple (None: every format)."""
    if text is None:
        return FORMATS
    items = tuple(dict.fromkeys(f.strip().lower() for f in text.split(",") if f.strip()))
    bad = [f for f in items if f not in FORMATS]
    if bad or not items:
        raise InputError(f"expected formats among {', '.join(FORMATS)}, got {text!r}", field="--format")
    return items


def series_style(i: int, *, line: bool = True) -> dict[str, Any]:
    """Colour, marker and line style of series ``i`` (0-based).

    Colours cycle over 7, markers over 8 and line styles change every 7
    series, so series 0..55 differ pairwise in colour or marker and in
    (colour, marker, line style) as a whole.
    """
    style: dict[str, Any] = {"color": PALETTE[i % len(PALETTE)], "marker": MARKERS[i % len(MARKERS)]}
    if line:
        style["linestyle"] = LINESTYLES[(i // len(PALETTE)) % len(LINESTYLES)]
    return style


@contextlib.contextmanager
def styled(opts: FigureOptions | None = None) -> Iterator[FigureOptions]:
    """Apply the style's rcParams while a figure is built (artists read them when created)."""
    opts = opts or FigureOptions()
    # matplotlib types rc keys as a Literal union; ours are plain strings, which it checks at run time.
    with rc_context(cast(Any, STYLES[opts.style])):
        yield opts


def new_figure(opts: FigureOptions, default: str = "double", height_scale: float = 1.0) -> Figure:
    """A bare :class:`Figure` (no pyplot, no global state) at the printed size, constrained layout."""
    return Figure(figsize=opts.figsize(default, height_scale), layout="constrained")


def add_notes(fig: Figure, notes: Sequence[str], opts: FigureOptions) -> None:
    """Write ``notes`` (replications, interval method, what is not drawn) under the panels, at the small size.

    The figure grows by the height of the notes, and the layout keeps the panels above them.
    """
    notes = [n for n in notes if n]
    if not notes or not opts.notes:
        return
    width, height = fig.get_size_inches()
    # Characters per line: a DejaVu Sans glyph is ~0.55 em wide on average.
    per_line = max(20, int(width * 72 / (0.5 * opts.small_pt)))
    lines = [wrapped for note in notes for wrapped in textwrap.wrap(note, per_line)]
    text_h = len(lines) * opts.small_pt * 1.25 / 72 + 0.06
    fig.set_size_inches(width, height + text_h)
    engine = fig.get_layout_engine()
    frac = text_h / (height + text_h)
    if isinstance(engine, ConstrainedLayoutEngine | TightLayoutEngine):
        engine.set(rect=(0.0, frac, 1.0, 1.0 - frac))
    fig.text(
        0.01,
        0.04 / (height + text_h),
        "\n".join(lines),
        fontsize=opts.small_pt,
        va="bottom",
        ha="left",
        color="#333333",
        gid="notes",
    )


def save_figure(
    fig: Figure, out_dir: str | Path, stem: str, opts: FigureOptions | None = None, *, dpi: int | None = None
) -> list[Path]:
    """Write ``<stem>.<format>`` for every format of ``opts`` into ``out_dir``; return the paths.

    Each file is written aside and moved into place (whole or not at all), with
    fixed metadata so the same figure gives the same bytes.
    """
    opts = opts or FigureOptions()
    target = Path(out_dir)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the output directory: {exc.strerror or exc}", file=str(target)) from None
    written = []
    for ext in opts.formats:
        written.append(save_one(fig, target / f"{stem}.{ext}", opts, dpi=dpi))
    return written


_METADATA: dict[str, dict[str, Any]] = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
    "pdf": {"CreationDate": None, "Creator": None, "Producer": None},
}


def save_one(fig: Figure, path: str | Path, opts: FigureOptions | None = None, *, dpi: int | None = None) -> Path:
    """Write ``fig`` to ``path`` (format from the suffix: pdf, svg or png), atomically; return the path."""
    opts = opts or FigureOptions()
    path = Path(path)
    ext = path.suffix.lstrip(".").lower()
    if ext not in FORMATS:
        raise InputError(f"expected a file ending in {', '.join('.' + f for f in FORMATS)}", file=str(path))

    def draw(tmp: str) -> None:
        with rc_context({"svg.hashsalt": "distsim", "pdf.fonttype": 42, "svg.fonttype": "path"}):
            fig.savefig(tmp, format=ext, dpi=dpi or opts.dpi, metadata=_METADATA[ext])

    return write_atomic(path, draw)


def write_atomic(path: str | Path, write: Callable[[str], None]) -> Path:
    """Create ``path``'s folder, let ``write`` fill a temporary file beside it, then move it into place
    (the file appears whole or not at all, readable like any file ``open()`` makes); return the path."""
    from distsim.io import atomic_path

    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the output directory: {exc.strerror or exc}", file=str(path)) from None
    with atomic_path(path, suffix=path.suffix) as tmp:
        write(str(tmp))
    return path


def svg_text(fig: Figure) -> str:
    """The figure as an SVG document (for inlining in HTML), deterministic."""
    import io

    buffer = io.StringIO()
    with rc_context({"svg.hashsalt": "distsim", "svg.fonttype": "path"}):
        fig.savefig(buffer, format="svg", metadata=_METADATA["svg"])
    text = buffer.getvalue()
    # Drop the XML prolog and DOCTYPE (inline SVG in HTML starts at <svg) and the RDF metadata block.
    text = text[text.index("<svg") :]
    start, end = text.find("<metadata>"), text.find("</metadata>")
    if start >= 0 and end > start:
        text = text[:start] + text[end + len("</metadata>") :]
    return text
