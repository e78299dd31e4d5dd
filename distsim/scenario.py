"""Scenario specification: the YAML schema, validated with pydantic.

A scenario is a *specification*, kept apart from run state (see
:mod:`distsim.world` for its resolution into a fleet, CNNs and limits, and
:mod:`distsim.engine` for the run). Units are in field names: ``rate_per_s``,
``window_s``, ``interval_s``, ``*_bytes``, ``*_mults``.

See ``docs/scenarios.md`` for every field with its default.

Over 600 lines because it is the one schema of every scenario section (each
pydantic model with its documented fields, units and validators) plus the YAML
reading and override helpers they share, so that docs/scenarios.md, which
follows it section by section, maps onto one module.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from distsim.errors import InputError
from distsim.fields import (
    MAX_DEVICES,
    Budget,
    Count,
    DeviceCount,
    DurationS,
    Fraction,
    InputModel,
    Integer,
    Number,
    Rate,
    RequestCount,
    Seed,
    Speed,
    StrictBool,
)
from distsim.reading import read_text

#: Source weights and participant mix weights: finite, at most 1e12.
Weight = Annotated[float, Number, Field(gt=0, le=1e12, allow_inf_nan=False)]
MixWeight = Annotated[float, Number, Field(ge=0, le=1e12, allow_inf_nan=False)]
#: CPU cores of a device in ``contention`` timing.
Cores = Annotated[int, Integer, Field(ge=1, le=4096)]
#: Lengths and coordinates, m: at most 1e7 (about the Earth's diameter).
Metres = Annotated[float, Number, Field(gt=0, le=1e7, allow_inf_nan=False)]
Coordinate = Annotated[float, Number, Field(ge=-1e7, le=1e7, allow_inf_nan=False)]

_Strict = InputModel


#: Longest name that becomes a folder name.
MAX_NAME_CHARS = 200


def safe_name(value: str) -> str:
    """``value`` if it is safe as one folder name, else ValueError: no separators, no ``.``/``..``.

    Also refused: control characters, leading or trailing spaces (folders that
    look like another), a leading ``-`` (read as an option), over
    :data:`MAX_NAME_CHARS` characters.
    """
    if any(ch in value for ch in "/\\") or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("expected a name without path separators or control characters")
    if value in (".", ".."):
        raise ValueError(f"expected a name usable as a folder name, got {value!r}")
    if value != value.strip() or value.startswith("-"):
        raise ValueError("expected a name without leading or trailing spaces and not starting with '-'")
    if len(value) > MAX_NAME_CHARS:
        raise ValueError(f"expected a name of at most {MAX_NAME_CHARS} characters")
    return value


class SourceGroup(_Strict):
    """Cameras bound to one CNN.

    ``count`` sources of device type ``device`` each emit requests of ``cnn``;
    each source is picked for a request with probability proportional to
    ``weight``.
    """

    cnn: str
    count: Annotated[DeviceCount, Field(ge=1)] = 1
    weight: Weight = 1.0
    device: str = "rpi3"


class ParticipantGroup(_Strict):
    """``count`` participants of device type ``type``."""

    type: str
    count: DeviceCount


class Participants(_Strict):
    """The helper fleet: either ``groups``, or a ``total`` split by ``mix`` weights.

    ``mix`` maps device types to non-negative weights (default: every catalogue
    type equally); counts are apportioned by largest remainder, ties to the
    type that sorts first. Devices are numbered type by type, types sorted by
    name (``groups``: in list order).
    """

    total: DeviceCount | None = None
    mix: dict[str, MixWeight] | None = None
    groups: list[ParticipantGroup] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Participants:
        if self.groups is not None and (self.total is not None or self.mix is not None):
            raise ValueError("give either 'groups' or 'total' (with an optional 'mix'), not both")
        if self.groups is None and self.total is None:
            raise ValueError("expected 'total' (with an optional 'mix') or 'groups'")
        if self.mix is not None and sum(self.mix.values()) <= 0:
            raise ValueError("expected 'mix' weights with a positive sum")
        return self


#: Watts: at most 1 kW (an IoT device draws a few watts).
Watts = Annotated[float, Number, Field(ge=0, le=1e3, allow_inf_nan=False)]
#: Watt-hours: at most 1 MWh.
WattHours = Annotated[float, Number, Field(gt=0, le=1e6, allow_inf_nan=False)]
#: Instants, s: [0, 1e9].
InstantS = Annotated[float, Number, Field(ge=0, le=1e9, allow_inf_nan=False)]


class PowerOverride(_Strict):
    """Per device type power model, watts: idle, and above idle while computing, sending, receiving."""

    idle_w: Watts | None = None
    compute_w: Watts | None = None
    tx_w: Watts | None = None
    rx_w: Watts | None = None


class DeviceOverride(_Strict):
    """Per device type overrides of the catalogue and of the derived budgets."""

    mults_per_s: Speed | None = None
    memory_bytes: Annotated[Budget, Field(ge=1)] | None = None
    compute_budget_mults: Budget | None = None
    bandwidth_budget_bytes: Budget | None = None
    radio: str | None = None
    #: CPU cores in ``contention`` timing (default 1); one segment batch occupies one core.
    cores: Cores | None = None
    #: Power model overrides, watts (docs/energy.md); unset fields keep the catalogue's.
    power: PowerOverride | None = None
    #: Battery capacity, Wh, used when ``energy.batteries`` is true (default: the catalogue's).
    battery_wh: WattHours | None = None


class RadioSpec(_Strict):
    """A radio technology the scenario declares beside the catalogue's (``radios.<name>``)."""

    rate_bps: Speed
    description: str = ""


class DeviceTypeSpec(_Strict):
    """A device type the scenario declares beside the catalogue's (``device_types.<name>``).

    ``radio`` names a catalogue radio or one under ``radios``. Budgets derive
    from the budget window as for catalogue types (``devices.<name>``
    overrides them); ``cores`` is its CPU cores in ``contention`` timing.
    """

    mults_per_s: Speed
    memory_bytes: Annotated[Budget, Field(ge=1)]
    radio: str
    cores: Cores | None = None
    description: str = ""


class ServerSpec(_Strict):
    """An edge or cloud server (device kind ``server``, ``servers.<name>``) for mechanisms that offload.

    Only ``privacy.mechanism: edge_cloud`` sends work to it (docs/privacy.md);
    under any other mechanism it is not part of the fleet. Its compute budget
    is ``mults_per_s`` times the budget window, like a device's.
    """

    #: Compute speed, multiplications per second.
    mults_per_s: Speed
    #: Camera-to-server data rate, bits per second.
    uplink_bps: Speed
    #: Round-trip time between a camera and the server, seconds (charged once per request).
    rtt_s: Annotated[float, Number, Field(ge=0, le=3600.0, allow_inf_nan=False)] = 0.0
    #: Weight memory it may hold at once, bytes (default: no limit).
    memory_bytes: Annotated[Budget, Field(ge=1)] | None = None
    description: str = ""


class Budgets(_Strict):
    """Budget window ``W`` (s): default budgets are ``e * W`` mults and ``rho/8 * W`` bytes."""

    window_s: DurationS = 5.0


class Workload(_Strict):
    """Poisson arrivals: ``requests`` in all, at ``rate_per_s`` over all sources."""

    requests: RequestCount
    rate_per_s: Rate

    @field_validator("rate_per_s")
    @classmethod
    def _finite_gap(cls, value: float) -> float:
        # A subnormal rate has an infinite mean inter-arrival time: the run would never end
        # and its summary would hold infinities that strict JSON cannot carry.
        if not math.isfinite(1.0 / value):
            raise ValueError(f"expected a rate whose mean inter-arrival time 1/rate is finite, got {value!r}")
        return value


class Privacy(_Strict):
    """Tolerated SSIM ``tau`` in (0, 1], policy for unmeasured splits, optional own table.

    ``mechanism`` names the privacy mechanism (``feature_split``, the default,
    or ``none``; see docs/privacy.md) and ``params`` its own parameters;
    ``colluders`` is how many devices an attacker may pool when exposure is
    measured (>= 1).

    ``ssim_table`` is a CSV path, relative to the scenario file; its rows extend
    the packaged table (the paper's Table I) or override it per (CNN, layer).
    """

    max_ssim: Fraction
    policy: Literal["finest", "strict"] = "finest"
    ssim_table: str | None = None
    mechanism: str = "feature_split"
    params: dict[str, Any] = Field(default_factory=dict)
    colluders: Annotated[int, Integer, Field(ge=1, le=MAX_DEVICES)] = 1


class SchedulerSpec(_Strict):
    """Scheduler by registry name, with its own parameters (checked by the scheduler)."""

    name: str = "distprivacy"
    params: dict[str, Any] = Field(default_factory=dict)


class Retry(_Strict):
    """What happens to a rejected request.

    ``interval``: try again every ``interval_s``; ``on_release``: try again
    whenever a request completes and frees resources (FIFO among waiting
    requests). After ``max_attempts`` attempts in all the request is dropped.
    """

    mode: Literal["interval", "on_release"] = "interval"
    interval_s: DurationS = 1.0
    max_attempts: Count = 100


class Simulation(_Strict):
    """Timing model by name, seed of the run, the retry policy and an optional wall-clock budget.

    ``max_wall_s``: stop the run once this much wall-clock time has passed
    (checked between simulation events): what finished is written, the summary
    and the manifest say ``complete: false``, and ``distsim run`` exits with
    status 3. Where it binds the results depend on machine speed.
    """

    timing: str = "analytic"
    seed: Seed = 0
    retry: Retry = Field(default_factory=Retry)
    max_wall_s: DurationS | None = None
    #: Periodic re-optimisation (docs/dynamics.md): requests arriving in a window of this
    #: many seconds are placed together at its end, in arrival order; None places each on arrival.
    placement_period_s: DurationS | None = None


#: Metres per second: (0, 1e4] (no IoT device moves faster than 10 km/s).
MetresPerS = Annotated[float, Number, Field(gt=0, le=1e4, allow_inf_nan=False)]
#: Pause at a waypoint, s: [0, 1e9].
PauseS = Annotated[float, Number, Field(ge=0, le=1e9, allow_inf_nan=False)]


class Mobility(_Strict):
    """Random-waypoint movement in a geometric topology (docs/dynamics.md, "Mobility").

    Each moving participant walks straight to a waypoint drawn uniformly in the
    square ``[0, network.area_m]^2`` at a speed drawn uniformly in
    ``speed_mps`` (metres per second, ``[min, max]``), pauses ``pause_s``
    seconds there, and goes on to the next. Positions (and with them links,
    routes and distance-dependent rates) are updated every ``interval_s``
    seconds. ``types``: the participant types that move (default: all);
    sources and devices with a fixed ``network.positions`` entry never move.
    """

    speed_mps: tuple[MetresPerS, MetresPerS]
    pause_s: PauseS = 0.0
    interval_s: DurationS = 1.0
    types: list[str] | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Mobility:
        if self.speed_mps[0] > self.speed_mps[1]:
            raise ValueError("expected speed_mps as [min, max] with min <= max")
        return self


class RateStep(_Strict):
    """One row of a distance-to-rate table: hops of at most ``up_to_m`` metres go at ``rate_bps``."""

    up_to_m: Metres
    rate_bps: Speed


class Network(_Strict):
    """Links between devices and, in ``contention`` timing, channel sharing.

    ``topology``: ``full`` (every device reaches every other directly, the
    paper's assumption), ``edges`` (only the undirected links listed in
    ``edges``, as pairs of device ids such as ``[p0, s1]``) or ``geometric``
    (devices at ``positions`` in metres, the others drawn uniformly in the
    square of side ``area_m`` with the generator seeded by ``seed``; devices at
    most ``range_m`` apart are linked). Transfers follow the fastest route, hop
    by hop. ``shared_channel``: in ``contention`` timing all radios of one
    technology share one channel whose airtime concurrent transfers split
    equally (processor sharing) at ``mac_efficiency`` times the data rate.
    """

    topology: Literal["full", "edges", "geometric"] = "full"
    edges: list[tuple[str, str]] | None = None
    positions: dict[str, tuple[Coordinate, Coordinate]] | None = None
    area_m: Metres = 100.0
    range_m: Metres | None = None
    seed: Seed = 0
    shared_channel: StrictBool = False
    encrypted_links: StrictBool = False
    mac_efficiency: Fraction = 1.0
    #: Random-waypoint movement (``topology: geometric`` only); None: devices stay put.
    mobility: Mobility | None = None
    #: Per radio name, a distance-to-rate step table (``topology: geometric`` only; docs/dynamics.md).
    rate_tables: dict[str, list[RateStep]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> Network:
        if self.topology == "edges" and self.edges is None:
            raise ValueError("topology 'edges' expects an 'edges' list of device id pairs")
        if self.topology != "edges" and self.edges is not None:
            raise ValueError("'edges' is only used with topology 'edges'")
        if self.topology == "geometric" and self.range_m is None:
            raise ValueError("topology 'geometric' expects 'range_m', the communication range in metres")
        if self.topology != "geometric" and (self.positions is not None or self.range_m is not None):
            raise ValueError("'positions' and 'range_m' are only used with topology 'geometric'")
        if self.topology != "geometric" and (self.mobility is not None or self.rate_tables):
            raise ValueError("'mobility' and 'rate_tables' are only used with topology 'geometric'")
        for radio, rows in sorted(self.rate_tables.items()):
            bounds = [row.up_to_m for row in rows]
            if not rows or any(b >= a for a, b in zip(bounds[1:], bounds, strict=False)):
                raise ValueError(f"rate_tables.{radio}: expected rows with strictly increasing up_to_m")
        return self


class Energy(_Strict):
    """Energy accounting and batteries (docs/energy.md).

    Energy is always accounted from the power model. ``batteries``: participants
    whose type has a capacity (``devices.<type>.battery_wh`` or the catalogue's)
    run on it and leave the fleet for good when it is empty. ``lifetime_fraction``:
    the fleet's lifetime ends when this fraction of the battery-powered
    participants has died. ``charge_sample_s``: seconds between the samples of
    remaining charge written to ``charge.csv``.
    """

    batteries: StrictBool = False
    lifetime_fraction: Fraction = 0.5
    #: With batteries, the charge left in every battery is written every this many seconds
    #: (``charge.csv``; also at every battery death and at the end of the run).
    charge_sample_s: DurationS = 1.0


class ChurnTimes(_Strict):
    """Exponential up-times and down-times of one device type, mean seconds."""

    up_mean_s: DurationS
    down_mean_s: DurationS


class Outage(_Strict):
    """One scheduled outage of a participant: down at ``down_at``, back at ``up_at`` (never if unset)."""

    device: str
    down_at: InstantS
    up_at: InstantS | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Outage:
        if self.up_at is not None and self.up_at <= self.down_at:
            raise ValueError("expected up_at > down_at")
        return self


class Churn(_Strict):
    """Participants leaving and joining (docs/dynamics.md).

    ``random``: per device type, exponential up and down times (each device its
    own seeded stream, starting in the stationary state); ``schedule``: explicit
    outages by device id. ``policy``: what a failure during an inference does to
    it: ``restart`` (release what it holds, place it again from now; latency
    still counts from its first arrival) or ``fail`` (it ends as failed).
    """

    random: dict[str, ChurnTimes] = Field(default_factory=dict)
    schedule: list[Outage] = Field(default_factory=list)
    policy: Literal["restart", "fail"] = "restart"


class Output(_Strict):
    """Directory the run writes into (relative to the working directory)."""

    dir: str | None = None


class Scenario(_Strict):
    """A whole scenario. See ``docs/scenarios.md``."""

    name: str = Field(min_length=1)
    description: str = ""
    cnns: dict[str, dict[str, Any]] = Field(default_factory=dict)
    sources: list[SourceGroup] = Field(min_length=1)
    participants: Participants
    device_types: dict[str, DeviceTypeSpec] = Field(default_factory=dict)
    servers: dict[str, ServerSpec] = Field(default_factory=dict)
    radios: dict[str, RadioSpec] = Field(default_factory=dict)
    devices: dict[str, DeviceOverride] = Field(default_factory=dict)
    budgets: Budgets = Field(default_factory=Budgets)
    workload: Workload
    privacy: Privacy
    scheduler: SchedulerSpec = Field(default_factory=SchedulerSpec)
    simulation: Simulation = Field(default_factory=Simulation)
    network: Network = Field(default_factory=Network)
    output: Output = Field(default_factory=Output)
    energy: Energy = Field(default_factory=Energy)
    churn: Churn = Field(default_factory=Churn)

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        return safe_name(value)

    @model_validator(mode="after")
    def _bounded_fleet(self) -> Scenario:
        spec = self.participants
        helpers = spec.total if spec.total is not None else sum(g.count for g in spec.groups or ())
        devices = helpers + sum(group.count for group in self.sources)
        if devices > MAX_DEVICES:
            raise ValueError(f"expected at most {MAX_DEVICES} devices (sources and participants), got {devices}")
        return self

    @property
    def output_dir(self) -> Path:
        """Where results go: ``output.dir`` or ``results/<name>``."""
        return Path(self.output.dir) if self.output.dir else Path("results") / self.name


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


def _describe(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    message = str(error.get("msg", "invalid value"))
    if kind == "extra_forbidden":
        return "unknown field (not part of the schema)"
    if kind == "missing":
        return "field required"
    given = error.get("input")
    if kind not in ("value_error",) and not isinstance(given, dict | list):
        return f"{message[0].lower()}{message[1:]}, got {given!r}"
    return message.removeprefix("Value error, ")


def validation_to_input_error(exc: ValidationError, file: str | None, prefix: str = "") -> InputError:
    """Turn pydantic's first error into one :class:`InputError` with a dotted field path."""
    error = exc.errors()[0]
    path = _field_path(tuple(error.get("loc", ())))
    if prefix:
        path = f"{prefix}.{path}" if path else prefix
    return InputError(_describe(dict(error)), file=file, field=path or None)


_FLOAT_12 = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)


def _loader() -> type:
    class Loader(yaml.SafeLoader):
        """Safe loading without aliases, with YAML 1.2 floats."""

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise yaml.composer.ComposerError(
                    None, None, "YAML aliases (*name) are not accepted; write the value out", event.start_mark
                )
            return super().compose_node(parent, index)

        def construct_document(self, node: Any) -> Any:
            _refuse_duplicate_keys(node, ())
            return super().construct_document(node)

    # Copy the resolver table before adding to it, so SafeLoader itself is unchanged.
    Loader.yaml_implicit_resolvers = {k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_12, list("-+0123456789."))
    return Loader


_LOADER: list[type] = []


def _refuse_duplicate_keys(node: Any, path: tuple[str, ...]) -> None:
    """An :class:`InputError` for a key given twice in one mapping (YAML loaders keep the last silently)."""
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _refuse_duplicate_keys(item, (*path, str(index)))
    elif isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            name, line = str(key.value), key.start_mark.line + 1
            if name in seen:
                where = ".".join((*path, name))
                raise InputError(
                    f"duplicate key (lines {seen[name]} and {line}); each key may appear once", field=where
                )
            seen[name] = line
            _refuse_duplicate_keys(value, (*path, name))


def parse_yaml(text: str, *, file: str | None = None) -> Any:
    """Parse YAML text without aliases (so no alias bomb), ``1e9`` read as a number (YAML 1.2).

    A syntax error is an :class:`InputError` with its line and column; a key
    given twice in one mapping (which YAML loaders resolve silently, the last
    winning) is an :class:`InputError` naming its dotted path and both lines.
    """
    if not _LOADER:
        _LOADER.append(_loader())
    try:
        return yaml.load(text, Loader=_LOADER[0])
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else None
        problem = getattr(exc, "problem", None) or "malformed YAML"
        raise InputError(f"malformed YAML: {problem}", file=file, field=where) from None
    except InputError as exc:  # a duplicate key, found while composing
        raise exc.located(file=file) from None
    except RecursionError:
        raise InputError("malformed YAML: nested too deeply", file=file) from None


def read_yaml(path: str | Path, *, what: str = "YAML file") -> Any:
    """Read (size-limited, :func:`~distsim.reading.read_text`) and parse (:func:`parse_yaml`) a YAML file."""
    return parse_yaml(read_text(path, what=what), file=str(path))


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Replace the value at dotted ``path`` in ``data`` (in place).

    Raises ``KeyError`` with a message when a segment cannot be followed (an
    integer segment into something that is not a list, or out of range).
    """
    parts = path.split(".")
    node: Any = data
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = ".".join(parts[: depth + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise KeyError(f"{where}: expected a list index below {len(node)}")
            key: Any = int(part)
        elif isinstance(node, dict):
            key = part
            if not last and key not in node:
                node[key] = {}
        else:
            raise KeyError(f"{'.'.join(parts[:depth])}: is a {type(node).__name__}, cannot hold field {part!r}")
        if last:
            node[key] = copy.deepcopy(value)
        else:
            node = node[key]


def parse_override(text: str, *, option: str = "--set") -> tuple[str, Any]:
    """``dotted.path=value`` as ``(path, value)``; the value is YAML (``0.4``, ``true``, ``[1, 2]``, ``{rpi3: 1}``)."""
    path, sep, raw = text.partition("=")
    path = path.strip()
    if not sep or not path or any(not part for part in path.split(".")):
        raise InputError(f"expected dotted.path=value (e.g. privacy.max_ssim=0.4), got {text!r}", field=option)
    value = parse_yaml(raw, file=None) if raw.strip() else ""
    return path, value


def apply_overrides(data: Any, overrides: Sequence[tuple[str, Any]], *, file: str | None = None) -> Any:
    """A copy of the scenario mapping ``data`` with every ``(dotted path, value)`` set, in order."""
    if not overrides:
        return data
    if not isinstance(data, dict):
        return data  # scenario_from_dict reports the file's shape
    out = copy.deepcopy(data)
    for path, value in overrides:
        try:
            set_path(out, path, value)
        except KeyError as exc:
            raise InputError(str(exc.args[0]), file=file, field="--set") from None
    return out


def scenario_from_dict(data: Any, *, file: str | None = None, base_dir: Path | None = None) -> Scenario:
    """Validate a scenario mapping; relative ``privacy.ssim_table`` resolves against ``base_dir``."""
    if not isinstance(data, dict):
        raise InputError("expected a mapping of scenario fields at the top level", file=file)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise validation_to_input_error(exc, file) from None
    table = scenario.privacy.ssim_table
    if table is not None and base_dir is not None and not Path(table).is_absolute():
        privacy = scenario.privacy.model_copy(update={"ssim_table": str(base_dir / table)})
        scenario = scenario.model_copy(update={"privacy": privacy})
    return scenario


def load_scenario(path: str | Path, overrides: Sequence[tuple[str, Any]] = ()) -> Scenario:
    """Read and validate a scenario YAML file (field errors name the file and path).

    ``overrides`` are ``(dotted path, value)`` pairs set before validation,
    as ``--set`` gives them (:func:`parse_override`).
    """
    data = apply_overrides(read_yaml(path), overrides, file=str(path))
    return scenario_from_dict(data, file=str(path), base_dir=Path(path).parent)


def referenced_files(scenario: Scenario) -> dict[str, Path]:
    """Files a scenario reads besides itself, by field path (``privacy.ssim_table``).

    Provenance hashes them, sweep resume keys include their contents, and a run
    folder's ``scenario.yaml`` carries copies of them. A new scenario field that
    names a file must be listed here.
    """
    out: dict[str, Path] = {}
    if scenario.privacy.ssim_table is not None:
        out["privacy.ssim_table"] = Path(scenario.privacy.ssim_table)
    return out


def with_file_references(scenario: Scenario, paths: dict[str, str]) -> Scenario:
    """The scenario with the files of :func:`referenced_files` replaced by ``paths`` (same field paths)."""
    if "privacy.ssim_table" in paths:
        privacy = scenario.privacy.model_copy(update={"ssim_table": paths["privacy.ssim_table"]})
        scenario = scenario.model_copy(update={"privacy": privacy})
    return scenario


def scenario_to_yaml(scenario: Scenario) -> str:
    """The scenario with every default filled in, as YAML."""
    return yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False)
