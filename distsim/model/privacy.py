"""Per-layer privacy limits from an SSIM table (SPEC section 3).

The table (the paper's Table I) gives, for some measured layers of a CNN, the
SSIM of a black-box inversion attack when one device holds ``n`` of that
layer's output maps. From it and a tolerated SSIM ``tau`` we derive, for every
layer ``l`` of the CNN:

* ``Nf^l(tau)``: the most maps of layer ``l``'s input one participant may hold;
* ``SP(tau)``: the split point, the first layer from which no limit applies;
* which layers run on the source (layer 1, layer L, and the first FC layer when
  it comes before ``SP``: Eq. 8g/8h).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from distsim.errors import InputError
from distsim.model.cnn import CNN, LayerKind
from distsim.reading import read_text

SSIM_COLUMNS = ("dataset", "cnn", "layer", "paper_label", "maps_per_device", "ssim")


class UnmeasuredPolicy(StrEnum):
    """What to do when even the smallest measured map count exceeds ``tau``.

    ``finest``: allow 1 map per device (the finest split) and flag the layer as
    extrapolated. ``strict``: refuse the scenario.
    """

    FINEST = "finest"
    STRICT = "strict"


@dataclass(frozen=True, slots=True)
class SsimRow:
    """One measured layer: SSIM per maps-per-device count, counts ascending."""

    cnn: str
    layer: str
    counts: tuple[int, ...]
    ssim: tuple[float, ...]

    def ssim_at(self, count: int) -> float | None:
        """SSIM measured at exactly ``count`` maps, or None if not measured."""
        for n, s in zip(self.counts, self.ssim, strict=True):
            if n == count:
                return s
        return None


@dataclass(frozen=True, slots=True)
class SsimTable:
    """An SSIM table: measured rows per CNN name, loaded from the CSV format."""

    rows: tuple[SsimRow, ...]
    source: str

    def for_cnn(self, cnn: str) -> tuple[SsimRow, ...]:
        """Rows of one CNN, in table order."""
        return tuple(row for row in self.rows if row.cnn == cnn)

    @property
    def cnns(self) -> tuple[str, ...]:
        """CNN names that have rows, sorted."""
        return tuple(sorted({row.cnn for row in self.rows}))


def load_ssim_table(path: str | Path) -> SsimTable:
    """Read an SSIM CSV with columns ``dataset,cnn,layer,paper_label,maps_per_device,ssim``.

    Raises :class:`InputError` naming the file, the line and the column on a
    missing file, a missing column, a non-numeric value, an SSIM outside
    [0, 1], a count below 1 or a count measured twice for one layer.
    """
    name = str(path)
    text = read_text(path, what="SSIM table")
    reader = csv.DictReader(text.splitlines())
    header = reader.fieldnames or []
    missing = [col for col in ("cnn", "layer", "maps_per_device", "ssim") if col not in header]
    if missing:
        raise InputError(
            f"missing column {missing[0]!r}; expected columns {', '.join(SSIM_COLUMNS)}", file=name, field="header"
        )
    grouped: dict[tuple[str, str], dict[int, float]] = {}
    order: list[tuple[str, str]] = []
    for line_no, record in enumerate(reader, start=2):
        where = f"line {line_no}"
        cnn, layer = (record.get("cnn") or "").strip(), (record.get("layer") or "").strip()
        if not cnn or not layer:
            raise InputError("expected non-empty 'cnn' and 'layer'", file=name, field=where)
        try:
            count = int((record.get("maps_per_device") or "").strip())
        except ValueError:
            raise InputError(
                f"maps_per_device: expected an integer, got {record.get('maps_per_device')!r}", file=name, field=where
            ) from None
        try:
            ssim = float((record.get("ssim") or "").strip())
        except ValueError:
            raise InputError(f"ssim: expected a number, got {record.get('ssim')!r}", file=name, field=where) from None
        if count < 1:
            raise InputError(f"maps_per_device: expected an integer >= 1, got {count}", file=name, field=where)
        if not 0.0 <= ssim <= 1.0:
            raise InputError(f"ssim: expected a value in [0, 1], got {ssim}", file=name, field=where)
        key = (cnn, layer)
        if key not in grouped:
            grouped[key] = {}
            order.append(key)
        if count in grouped[key]:
            raise InputError(f"{cnn}/{layer} measures {count} maps twice", file=name, field=where)
        grouped[key][count] = ssim
    if not order:
        raise InputError("the SSIM table has no rows", file=name)
    rows = []
    for key in order:
        counts = tuple(sorted(grouped[key]))
        rows.append(SsimRow(key[0], key[1], counts, tuple(grouped[key][n] for n in counts)))
    return SsimTable(tuple(rows), name)


def merge_tables(base: SsimTable, extra: SsimTable) -> SsimTable:
    """``base`` with ``extra``'s rows: a (CNN, layer) measured in ``extra`` replaces ``base``'s row, others are added.

    Rows keep ``base``'s order, overridden ones in place, new ones after it in
    ``extra``'s order, so a user table extends the paper's Table I instead of
    replacing it.
    """
    own = {(row.cnn, row.layer): row for row in extra.rows}
    rows = [own.pop((row.cnn, row.layer), row) for row in base.rows]
    rows.extend(row for row in extra.rows if (row.cnn, row.layer) in own)
    return SsimTable(tuple(rows), f"{base.source} + {extra.source}")


def check_rows(table: SsimTable, cnns: dict[str, CNN]) -> list[str]:
    """Check ``table``'s rows of the CNNs in ``cnns``; return warnings (rows of other CNNs are not checked).

    Raises :class:`InputError` (field ``cnn/layer``) when a row names a layer its
    CNN does not have, or measures more maps per device than the layer outputs.
    Warns where the SSIM *rises* as the maps per device fall (fewer maps should
    never reconstruct the image better: a typo, or a noisy measurement).
    """
    warnings = []
    for row in table.rows:
        cnn = cnns.get(row.cnn)
        if cnn is None:
            continue
        at = cnn.index_of(row.layer)
        where = f"{row.cnn}/{row.layer}"
        if at is None:
            names = ", ".join(layer.name for layer in cnn.layers)
            raise InputError(
                f"CNN {row.cnn!r} has no layer {row.layer!r}; expected one of {names}",
                file=table.source,
                field=where,
            )
        maps = cnn.layer(at).out_maps
        if row.counts[-1] > maps:
            raise InputError(
                f"maps_per_device {row.counts[-1]} exceeds the {maps} maps layer {row.layer!r} outputs",
                file=table.source,
                field=where,
            )
        for (n_small, s_small), (n_big, s_big) in zip(
            zip(row.counts, row.ssim, strict=True), zip(row.counts[1:], row.ssim[1:], strict=True), strict=False
        ):
            if s_small > s_big:
                warnings.append(
                    f"{table.source}: {where}: SSIM rises as maps per device fall "
                    f"({s_big} at {n_big} maps, {s_small} at {n_small}); check the measurement"
                )
    return warnings


def _largest_safe_count(row: SsimRow, tau: float) -> int | None:
    """Largest measured n with every measured count <= n at SSIM <= tau."""
    best = None
    for n, s in zip(row.counts, row.ssim, strict=True):
        if s > tau:
            break
        best = n
    return best


@dataclass(frozen=True, slots=True)
class LayerLimit:
    """Privacy limit of one layer.

    Attributes:
        index: layer ``l`` (1-based).
        name: layer name.
        governing_layer: the measured layer whose row governs ``l``'s input maps.
        max_maps: ``Nf^l``: most maps of this layer one participant may receive;
            None when no limit applies (``l >= SP``).
        extrapolated: True when the table certifies no split for this layer and
            the ``finest`` policy imposed 1 map per device.
        on_source: True when the layer must run on the source (Eq. 8h).
    """

    index: int
    name: str
    governing_layer: str
    max_maps: int | None
    extrapolated: bool
    on_source: bool


@dataclass(frozen=True, slots=True)
class PrivacyLimits:
    """Limits of one CNN at one tolerated SSIM ``tau``.

    ``split_point`` is ``SP``: the first layer without a limit, ``L + 1`` when
    the table certifies none.
    """

    cnn: str
    tau: float
    split_point: int
    layers: tuple[LayerLimit, ...]

    def max_maps(self, index: int) -> int | None:
        """``Nf^l`` for layer ``index``, None if unlimited."""
        return self.layers[index - 1].max_maps

    def on_source(self, index: int) -> bool:
        """Whether layer ``index`` must run on the request's source."""
        return self.layers[index - 1].on_source

    @property
    def extrapolated(self) -> bool:
        """True if any layer's limit comes from the ``finest`` policy, not the table."""
        return any(layer.extrapolated for layer in self.layers)

    def min_participants(self, cnn: CNN) -> int:
        """Fewest distinct participants that can hold every limited layer of ``cnn``."""
        need = 0
        for limit, layer in zip(self.layers, cnn.layers, strict=True):
            if limit.max_maps is not None and not limit.on_source:
                need = max(need, -(-layer.segments // limit.max_maps))
        return need


def derive_limits(
    cnn: CNN,
    table: SsimTable,
    tau: float,
    policy: UnmeasuredPolicy = UnmeasuredPolicy.FINEST,
) -> PrivacyLimits:
    """Derive ``Nf^l(tau)``, ``SP(tau)`` and the source-only layers of ``cnn``.

    Raises :class:`InputError` when the table has no row for ``cnn``, names a
    layer ``cnn`` does not have, or (``strict`` policy) cannot certify a split.
    """
    if not 0.0 < tau <= 1.0:
        raise InputError(f"expected a tolerated SSIM in (0, 1], got {tau}", field="privacy.max_ssim")
    rows = table.for_cnn(cnn.name)
    if not rows:
        raise InputError(
            f"the SSIM table {table.source} has no rows for CNN {cnn.name!r}; it covers {', '.join(table.cnns)}"
        )
    measured: list[tuple[int, SsimRow]] = []
    for row in rows:
        at = cnn.index_of(row.layer)
        if at is None:
            raise InputError(
                f"the SSIM table {table.source} measures layer {row.layer!r}, which CNN {cnn.name!r} does not have"
            )
        measured.append((at, row))
    measured.sort(key=lambda item: item[0])

    def governing(index: int) -> tuple[int, SsimRow]:
        # Input maps of layer l are the output of l-1: the deepest measured layer
        # at or before l-1 governs; before the first measured layer, the first row.
        chosen = measured[0]
        for at, row in measured:
            if at <= index - 1:
                chosen = (at, row)
        return chosen

    split_point = cnn.depth + 1
    for layer in cnn.layers:
        at, row = governing(layer.index)
        if at <= layer.index - 1:
            full = cnn.layer(at).out_maps
            ssim_full = row.ssim_at(full)
            if ssim_full is not None and ssim_full <= tau:
                split_point = layer.index
                break

    first_fc = cnn.first_fc
    limits = []
    for layer in cnn.layers:
        at, row = governing(layer.index)
        on_source = layer.index in (1, cnn.depth) or (layer.index == first_fc and first_fc < split_point)
        if layer.index >= split_point:
            limits.append(LayerLimit(layer.index, layer.name, row.layer, None, False, on_source))
            continue
        safe = _largest_safe_count(row, tau)
        extrapolated = safe is None
        if extrapolated and policy is UnmeasuredPolicy.STRICT and not on_source:
            raise InputError(
                f"the SSIM table cannot certify layer {layer.name!r} of CNN {cnn.name!r} at tau = {tau}: "
                f"its input is governed by {row.layer!r}, whose smallest measured count ({row.counts[0]} maps) "
                f"has SSIM {row.ssim[0]} > {tau}; use policy 'finest' or a larger max_ssim",
                field="privacy.policy",
            )
        max_maps = 1 if safe is None else safe
        limits.append(LayerLimit(layer.index, layer.name, row.layer, max_maps, extrapolated, on_source))
    return PrivacyLimits(
        cnn=cnn.name,
        tau=tau,
        split_point=split_point,
        layers=tuple(limits),
    )


def limit_rows(limits: PrivacyLimits, cnn: CNN) -> Iterable[dict[str, object]]:
    """Flat rows (one per layer) for printing or CSV: Nf, SP membership, source."""
    for layer, limit in zip(cnn.layers, limits.layers, strict=True):
        yield {
            "layer": layer.index,
            "name": layer.name,
            "kind": str(layer.kind),
            "segments": layer.segments,
            "governed_by": limit.governing_layer,
            "max_maps": "-" if limit.max_maps is None else limit.max_maps,
            "min_devices": "-" if limit.max_maps is None or limit.on_source else -(-layer.segments // limit.max_maps),
            "extrapolated": "yes" if limit.extrapolated else "",
            "runs_on": "source" if limit.on_source else "participants",
            "limited": "yes" if layer.index < limits.split_point else "",
        }


__all__ = [
    "LayerKind",
    "LayerLimit",
    "PrivacyLimits",
    "SsimRow",
    "SsimTable",
    "UnmeasuredPolicy",
    "derive_limits",
    "limit_rows",
    "load_ssim_table",
]
