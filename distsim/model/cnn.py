"""CNNs as chains of layers, and the DistPrivacy cost model (SPEC section 2).

A layer ``l`` (1-based, as in the paper) is cut into *segments*: one per input
feature map for conv / relu / pool layers, a single one for fully connected
(FC) layers. This module derives, per layer, the multiplications and weight
bytes of one segment (Eq. 2-4) and the shape of the traffic that feeds it
(Eq. 6). Everything here is exact integer arithmetic on Python ints.

Units: ``*_mults`` multiplications, ``*_bytes`` bytes (4 bytes per value and
per weight, fp32), sides in pixels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from distsim.errors import InputError

#: Bytes per activation value and per weight (fp32; the paper's "4 bits" is a slip).
BYTES_PER_VALUE = 4


class LayerKind(StrEnum):
    """Kind of a layer: convolution, activation (ReLU), max-pool or fully connected."""

    CONV = "conv"
    RELU = "relu"
    POOL = "pool"
    FC = "fc"

    @property
    def per_map(self) -> bool:
        """True for activation and pool layers, which map input map p to output map p."""
        return self in (LayerKind.RELU, LayerKind.POOL)


class Feed(StrEnum):
    """How layer ``l`` receives its input from the devices that computed ``l - 1``.

    ``NONE``: layer 1 reads the image on the source (no traffic).
    ``PARTIAL_SUMS``: ``l - 1`` is conv; every device that computed any segment of
    it sends, to each receiver, its partial sum of every map the receiver needs.
    ``MAPS``: ``l - 1`` is relu/pool; map ``p`` goes from the device that computed
    it to the device computing segment ``p`` of ``l``.
    ``VECTOR``: ``l - 1`` and ``l`` are FC; the neuron vector moves as a whole.
    ``GATHER``: ``l`` is the first FC; every device sends all it computed at ``l - 1``.
    """

    NONE = "none"
    PARTIAL_SUMS = "partial_sums"
    MAPS = "maps"
    VECTOR = "vector"
    GATHER = "gather"


@dataclass(frozen=True, slots=True)
class Layer:
    """One layer of a CNN with its derived costs.

    Attributes:
        index: 1-based position ``l`` in the chain.
        name: layer name, e.g. ``relu11`` (matches the SSIM table's ``layer``).
        kind: conv, relu, pool or fc.
        in_maps: ``P_{l-1}``, feature maps received (flattened length for FC).
        in_side: ``o_{l-1}``, spatial side of the received maps (1 for FC input).
        out_maps: ``P_l`` (1 for FC).
        out_side: ``o_l`` (1 for FC).
        neurons: ``n*_l`` for FC; for other layers the flattened output length.
        kernel: ``S_l`` (conv and pool; 0 for relu and fc).
        segments: number of segments (``P_{l-1}``, or 1 for FC).
        segment_mults: multiplications of one segment ``c^{l,p}`` (Eq. 2, 3).
        segment_weight_bytes: weight memory of one segment ``m^{l,p}`` (Eq. 4).
        feed: how the input arrives (see :class:`Feed`).
        feed_unit_bytes: bytes of one received map (``o_{l-1}^2 * b``) or, for
            ``VECTOR``, of the whole neuron vector (``n*_{l-1} * b``).
        prev_out_maps: ``P_{l-1}`` as an output count of layer ``l - 1`` (used by
            ``GATHER`` from a conv layer, which ships all its partial sums).
    """

    index: int
    name: str
    kind: LayerKind
    in_maps: int
    in_side: int
    out_maps: int
    out_side: int
    neurons: int
    kernel: int
    segments: int
    segment_mults: int
    segment_weight_bytes: int
    feed: Feed
    feed_unit_bytes: int
    prev_out_maps: int
    prev_kind: LayerKind | None

    @property
    def total_mults(self) -> int:
        """Multiplications of the whole layer."""
        return self.segments * self.segment_mults

    @property
    def total_weight_bytes(self) -> int:
        """Weight memory of the whole layer, bytes."""
        return self.segments * self.segment_weight_bytes

    @property
    def out_bytes(self) -> int:
        """Bytes of the layer's whole output."""
        return self.neurons * BYTES_PER_VALUE


@dataclass(frozen=True, slots=True)
class CNN:
    """A CNN: input shape and its derived layers ``1..L``."""

    name: str
    dataset: str
    input_channels: int
    input_side: int
    layers: tuple[Layer, ...]

    @property
    def depth(self) -> int:
        """``L``, the number of layers."""
        return len(self.layers)

    def layer(self, index: int) -> Layer:
        """Layer ``index`` (1-based)."""
        return self.layers[index - 1]

    @property
    def total_mults(self) -> int:
        """Multiplications of one inference."""
        return sum(layer.total_mults for layer in self.layers)

    @property
    def total_weight_bytes(self) -> int:
        """Weight memory of the whole network, bytes."""
        return sum(layer.total_weight_bytes for layer in self.layers)

    @property
    def total_segments(self) -> int:
        """Segments of one inference."""
        return sum(layer.segments for layer in self.layers)

    @property
    def first_fc(self) -> int | None:
        """Index of the first FC layer, or None."""
        for layer in self.layers:
            if layer.kind is LayerKind.FC:
                return layer.index
        return None

    def index_of(self, name: str) -> int | None:
        """1-based index of the layer called ``name``, or None."""
        for layer in self.layers:
            if layer.name == name:
                return layer.index
        return None


_LAYER_FIELDS = {
    LayerKind.CONV: {"name", "kind", "maps", "kernel", "padding", "stride"},
    LayerKind.RELU: {"name", "kind"},
    LayerKind.POOL: {"name", "kind", "kernel", "stride"},
    LayerKind.FC: {"name", "kind", "neurons"},
}


def _positive_int(value: Any, field: str, *, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"expected an integer, got {value!r}", field=field)
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else ">= 1"
        raise InputError(f"expected an integer {bound}, got {value}", field=field)
    return value


def build_cnn(spec: Mapping[str, Any]) -> CNN:
    """Build a :class:`CNN` from a declaration (the YAML layer-list format).

    ``spec`` has ``name``, optional ``dataset``, ``input_channels``,
    ``input_side`` and ``layers``: a list of mappings with ``kind`` (conv, relu,
    pool, fc), an optional ``name`` and the kind's parameters (conv: ``maps``,
    ``kernel``, ``padding`` = 0, ``stride`` = 1; pool: ``kernel``, ``stride`` =
    kernel; fc: ``neurons``). Raises :class:`InputError` with a field path such
    as ``layers.3.kernel`` when a value is missing or the shapes do not fit.
    """
    allowed_top = {"name", "dataset", "input_channels", "input_side", "layers", "description"}
    extra = sorted(set(spec) - allowed_top)
    if extra:
        raise InputError(f"unknown field; expected one of {', '.join(sorted(allowed_top))}", field=extra[0])
    for key in ("name", "input_channels", "input_side", "layers"):
        if key not in spec:
            raise InputError("field required", field=key)
    name = spec["name"]
    if not isinstance(name, str) or not name:
        raise InputError(f"expected a non-empty string, got {name!r}", field="name")
    channels = _positive_int(spec["input_channels"], "input_channels")
    side = _positive_int(spec["input_side"], "input_side")
    raw_layers = spec["layers"]
    if not isinstance(raw_layers, Sequence) or isinstance(raw_layers, str) or not raw_layers:
        raise InputError("expected a non-empty list of layers", field="layers")

    layers: list[Layer] = []
    maps, map_side = channels, side  # P_{l-1}, o_{l-1}
    prev_kind: LayerKind | None = None
    prev_neurons = channels * side * side
    seen: set[str] = set()
    for position, raw in enumerate(raw_layers):
        where = f"layers.{position}"
        if not isinstance(raw, Mapping):
            raise InputError("expected a mapping with a 'kind'", field=where)
        try:
            kind = LayerKind(str(raw.get("kind")))
        except ValueError:
            raise InputError(
                f"unknown layer kind {raw.get('kind')!r}; expected one of conv, relu, pool, fc",
                field=f"{where}.kind",
            ) from None
        extra = sorted(set(raw) - _LAYER_FIELDS[kind])
        if extra:
            allowed = ", ".join(sorted(_LAYER_FIELDS[kind]))
            raise InputError(
                f"unknown field for a {kind} layer; expected one of {allowed}", field=f"{where}.{extra[0]}"
            )
        index = position + 1
        layer_name = raw.get("name", f"{kind}{index}")
        if not isinstance(layer_name, str) or not layer_name:
            raise InputError(f"expected a non-empty string, got {layer_name!r}", field=f"{where}.name")
        if layer_name in seen:
            raise InputError(f"duplicate layer name {layer_name!r}", field=f"{where}.name")
        seen.add(layer_name)
        if prev_kind is LayerKind.FC and kind is not LayerKind.FC:
            raise InputError(
                f"a {kind} layer cannot follow a fully connected layer; expected only fc layers after the first fc",
                field=f"{where}.kind",
            )

        kernel = 0
        if kind is LayerKind.CONV:
            for key in ("maps", "kernel"):
                if key not in raw:
                    raise InputError("field required", field=f"{where}.{key}")
            out_maps = _positive_int(raw["maps"], f"{where}.maps")
            kernel = _positive_int(raw["kernel"], f"{where}.kernel")
            padding = _positive_int(raw.get("padding", 0), f"{where}.padding", allow_zero=True)
            stride = _positive_int(raw.get("stride", 1), f"{where}.stride")
            span = map_side + 2 * padding - kernel
            if span < 0:
                raise InputError(
                    f"kernel {kernel} with padding {padding} does not fit the {map_side}x{map_side} input maps",
                    field=f"{where}.kernel",
                )
            out_side = span // stride + 1
            neurons = out_maps * out_side * out_side
            segments = maps
            seg_mults = kernel * kernel * out_maps * out_side * out_side
            seg_weights = kernel * kernel * out_maps * BYTES_PER_VALUE
        elif kind is LayerKind.RELU:
            out_maps, out_side = maps, map_side
            neurons = out_maps * out_side * out_side
            segments, seg_mults, seg_weights = maps, 0, 0
        elif kind is LayerKind.POOL:
            if "kernel" not in raw:
                raise InputError("field required", field=f"{where}.kernel")
            kernel = _positive_int(raw["kernel"], f"{where}.kernel")
            stride = _positive_int(raw.get("stride", kernel), f"{where}.stride")
            if kernel > map_side:
                raise InputError(
                    f"pool kernel {kernel} does not fit the {map_side}x{map_side} input maps", field=f"{where}.kernel"
                )
            out_maps, out_side = maps, (map_side - kernel) // stride + 1
            neurons = out_maps * out_side * out_side
            segments, seg_mults, seg_weights = maps, 0, 0
        else:
            if "neurons" not in raw:
                raise InputError("field required", field=f"{where}.neurons")
            neurons = _positive_int(raw["neurons"], f"{where}.neurons")
            out_maps, out_side = 1, 1
            segments = 1
            seg_mults = prev_neurons * neurons
            seg_weights = prev_neurons * neurons * BYTES_PER_VALUE

        if index == 1:
            feed, unit = Feed.NONE, 0
        elif kind is LayerKind.FC:
            if prev_kind is LayerKind.FC:
                feed, unit = Feed.VECTOR, prev_neurons * BYTES_PER_VALUE
            else:
                feed, unit = Feed.GATHER, map_side * map_side * BYTES_PER_VALUE
        elif prev_kind is LayerKind.CONV:
            feed, unit = Feed.PARTIAL_SUMS, map_side * map_side * BYTES_PER_VALUE
        else:
            feed, unit = Feed.MAPS, map_side * map_side * BYTES_PER_VALUE

        layers.append(
            Layer(
                index=index,
                name=layer_name,
                kind=kind,
                in_maps=maps if prev_kind is not LayerKind.FC else 1,
                in_side=map_side,
                out_maps=out_maps,
                out_side=out_side,
                neurons=neurons,
                kernel=kernel,
                segments=segments,
                segment_mults=seg_mults,
                segment_weight_bytes=seg_weights,
                feed=feed,
                feed_unit_bytes=unit,
                prev_out_maps=maps,
                prev_kind=prev_kind,
            )
        )
        maps, map_side, prev_kind, prev_neurons = out_maps, out_side, kind, neurons
    dataset = spec.get("dataset", "")
    return CNN(
        name=name,
        dataset=str(dataset) if dataset is not None else "",
        input_channels=channels,
        input_side=side,
        layers=tuple(layers),
    )
