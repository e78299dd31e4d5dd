"""Sweep files: a base scenario, a grid of overrides, replications and seeds.

A sweep file is YAML::

    name: fig3-ab                      # optional; default: the file's stem
    base: ../paper.yaml                # a scenario path (relative to this file) or an inline mapping
    grid:                              # dotted field path -> list of values
      participants.total: [15, 30, 60, 120]
      privacy.max_ssim: [0.4, 0.6, 0.8]
    replications: 3
    seed: 1
    keep_latencies: false              # store per-request latencies of every run (for CDF plots)
    output: {dir: results/fig3-ab}     # relative to the working directory

**Points.** The grid is the Cartesian product of its value lists. Keys vary in
the order they are declared: the first key varies slowest, the last fastest
(``itertools.product``). Point ``k`` is the ``k``-th combination, counted from 0.

**Overrides.** A grid key is a dotted path into the base scenario mapping;
every segment names a mapping key, except that an integer segment indexes a
list (``sources.0.cnn``). The value *replaces* what is there (a mapping is not
merged: ``participants.mix: {rpi3: 1}`` is a fleet of RPi3 only); missing
intermediate mappings are created. Each point is then validated like a
scenario file, so an unknown field or a bad value is reported against the grid
key that produced it. Keys must not overlap: a key and one of its ancestors or
descendants (``participants`` and ``participants.total``), or the same path
twice (``sources.0`` and ``sources.00``), would let one override silently undo
another, so they are refused; the YAML reader refuses a key written twice.

**Resolved scenario.** Each point's scenario is validated, every default
filled in and every referenced file (``privacy.ssim_table``) made an absolute
path, then kept as a plain mapping (:attr:`Point.scenario`): what the runs
execute (on any worker, from any directory), what their resume key hashes and
where the table's parameter columns are read from (:attr:`Point.columns`).

**Seeds.** Replication ``r`` of every point runs with seed
``SeedSequence(seed, spawn_key=(r,)).generate_state(2, uint32)`` read as one
63-bit integer, the seed of ``SeedSequence(seed).spawn(n)[r]`` for any
``n > r``. The seed depends only on the sweep seed and ``r``: it is the same
whatever the job count or the number of replications, and every point of one
replication sees the same arrival stream (common random numbers, which make
differences between points less noisy).
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from distsim.errors import InputError
from distsim.fields import Count, Seed, StrictBool
from distsim.scenario import (
    Scenario,
    apply_overrides,
    read_yaml,
    referenced_files,
    safe_name,
    scenario_from_dict,
    set_path,
    validation_to_input_error,
    with_file_references,
)
from distsim.world import build_world

#: Grid keys a sweep refuses: the sweep owns the seeds.
RESERVED_KEYS = ("simulation.seed",)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SweepOutput(_Strict):
    """Directory the sweep writes into (relative to the working directory)."""

    dir: str | None = None


class SweepSpec(_Strict):
    """The sweep file schema (see the module docstring)."""

    name: str | None = Field(default=None, min_length=1)
    description: str = ""
    base: str | dict[str, Any]
    grid: dict[str, Annotated[list[Any], Field(min_length=1)]] = Field(min_length=1)
    replications: Count = 1
    seed: Seed = 0
    keep_latencies: StrictBool = False
    output: SweepOutput = Field(default_factory=SweepOutput)

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str | None) -> str | None:
        return None if value is None else safe_name(value)


@dataclass(frozen=True)
class Point:
    """One combination of grid values.

    Attributes:
        index: position in the grid expansion (first key slowest), from 0.
        params: grid key -> value as the sweep file gives it, in the declared key order.
        scenario: the resolved scenario (see the module docstring): validated, every default
            filled in, referenced files as absolute paths; a plain JSON-ready mapping.
        columns: grid key -> the value the run really has, read from ``scenario`` at that path
            (a mapping or list value shows the keys and items the grid gave); the parameter
            columns of the results table.
    """

    index: int
    params: dict[str, Any]
    scenario: dict[str, Any]
    columns: dict[str, Any]


@dataclass(frozen=True)
class Sweep:
    """A loaded, fully validated sweep.

    Attributes:
        name: sweep name.
        file: the sweep file (for messages), or None for an in-memory sweep.
        base_dir: absolute directory against which relative paths in the scenario resolve.
        spec: the validated sweep file.
        points: every grid point, in expansion order.
        out_dir: output directory.
        base_file: the base scenario file, or None when the base is inline.
    """

    name: str
    file: str | None
    base_dir: Path
    spec: SweepSpec
    points: tuple[Point, ...]
    out_dir: Path
    base_file: Path | None = None

    @property
    def params(self) -> tuple[str, ...]:
        """Grid keys in declared order (the parameter columns of the results)."""
        return tuple(self.spec.grid)

    @property
    def replications(self) -> int:
        """Replications per point."""
        return self.spec.replications

    def seed_of(self, replication: int) -> int:
        """Seed of ``replication`` (same for every point)."""
        return replication_seed(self.spec.seed, replication)


def replication_seed(seed: int, replication: int) -> int:
    """The run seed of replication ``replication`` of a sweep seeded ``seed`` (a 63-bit integer)."""
    words = np.random.SeedSequence(seed, spawn_key=(replication,)).generate_state(2, dtype=np.uint32)
    return (int(words[0]) << 31) ^ int(words[1])


def _read_base(spec: SweepSpec, file: str | None, sweep_dir: Path) -> tuple[dict[str, Any], Path, Path | None]:
    if isinstance(spec.base, dict):
        return copy.deepcopy(spec.base), sweep_dir, None
    path = Path(spec.base)
    if not path.is_absolute():
        path = sweep_dir / path
    try:
        data = read_yaml(path)
    except InputError as exc:
        raise InputError(f"base scenario {path}: {exc.detail}", file=file, field="base") from None
    if not isinstance(data, dict):
        raise InputError(f"base scenario {path}: expected a mapping of scenario fields", file=file, field="base")
    return data, path.parent, path


def _describe_value(value: Any) -> str:
    return json.dumps(value) if isinstance(value, dict | list) else repr(value)


def path_parts(key: str) -> tuple[str, ...]:
    """The segments of a dotted path, integer segments normalised (``sources.00`` -> ``("sources", "0")``)."""
    return tuple(str(int(part)) if part.isdigit() else part for part in key.split("."))


def overlap(a: str, b: str) -> bool:
    """Whether two dotted paths name the same field or one contains the other."""
    pa, pb = path_parts(a), path_parts(b)
    return pa[: len(pb)] == pb or pb[: len(pa)] == pa


def _check_keys(keys: Sequence[str], file: str | None) -> None:
    """Refuse malformed, reserved and overlapping grid keys (one override would undo another)."""
    for at, key in enumerate(keys):
        if not key or any(not part for part in key.split(".")):
            raise InputError(
                f"expected a dotted field path such as 'privacy.max_ssim', got {key!r}", file=file, field=f"grid.{key}"
            )
        if key in RESERVED_KEYS:
            raise InputError(
                "the sweep sets the run seeds; use 'seed' and 'replications' instead", file=file, field=f"grid.{key}"
            )
        for earlier in keys[:at]:
            if overlap(earlier, key):
                relation = (
                    "names the same field as"
                    if path_parts(earlier) == path_parts(key)
                    else "lies inside"
                    if len(path_parts(key)) > len(path_parts(earlier))
                    else "contains"
                )
                raise InputError(
                    f"{relation} grid key {earlier!r}: one would override the other; expected grid keys that "
                    "do not overlap (sweep the whole mapping, or only fields inside it)",
                    file=file,
                    field=f"grid.{key}",
                )


def get_path(data: Any, key: str) -> Any:
    """The value at dotted ``key`` in a scenario mapping (``KeyError`` when a segment is absent)."""
    node = data
    for part in key.split("."):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise KeyError(key)
    return node


def shaped_like(resolved: Any, given: Any) -> Any:
    """``resolved`` restricted to the keys and items of ``given`` (recursively), so a column keeps the grid's shape.

    A mapping value ``{max_ssim: 0.4, mechanism: none}`` becomes the resolved
    values of those two fields, not the whole resolved block with every default.
    A resolved number equal to the given one keeps the given spelling (``1``
    for a weight the schema stores as ``1.0``); any other value is the resolved one.
    """
    if isinstance(given, dict) and isinstance(resolved, dict):
        return {k: shaped_like(resolved[k], v) if k in resolved else None for k, v in given.items()}
    if isinstance(given, list) and isinstance(resolved, list) and len(given) == len(resolved):
        return [shaped_like(r, g) for r, g in zip(resolved, given, strict=True)]
    if _number(given) and _number(resolved) and given == resolved:
        return given
    return resolved


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def resolve_scenario(scenario: Scenario) -> dict[str, Any]:
    """The resolved mapping of a validated scenario: every default, referenced files as absolute paths."""
    absolute = {field: str(path.resolve()) for field, path in referenced_files(scenario).items()}
    return with_file_references(scenario, absolute).model_dump(mode="json")


def _grid_files(scenario: Scenario, data: dict[str, Any], keys: Sequence[str], sweep_dir: Path) -> Scenario:
    """``scenario`` with each relative file path that a grid key set resolved against the sweep file's folder.

    :func:`scenario_from_dict` resolved every relative path against the base
    scenario's folder; a path written in the sweep file belongs to the sweep file.
    """
    fixes = {}
    for field in referenced_files(scenario):
        if any(overlap(field, key) and len(path_parts(key)) <= len(path_parts(field)) for key in keys):
            raw = get_path(data, field)
            if isinstance(raw, str) and not Path(raw).is_absolute():
                fixes[field] = str(sweep_dir / raw)
    return with_file_references(scenario, fixes) if fixes else scenario


def expand(
    spec: SweepSpec, base: dict[str, Any], *, file: str | None, base_dir: Path, sweep_dir: Path | None = None
) -> tuple[Point, ...]:
    """Every grid point, validated and resolved (first key varies slowest).

    Relative file paths resolve against ``base_dir`` (the base scenario's
    folder) when the base scenario names them, against ``sweep_dir`` (default
    ``base_dir``) when a grid value does.
    """
    keys = list(spec.grid)
    _check_keys(keys, file)
    points: list[Point] = []
    for index, values in enumerate(itertools.product(*(spec.grid[k] for k in keys))):
        params = dict(zip(keys, values, strict=True))
        data = copy.deepcopy(base)
        for key, value in params.items():
            try:
                set_path(data, key, value)
            except KeyError as exc:
                raise InputError(
                    f"cannot apply {key} = {_describe_value(value)}: {exc.args[0]}", file=file, field=f"grid.{key}"
                ) from None
        try:
            scenario = _grid_files(
                scenario_from_dict(data, base_dir=base_dir), data, keys, sweep_dir if sweep_dir else base_dir
            )
            build_world(scenario)
            resolved = resolve_scenario(scenario)
        except InputError as exc:
            culprit = _culprit(exc.field, keys)
            combo = ", ".join(f"{k} = {_describe_value(v)}" for k, v in params.items())
            where = f"scenario field {exc.field}: " if exc.field else ""
            raise InputError(
                f"point {index} ({combo}): {where}{exc.detail}",
                file=file,
                field=f"grid.{culprit}" if culprit else "base",
            ) from None
        columns = {}
        for key, value in params.items():
            try:
                columns[key] = shaped_like(get_path(resolved, key), value)
            except KeyError:
                raise InputError(
                    "not a field of the resolved scenario (a key the schema drops?)", file=file, field=f"grid.{key}"
                ) from None
        points.append(Point(index, params, resolved, columns))
    return tuple(points)


def _culprit(field: str | None, keys: list[str]) -> str | None:
    """The grid key whose override produced an error at scenario ``field`` (longest shared prefix)."""
    if field is None:
        return keys[-1] if len(keys) == 1 else None
    best: str | None = None
    best_len = 0
    for key in keys:
        a, b = key.split("."), field.split(".")
        common = 0
        while common < min(len(a), len(b)) and a[common] == b[common]:
            common += 1
        if common > best_len:
            best, best_len = key, common
    return best


def sweep_from_dict(
    data: Any,
    *,
    file: str | None = None,
    sweep_dir: Path | None = None,
    out_dir: str | Path | None = None,
    overrides: Sequence[tuple[str, Any]] = (),
) -> Sweep:
    """Validate a sweep mapping and expand its grid.

    Args:
        data: the parsed sweep file.
        file: its name, for messages.
        sweep_dir: directory the base path is relative to (default: the working directory).
        out_dir: overrides ``output.dir``.
        overrides: ``(dotted path, value)`` pairs set in the base scenario for every point
            (``--set``); a path that is also a grid key is an error.
    """
    if not isinstance(data, dict):
        raise InputError("expected a mapping with 'base', 'grid', 'replications', 'seed'", file=file)
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise validation_to_input_error(exc, file) from None
    here = (sweep_dir if sweep_dir is not None else Path(".")).resolve()
    base, base_dir, base_file = _read_base(spec, file, here)
    for path, _ in overrides:
        for key in spec.grid:
            if overlap(path, key):
                raise InputError(
                    f"{path} overlaps the grid key {key} of the sweep (the grid would override it); "
                    "expected a --set path outside the grid keys",
                    field="--set",
                )
    base = apply_overrides(base, overrides, file=file)
    points = expand(spec, base, file=file, base_dir=base_dir, sweep_dir=here)
    name = spec.name or (Path(file).stem if file else "sweep")
    target = (
        Path(out_dir)
        if out_dir is not None
        else (Path(spec.output.dir) if spec.output.dir else Path("results") / "sweeps" / name)
    )
    return Sweep(name=name, file=file, base_dir=base_dir, spec=spec, points=points, out_dir=target, base_file=base_file)


def load_sweep(
    path: str | Path, *, out_dir: str | Path | None = None, overrides: Sequence[tuple[str, Any]] = ()
) -> Sweep:
    """Read, validate and expand a sweep file (errors name the file and the field path)."""
    return sweep_from_dict(
        read_yaml(path), file=str(path), sweep_dir=Path(path).parent, out_dir=out_dir, overrides=overrides
    )
