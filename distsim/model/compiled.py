"""The switch between the compiled kernels and their Python twins, and the CNN as plain arrays.

Two hot spots have a numba-compiled kernel: the DistPrivacy decision
(:mod:`distsim.scheduling.distprivacy_kernel`) and :func:`distsim.model.cost.evaluate`
(:mod:`distsim.model.cost_kernel`). Each kernel performs the same
floating-point operations in the same order as its Python twin, so decisions,
costs and every output file are byte-identical; the Python code stays the
readable specification that the tests hold the kernels to.

**The switch** is the environment variable ``DISTSIM_KERNEL``:

* ``auto`` (the default): the Python path until the calls that could use a
  kernel have handled :data:`AUTO_AFTER_SEGMENTS` segments (a decision or a
  cost evaluation of a CNN with ``S`` segments counts ``S``), the kernels from
  then on. Importing numba and loading the compiled code costs about half a
  second of CPU per process, more than a short run spends deciding
  (``scenarios/quickstart.yaml`` handles about 42,000 segments in all); a
  longer run pays it once, early, and then decides about ten times faster.
  The count is of work, not of time, so the switch happens at the same call
  whatever the machine's load. Both paths give the same results, so switching
  mid-run changes no output;
* ``numba``: the kernels from the first call (what the benchmarks time);
* ``python``: the pure-Python path everywhere.

The kernels apply on a full-mesh network; numba is imported the first time a
kernel runs, never at import time, and each kernel is compiled once per
machine (numba's on-disk cache, ``cache=True``) and loaded from that cache by
later processes.

Where a kernel does not apply (a topology) the Python path runs instead, with
the same results; a rejection by the compiled decision is attributed from the
residuals where it stopped, with the placement kernel's rules. If numba
cannot be imported, the Python path runs too.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from distsim.model.cnn import CNN, Feed, LayerKind

IntArray = npt.NDArray[np.int64]

#: The environment variable that selects the path: ``auto`` (default), ``numba`` or ``python``.
KERNEL_ENV = "DISTSIM_KERNEL"
KERNELS = ("auto", "numba", "python")
#: ``auto``: segments handled on the Python path (decisions and cost evaluations) before the kernels load.
#: Whole runs handle 42,000 (``scenarios/quickstart.yaml``), 303,000 (``fleet.yaml``: both stay on the
#: Python path, which they finish faster than numba loads) and 3,970,000 (``paper.yaml``: the kernels load
#: after its first tenth, about 0.1 s of Python-path work) segments.
AUTO_AFTER_SEGMENTS = 400_000

#: Feed kinds as the kernels' integer codes.
FEED_CODE = {Feed.NONE: 0, Feed.PARTIAL_SUMS: 1, Feed.MAPS: 2, Feed.VECTOR: 3, Feed.GATHER: 4}
#: Columns of :func:`layer_table`.
SEGMENTS, MULTS, WEIGHTS, FEED, UNIT, PREV_CONV, PREV_OUT_MAPS = range(7)

_mode: str | None = None
_loaded: dict[str, Callable[..., Any] | None] = {}
_auto_segments = 0
_tables: dict[int, tuple[CNN, IntArray, IntArray, list[int], list[int]]] = {}


def kernel_mode() -> str:
    """``auto``, ``numba`` or ``python``: the path in force (``DISTSIM_KERNEL``, read once, or :func:`set_kernel`)."""
    global _mode
    if _mode is None:
        chosen = os.environ.get(KERNEL_ENV, "auto").strip().lower() or "auto"
        if chosen not in KERNELS:
            raise ValueError(f"{KERNEL_ENV}={chosen!r}: expected one of {', '.join(KERNELS)}")
        _mode = chosen
    return _mode


def set_kernel(mode: str | None) -> None:
    """Select the path for this process (``auto``, ``numba``, ``python``, or None to read ``DISTSIM_KERNEL`` again)."""
    global _mode
    if mode is not None and mode not in KERNELS:
        raise ValueError(f"kernel {mode!r}: expected one of {', '.join(KERNELS)}")
    _mode = mode


def load_kernel(module: str, name: str, segments: int = 0) -> Callable[..., Any] | None:
    """The compiled function ``name`` of ``module`` when the kernels are in force and numba imports, else None.

    ``segments``: the work of the call asking (the CNN's segments), counted by ``auto``.
    """
    global _auto_segments
    mode = _mode or kernel_mode()
    if mode == "python":
        return None
    if mode == "auto" and _auto_segments < AUTO_AFTER_SEGMENTS:
        _auto_segments += segments
        return None
    key = f"{module}:{name}"
    if key not in _loaded:
        try:
            import importlib

            _loaded[key] = getattr(importlib.import_module(module), name)
        except ImportError:  # numba missing or broken: the Python path decides
            _loaded[key] = None
    return _loaded[key]


def layer_table(cnn: CNN) -> tuple[IntArray, IntArray]:
    """``cnn`` as plain arrays for the kernels, cached per CNN object.

    Returns ``(table, offsets)``: one row per layer with the columns
    :data:`SEGMENTS`, :data:`MULTS` (per segment), :data:`WEIGHTS` (bytes per
    segment), :data:`FEED` (:data:`FEED_CODE`), :data:`UNIT` (feed unit bytes),
    :data:`PREV_CONV` (1 when the previous layer is a convolution),
    :data:`PREV_OUT_MAPS`; and ``offsets[l]``, the position of layer ``l``'s
    first segment in the flat assignment (``offsets[L]`` is the total).
    """
    hit = _cached(cnn)
    return hit[1], hit[2]


def layer_bounds(cnn: CNN) -> list[int]:
    """``layer_table(cnn)[1]`` as a cached list: layer ``l``'s segments sit at ``[l-1] .. [l]`` of a flat assignment."""
    return _cached(cnn)[4]


def layer_segments(cnn: CNN) -> list[int]:
    """Segments per layer of ``cnn`` (a cached list: read on every cost evaluation)."""
    return _cached(cnn)[3]


def _cached(cnn: CNN) -> tuple[CNN, IntArray, IntArray, list[int], list[int]]:
    """The cache entry of ``cnn`` (built on first use)."""
    hit = _tables.get(id(cnn))
    if hit is None or hit[0] is not cnn:
        _cache_table(cnn)
        hit = _tables[id(cnn)]
    return hit


def _cache_table(cnn: CNN) -> None:
    """Build and cache :func:`layer_table`'s arrays and the lists of :func:`layer_segments`, :func:`layer_bounds`."""
    rows = [
        (
            layer.segments,
            layer.segment_mults,
            layer.segment_weight_bytes,
            FEED_CODE[layer.feed],
            layer.feed_unit_bytes,
            int(layer.prev_kind is LayerKind.CONV),
            layer.prev_out_maps,
        )
        for layer in cnn.layers
    ]
    table = np.array(rows, dtype=np.int64).reshape(len(rows), 7)
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(table[:, SEGMENTS], out=offsets[1:])
    table.flags.writeable = False
    offsets.flags.writeable = False
    # The CNN is kept alive by the cache, so its id is never reused for another one.
    _tables[id(cnn)] = (cnn, table, offsets, [layer.segments for layer in cnn.layers], offsets.tolist())
