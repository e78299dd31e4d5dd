"""Remaining battery charge over time (docs/energy.md): ``distsim plot RUN_DIR --kind charge``.

Reads ``charge.csv`` of one or more ``distsim run`` directories (written with
``energy.batteries: true``): the charge left in every battery-powered
participant, Wh, sampled every ``energy.charge_sample_s`` and at every battery
death. Per run directory and device type the figure draws the mean remaining
charge (% of capacity) over the battery-powered participants, with the band from the
emptiest to the fullest battery, one line per device type (from ``devices.csv``).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import numpy.typing as npt
from matplotlib.figure import Figure

from distsim.errors import InputError
from distsim.io import verify_manifest
from distsim.plots.kinds import PlotRequest
from distsim.plots.labels import axis_label
from distsim.plots.style import add_notes, new_figure, series_style, styled
from distsim.reading import read_text

FloatArray = npt.NDArray[np.float64]

#: Largest ``charge.csv`` read, bytes.
MAX_CHARGE_BYTES = 256 * 2**20


def read_charge(run_dir: str | Path) -> tuple[FloatArray, list[str], FloatArray]:
    """``charge.csv`` of a run directory: instants (s), device names, charge left (Wh, one column per device).

    Raises :class:`InputError` (one line) for a folder that is not a run with batteries or a malformed file.
    """
    path = Path(run_dir) / "charge.csv"
    if not path.is_file():
        raise InputError(
            "no charge.csv: expected a 'distsim run' directory of a scenario with energy.batteries: true",
            file=str(run_dir),
        )
    verify_manifest(run_dir)
    rows = list(csv.reader(io.StringIO(read_text(path, limit=MAX_CHARGE_BYTES, what="charge.csv"))))
    if len(rows) < 2 or rows[0][:1] != ["at"] or len(rows[0]) < 2:
        raise InputError("malformed charge.csv: expected a header 'at,<device>,...' and rows", file=str(path))
    try:
        table = np.array([[float(cell) for cell in row] for row in rows[1:]], dtype=np.float64)
    except ValueError as exc:
        raise InputError(f"malformed charge.csv row (truncated or edited?): {exc}", file=str(path)) from None
    if table.ndim != 2 or table.shape[1] != len(rows[0]):
        raise InputError("malformed charge.csv: rows of unequal length", file=str(path))
    return table[:, 0], rows[0][1:], table[:, 1:]


def device_types(run_dir: str | Path) -> dict[str, str]:
    """Device name -> type, from the run directory's ``devices.csv``."""
    path = Path(run_dir) / "devices.csv"
    if not path.is_file():
        raise InputError("not a run directory (no devices.csv)", file=str(run_dir))
    reader = csv.DictReader(io.StringIO(read_text(path, limit=MAX_CHARGE_BYTES, what="devices.csv")))
    try:
        return {row["device"]: row["type"] for row in reader}
    except KeyError as exc:
        raise InputError(f"malformed devices.csv: no column {exc}", file=str(path)) from None


def build_charge(request: PlotRequest) -> Figure:
    """Mean remaining charge (% of capacity) over time per device type and run directory, band min to max."""
    opts = request.opts
    several = len(request.results) > 1
    with styled(opts):
        fig = new_figure(opts, "column", 1.2)
        ax = fig.subplots()
        k = 0
        for run_dir in request.results:
            at, devices, charge = read_charge(run_dir)
            kinds = device_types(run_dir)
            capacity = charge[0]  # every battery is full at t = 0
            share = 100.0 * charge / np.where(capacity > 0, capacity, 1.0)
            for kind in sorted({kinds.get(d, "?") for d in devices}):
                columns = [i for i, d in enumerate(devices) if kinds.get(d, "?") == kind]
                part = share[:, columns]
                st = series_style(k)
                k += 1
                label = f"{kind} ({len(columns)} batteries)"
                ax.fill_between(at, part.min(axis=1), part.max(axis=1), color=st["color"], alpha=0.2, linewidth=0)
                ax.plot(
                    at,
                    part.mean(axis=1),
                    color=st["color"],
                    linestyle=st["linestyle"],
                    label=f"{Path(run_dir).name}: {label}" if several else label,
                )
        ax.set_xlabel(axis_label("time_s", opts.labels))
        ax.set_ylabel("remaining charge (% of capacity)")
        ax.set_ylim(0, 101)
        ax.set_xlim(left=0)
        fig.legend(loc="outside upper center", ncols=2, title="run: device type" if several else "device type")
        if request.title:
            fig.suptitle(request.title)
        add_notes(
            fig,
            [
                "Line: mean over the battery-powered participants of a type; band: its emptiest to fullest battery. "
                "Samples every energy.charge_sample_s and at every battery death."
            ],
            opts,
        )
    return fig
