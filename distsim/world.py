"""Resolve a :class:`~distsim.scenario.Scenario` into the static world of a run.

The world holds what does not change during a run: the fleet (devices and
their full budgets), the links between devices, the CNNs in use and their
privacy limits. It is built once and shared by schedulers and the engine.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from distsim import catalog
from distsim.errors import InputError
from distsim.fields import MAX_BUDGET
from distsim.model.cnn import CNN, build_cnn
from distsim.model.devices import DeviceType, Fleet, FullMesh, Links, Radio, build_fleet
from distsim.model.privacy import (
    PrivacyLimits,
    SsimTable,
    UnmeasuredPolicy,
    check_rows,
    load_ssim_table,
    merge_tables,
)
from distsim.names import check_scheduler, check_timing
from distsim.privacy.base import MechanismSettings, PrivacyMechanism
from distsim.privacy.registry import make_mechanism
from distsim.scenario import Network, Scenario

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class World:
    """Static description of a run.

    Attributes:
        scenario: the validated specification.
        fleet: participants then sources, with full budgets.
        links: transfer cost between devices.
        cnns: CNNs used by the sources, by name.
        limits: privacy limits per CNN name at ``scenario.privacy.max_ssim``.
        source_weights: probability of each source (index ``i - D``) per request.
        cores: CPU cores of every device in id order (``devices.<type>.cores``, default 1);
            used by ``contention`` timing.
        shared_channel: in ``contention`` timing, all radios of one technology share one channel.
        mac_efficiency: fraction of a shared channel's data rate that carries payload, in (0, 1].
        mechanism: the privacy mechanism (``privacy.mechanism``); ``limits`` are its limits.
        encrypted_links: relays see nothing of what they forward (``network.encrypted_links``).
    """

    scenario: Scenario
    fleet: Fleet
    links: Links
    cnns: dict[str, CNN]
    limits: dict[str, PrivacyLimits]
    source_weights: npt.NDArray[np.float64]
    cores: tuple[int, ...]
    shared_channel: bool
    mac_efficiency: float
    mechanism: PrivacyMechanism
    encrypted_links: bool = False


def apportion(total: int, weights: dict[str, float]) -> dict[str, int]:
    """Split ``total`` by ``weights`` with the largest-remainder method.

    Ties in the remainder go to the name that sorts first, so the result never
    depends on dict order.
    """
    names = sorted(weights)
    weight_sum = sum(weights[n] for n in names)
    quotas = {n: total * weights[n] / weight_sum for n in names}
    counts = {n: int(quotas[n]) for n in names}
    left = total - sum(counts.values())
    by_remainder = sorted(names, key=lambda n: (-(quotas[n] - counts[n]), n))
    for name in by_remainder[:left]:
        counts[name] += 1
    return counts


def scenario_radios(scenario: Scenario, file: str | None = None) -> dict[str, Radio]:
    """The catalogue's radios and those the scenario declares under ``radios``, by name."""
    out = dict(catalog.radios())
    for name, spec in sorted(scenario.radios.items()):
        if name in out:
            raise InputError(
                f"{name!r} is a built-in radio; give yours another name (or override a device type's radio)",
                file=file,
                field=f"radios.{name}",
            )
        out[name] = Radio(name=name, rate_bps=float(spec.rate_bps), description=spec.description)
    return out


def scenario_device_models(scenario: Scenario, file: str | None = None) -> dict[str, catalog.DeviceModel]:
    """The catalogue's device types and those the scenario declares under ``device_types``, by name."""
    out = dict(catalog.device_models())
    radios = scenario_radios(scenario, file)
    for name, spec in sorted(scenario.device_types.items()):
        if name in out:
            raise InputError(
                f"{name!r} is a built-in device type; give yours another name, or override it under devices.{name}",
                file=file,
                field=f"device_types.{name}",
            )
        if spec.radio not in radios:
            raise InputError(
                f"unknown radio {spec.radio!r}; expected one of {', '.join(radios)} or one declared under 'radios'",
                file=file,
                field=f"device_types.{name}.radio",
            )
        out[name] = catalog.DeviceModel(
            name=name,
            mults_per_s=float(spec.mults_per_s),
            memory_bytes=int(spec.memory_bytes),
            radio=radios[spec.radio],
            description=spec.description,
        )
    return out


def _device_type(name: str, scenario: Scenario, field: str, file: str | None) -> DeviceType:
    models = scenario_device_models(scenario, file)
    if name not in models:
        raise InputError(f"unknown device type {name!r}; expected one of {', '.join(models)}", file=file, field=field)
    override = scenario.devices.get(name)
    window = scenario.budgets.window_s
    if override is None:
        return _bounded(models[name].with_budgets(window), file)
    radio = None
    if override.radio is not None:
        radios = scenario_radios(scenario, file)
        if override.radio not in radios:
            raise InputError(
                f"unknown radio {override.radio!r}; expected one of {', '.join(radios)}",
                file=file,
                field=f"devices.{name}.radio",
            )
        radio = radios[override.radio]
    return _bounded(
        models[name].with_budgets(
            window,
            compute_budget_mults=override.compute_budget_mults,
            memory_bytes=override.memory_bytes,
            bandwidth_budget_bytes=override.bandwidth_budget_bytes,
            mults_per_s=override.mults_per_s,
            radio=radio,
        ),
        file,
    )


def _bounded(kind: DeviceType, file: str | None) -> DeviceType:
    """``kind`` if its derived budgets (speed x window) stay within :data:`~distsim.fields.MAX_BUDGET`."""
    for what, value in (("compute", kind.compute_budget_mults), ("bandwidth", kind.bandwidth_budget_bytes)):
        if value > MAX_BUDGET:
            raise InputError(
                f"the derived {what} budget of {kind.name!r} ({value:.3g}) exceeds {MAX_BUDGET:.3g}; "
                f"expected a shorter window or an explicit devices.{kind.name}.{what}_budget_* value",
                file=file,
                field="budgets.window_s",
            )
    return kind


def _check_overrides(scenario: Scenario, file: str | None) -> None:
    """Refuse a ``devices.<type>`` override for a type the scenario's fleet never uses (it would be ignored).

    A type counts as used when the participants name it (a ``mix`` key, a
    group type, or every catalogue type when ``mix`` is omitted) or a source
    group runs on it, even where the apportioned count is zero, so that a
    sweep over the mix keeps one override for every point.
    """
    spec = scenario.participants
    if spec.groups is not None:
        used = {group.type for group in spec.groups}
    else:
        used = set(spec.mix) if spec.mix is not None else set(scenario_device_models(scenario, file))
    used |= {group.device for group in scenario.sources}
    for name in sorted(scenario.devices):
        if name not in used:
            raise InputError(
                f"the fleet has no device of type {name!r} (it uses {', '.join(sorted(used))}); "
                "expected an override for one of those, or devices of this type",
                file=file,
                field=f"devices.{name}",
            )


def participant_types(scenario: Scenario, file: str | None = None) -> list[DeviceType]:
    """Participants in id order."""
    spec = scenario.participants
    out: list[DeviceType] = []
    if spec.groups is not None:
        for k, group in enumerate(spec.groups):
            kind = _device_type(group.type, scenario, f"participants.groups.{k}.type", file)
            out.extend([kind] * group.count)
        return out
    assert spec.total is not None
    mix = spec.mix if spec.mix is not None else {name: 1.0 for name in scenario_device_models(scenario, file)}
    for name in sorted(mix):
        _device_type(name, scenario, f"participants.mix.{name}", file)
    for name, count in apportion(spec.total, mix).items():
        out.extend([_device_type(name, scenario, f"participants.mix.{name}", file)] * count)
    return out


def scenario_ssim_table(scenario: Scenario, cnns: dict[str, CNN]) -> SsimTable:
    """The paper's Table I extended (or overridden per CNN and layer) by ``privacy.ssim_table``.

    The user's rows are checked against ``cnns`` (:func:`~distsim.model.privacy.check_rows`);
    suspicious ones are logged as warnings.
    """
    table = catalog.builtin_ssim_table()
    if scenario.privacy.ssim_table is None:
        return table
    try:
        own = load_ssim_table(Path(scenario.privacy.ssim_table))
    except InputError as exc:
        raise InputError(exc.detail, file=exc.file, field=exc.field or "privacy.ssim_table") from None
    for warning in check_rows(own, cnns):
        log.warning("%s", warning)
    return merge_tables(table, own)


def scenario_cnns(scenario: Scenario, file: str | None = None) -> dict[str, CNN]:
    """The built-in CNNs and those the scenario declares under ``cnns``, by name."""
    return _cnn_catalogue(scenario, file)


def _cnn_catalogue(scenario: Scenario, file: str | None) -> dict[str, CNN]:
    cnns = dict(catalog.builtin_cnns())
    for name, declaration in sorted(scenario.cnns.items()):
        if name in cnns:
            raise InputError(f"{name!r} is a built-in CNN; give your CNN another name", file=file, field=f"cnns.{name}")
        if not isinstance(declaration, dict):
            raise InputError(
                "expected a mapping with input_channels, input_side and layers", file=file, field=f"cnns.{name}"
            )
        try:
            cnns[name] = build_cnn({"name": name, **declaration})
        except InputError as exc:
            raise exc.located(file=file, field_prefix=f"cnns.{name}") from None
    return cnns


def device_cores(scenario: Scenario, fleet: Fleet) -> tuple[int, ...]:
    """CPU cores of every device in id order: ``devices.<type>.cores``, else ``device_types.<type>.cores``, else 1."""
    out = []
    for kind in fleet.types:
        override = scenario.devices.get(kind)
        declared = scenario.device_types.get(kind)
        cores = override.cores if override is not None else None
        if cores is None and declared is not None:
            cores = declared.cores
        out.append(int(cores) if cores is not None else 1)
    return tuple(out)


def build_links(network: Network, fleet: Fleet, *, file: str | None = None) -> Links:
    """The links a scenario's ``network`` section describes (:class:`FullMesh` for ``full``).

    Translates device ids to numbers and hands plain edges (or positions) to
    :mod:`distsim.model.topology`, imported only here so a full-mesh run never
    loads networkx. Raises :class:`InputError` naming the field when an edge or
    a position names an unknown device id.
    """
    if network.topology == "full":
        return FullMesh(fleet)
    from distsim.model.topology import Topology, geometric_edges, layout_positions

    ids = {name: i for i, name in enumerate(fleet.names)}

    def device(name: str, field: str) -> int:
        if name not in ids:
            known = f"{fleet.names[0]} .. {fleet.names[-1]}" if fleet.names else "none"
            raise InputError(
                f"unknown device id {name!r}; expected one of the fleet's ids ({known})", file=file, field=field
            )
        return ids[name]

    if network.topology == "edges":
        assert network.edges is not None
        edges = [
            (device(u, f"network.edges.{k}"), device(v, f"network.edges.{k}")) for k, (u, v) in enumerate(network.edges)
        ]
        return Topology(fleet, edges)
    fixed = network.positions or {}
    for name in sorted(fixed):
        device(name, f"network.positions.{name}")
    assert network.range_m is not None
    positions = layout_positions(fleet.names, fixed, network.area_m, np.random.default_rng(network.seed))
    return Topology(fleet, geometric_edges(positions, network.range_m))


def build_world(scenario: Scenario, *, file: str | None = None) -> World:
    """Resolve names, build the fleet, derive the privacy limits.

    Raises :class:`InputError` (naming ``file`` and the field) on unknown device,
    radio or CNN names, a CNN whose shapes do not fit, an unreadable SSIM table
    or, under the ``strict`` policy, a tolerated SSIM the table cannot certify.
    """
    check_scheduler(scenario.scheduler.name, scenario.scheduler.params, file=file)
    check_timing(scenario.simulation.timing, file=file)
    cnns = scenario_cnns(scenario, file)
    table = scenario_ssim_table(scenario, cnns)

    helpers = participant_types(scenario, file)
    _check_overrides(scenario, file)
    sources: list[DeviceType] = []
    source_cnns: list[str] = []
    weights: list[float] = []
    used: dict[str, CNN] = {}
    for k, group in enumerate(scenario.sources):
        if group.cnn not in cnns:
            raise InputError(
                f"unknown CNN {group.cnn!r}; expected one of {', '.join(sorted(cnns))} or a CNN declared under 'cnns'",
                file=file,
                field=f"sources.{k}.cnn",
            )
        kind = _device_type(group.device, scenario, f"sources.{k}.device", file)
        sources.extend([kind] * group.count)
        source_cnns.extend([group.cnn] * group.count)
        weights.extend([group.weight] * group.count)
        used[group.cnn] = cnns[group.cnn]
    settings = MechanismSettings(
        tau=scenario.privacy.max_ssim,
        policy=UnmeasuredPolicy(scenario.privacy.policy),
        table=table,
        colluders=scenario.privacy.colluders,
        params=dict(scenario.privacy.params),
    )
    chosen = {name: used[name] for name in sorted(used)}
    try:
        mechanism = make_mechanism(scenario.privacy.mechanism, settings, chosen)
    except InputError as exc:
        raise InputError(exc.detail, file=file, field=exc.field or "privacy") from None
    limits: dict[str, PrivacyLimits] = {name: mechanism.limits(cnn) for name, cnn in chosen.items()}
    fleet = build_fleet(helpers, sources, source_cnns)
    w = np.array(weights, dtype=np.float64)
    world = World(
        scenario=scenario,
        fleet=fleet,
        links=build_links(scenario.network, fleet, file=file),
        cnns={name: used[name] for name in sorted(used)},
        limits=limits,
        source_weights=w / w.sum(),
        mechanism=mechanism,
        encrypted_links=scenario.network.encrypted_links,
        cores=device_cores(scenario, fleet),
        shared_channel=scenario.network.shared_channel,
        mac_efficiency=scenario.network.mac_efficiency,
    )
    check_churn(world, file)
    return world


def check_churn(world: World, file: str | None = None) -> None:
    """Refuse churn fields that name unknown device types or ids."""
    scenario, fleet = world.scenario, world.fleet
    known = catalog.device_models()
    for kind in scenario.churn.random:
        if kind not in known:
            raise InputError(
                f"unknown device type {kind!r}; expected one of {', '.join(known)}",
                file=file,
                field=f"churn.random.{kind}",
            )
    names = {name: i for i, name in enumerate(fleet.names)}
    for k, outage in enumerate(scenario.churn.schedule):
        index = names.get(outage.device)
        if index is None or index >= fleet.participants:
            raise InputError(
                f"expected a participant id p0..p{fleet.participants - 1}, got {outage.device!r}",
                file=file,
                field=f"churn.schedule.{k}.device",
            )
    if (scenario.churn.random or scenario.churn.schedule) and scenario.network.topology != "full":
        raise InputError(
            "churn over a topology is not supported yet (routes through a departed relay are not recomputed)",
            file=file,
            field="churn",
        )
