"""Resolve a :class:`~distsim.scenario.Scenario` into the static world of a run.

The world holds what does not change during a run: the fleet (devices and
their full budgets), the links between devices, the CNNs in use and their
privacy limits. It is built once and shared by schedulers and the engine.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from distsim import catalog
from distsim.errors import InputError
from distsim.fields import MAX_BUDGET
from distsim.model.cnn import CNN, build_cnn
from distsim.model.devices import DeviceType, Fleet, FullMesh, Links, Radio, build_fleet
from distsim.model.offload import OffloadPlan, ServerModel
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
from distsim.settings import (
    ChurnPlan,
    EnergySettings,
    MobilityPlan,
    NetworkLayout,
    RetryPolicy,
    RunSettings,
    layout_links,
)

__all__ = [
    "ChurnPlan",
    "EnergySettings",
    "MobilityPlan",
    "NetworkLayout",
    "RetryPolicy",
    "RunSettings",
    "World",
    "build_links",
    "build_world",
    "layout_links",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class World:
    """Static description of a run.

    Attributes:
        scenario: the validated specification.
        fleet: participants then sources, with full budgets.
        links: transfer cost between devices.
        cnns: CNNs used by the sources, by name, as the mechanism runs them (``PrivacyMechanism.costed``).
        limits: privacy limits per CNN name at ``scenario.privacy.max_ssim``.
        source_weights: probability of each source (index ``i - D``) per request.
        cores: CPU cores of every device in id order (``devices.<type>.cores``, default 1);
            used by ``contention`` timing.
        shared_channel: in ``contention`` timing, all radios of one technology share one channel.
        mac_efficiency: fraction of a shared channel's data rate that carries payload, in (0, 1].
        mechanism: the privacy mechanism (``privacy.mechanism``); ``limits`` are its limits.
        encrypted_links: relays see nothing of what they forward (``network.encrypted_links``).
        run: workload, seed, timing, retry and privacy settings of the run.
        churn: churn of the participants.
        energy: batteries and the lifetime definition.
        power: the power model of every device in id order (catalogue values, scenario
            overrides on top; docs/energy.md).
        layout: what a topology's links are rebuilt from (None on a full mesh).
        mobility: random-waypoint movement (None: devices stay put).
        offload: per CNN name, where its layers run when the mechanism offloads to a server (``edge_cloud``);
            empty otherwise.
        server: device id of that server (the fleet's last id), None when nothing is offloaded.
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
    run: RunSettings
    churn: ChurnPlan
    energy: EnergySettings
    power: tuple[catalog.PowerSpec, ...]
    layout: NetworkLayout | None
    mobility: MobilityPlan | None
    encrypted_links: bool = False
    offload: dict[str, OffloadPlan] = field(default_factory=dict)
    server: int | None = None


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


def network_layout(network: Network, fleet: Fleet, *, file: str | None = None) -> NetworkLayout | None:
    """What a scenario's topology is built (and rebuilt) from; None for ``full``.

    Translates device ids to numbers; raises :class:`InputError` naming the
    field when an edge or a position names an unknown device id, or a rate
    table an unknown radio.
    """
    if network.topology == "full":
        return None
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
        edges = tuple(
            (device(u, f"network.edges.{k}"), device(v, f"network.edges.{k}")) for k, (u, v) in enumerate(network.edges)
        )
        return NetworkLayout(edges, None, 0.0, network.area_m, {})
    from distsim.model.topology import layout_positions

    fixed = network.positions or {}
    for name in sorted(fixed):
        device(name, f"network.positions.{name}")
    known_radios = sorted(set(catalog.radios()) | set(fleet.radios))
    for radio in sorted(network.rate_tables):
        if radio not in known_radios:
            raise InputError(
                f"unknown radio {radio!r}; expected one of {', '.join(known_radios)}",
                file=file,
                field=f"network.rate_tables.{radio}",
            )
    assert network.range_m is not None
    positions = layout_positions(fleet.names, fixed, network.area_m, np.random.default_rng(network.seed))
    positions.flags.writeable = False
    tables = {
        radio: tuple((float(row.up_to_m), float(row.rate_bps)) for row in rows)
        for radio, rows in sorted(network.rate_tables.items())
    }
    return NetworkLayout(None, positions, float(network.range_m), float(network.area_m), tables)


def build_links(network: Network, fleet: Fleet, *, file: str | None = None) -> Links:
    """The links a scenario's ``network`` section describes (:class:`FullMesh` for ``full``)."""
    layout = network_layout(network, fleet, file=file)
    return FullMesh(fleet) if layout is None else layout_links(layout, fleet)


def device_power(scenario: Scenario, fleet: Fleet) -> tuple[catalog.PowerSpec, ...]:
    """The power model of every device in id order: the catalogue's, ``devices.<type>`` overrides on top.

    A type declared in the scenario (``device_types:``) has no catalogue power
    model: it draws nothing and has no battery until the scenario gives
    ``devices.<type>.power`` / ``battery_wh`` (docs/energy.md).
    """
    specs = catalog.power_models()
    by_type: dict[str, catalog.PowerSpec] = {}
    for kind in sorted(set(fleet.types)):
        spec = specs.get(kind) or catalog.PowerSpec(0.0, 0.0, 0.0, 0.0, None, {"all": "declared in the scenario"})
        override = scenario.devices.get(kind)
        if override is not None:
            changes: dict[str, float] = {}
            if override.power is not None:
                changes = {key: float(v) for key, v in override.power.model_dump().items() if v is not None}
            battery = spec.battery_wh if override.battery_wh is None else float(override.battery_wh)
            sources = dict(spec.sources)
            sources.update({key: "scenario override" for key in changes})
            if override.battery_wh is not None:
                sources["battery_wh"] = "scenario override"
            spec = replace(spec, **changes, battery_wh=battery, sources=sources)
        by_type[kind] = spec
    return tuple(by_type[kind] for kind in fleet.types)


def run_settings(scenario: Scenario) -> RunSettings:
    """The run settings the engine reads, from the scenario's ``workload``, ``simulation`` and ``privacy``."""
    sim = scenario.simulation
    retry = RetryPolicy(sim.retry.mode, float(sim.retry.interval_s), int(sim.retry.max_attempts))
    return RunSettings(
        name=scenario.name,
        seed=int(sim.seed),
        timing=sim.timing,
        requests=int(scenario.workload.requests),
        rate_per_s=float(scenario.workload.rate_per_s),
        retry=retry,
        max_wall_s=sim.max_wall_s,
        placement_period_s=sim.placement_period_s,
        max_ssim=float(scenario.privacy.max_ssim),
        colluders=int(scenario.privacy.colluders),
        mechanism=scenario.privacy.mechanism,
        scheduler=scenario.scheduler.name,
        scheduler_params=MappingProxyType(dict(scenario.scheduler.params)),
    )


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
        servers=scenario_servers(scenario, file),
    )
    chosen = {name: used[name] for name in sorted(used)}
    try:
        mechanism = make_mechanism(scenario.privacy.mechanism, settings, chosen)
    except InputError as exc:
        raise InputError(exc.detail, file=file, field=exc.field or "privacy") from None
    limits: dict[str, PrivacyLimits] = {name: mechanism.limits(cnn) for name, cnn in chosen.items()}
    # The CNNs as the cost model runs them: a mechanism's own compute (dp_noise's clip and noise) folded in.
    costed = {name: mechanism.costed(cnn) for name, cnn in chosen.items()}
    offload = {name: plan for name, cnn in chosen.items() if (plan := mechanism.offload(cnn)) is not None}
    servers = offload_servers(scenario, mechanism, offload, file)
    fleet = build_fleet(helpers, sources, source_cnns, servers)
    w = np.array(weights, dtype=np.float64)
    layout = network_layout(scenario.network, fleet, file=file)
    return World(
        scenario=scenario,
        fleet=fleet,
        links=FullMesh(fleet) if layout is None else layout_links(layout, fleet),
        cnns=costed,
        limits=limits,
        source_weights=w / w.sum(),
        mechanism=mechanism,
        encrypted_links=scenario.network.encrypted_links,
        cores=device_cores(scenario, fleet),
        shared_channel=scenario.network.shared_channel,
        mac_efficiency=scenario.network.mac_efficiency,
        run=run_settings(scenario),
        churn=churn_plan(scenario, fleet, file),
        energy=EnergySettings(
            scenario.energy.batteries,
            float(scenario.energy.lifetime_fraction),
            float(scenario.energy.charge_sample_s),
        ),
        power=device_power(scenario, fleet),
        layout=layout,
        mobility=mobility_plan(scenario, fleet, file),
        offload=offload,
        server=fleet.size - 1 if servers else None,
    )


def scenario_servers(scenario: Scenario, file: str | None = None) -> dict[str, ServerModel]:
    """The servers the scenario declares (``servers``), by name, as plain data."""
    out: dict[str, ServerModel] = {}
    for name, spec in sorted(scenario.servers.items()):
        if re.fullmatch(r"[ps][0-9]+", name):
            raise InputError(
                f"{name!r} looks like a participant or source id; give the server another name",
                file=file,
                field=f"servers.{name}",
            )
        out[name] = ServerModel(
            name, float(spec.mults_per_s), float(spec.uplink_bps), float(spec.rtt_s), spec.memory_bytes
        )
    return out


def offload_servers(
    scenario: Scenario, mechanism: PrivacyMechanism, offload: dict[str, OffloadPlan], file: str | None
) -> list[tuple[str, DeviceType]]:
    """The server the mechanism offloads to, as a fleet device (name, type); none when nothing is offloaded.

    Its compute budget is its speed times the budget window (capped at
    :data:`~distsim.fields.MAX_BUDGET`), its memory the declared one (or the
    cap), its bandwidth budget the uplink's rate times the window.
    """
    server: ServerModel | None = getattr(mechanism, "server", None)
    if not offload or server is None:
        return []
    if scenario.simulation.timing != "analytic":
        raise InputError(
            f"{scenario.privacy.mechanism} runs with analytic timing only (the contention model has no uplink "
            f"or round trip yet), got {scenario.simulation.timing!r}",
            file=file,
            field="simulation.timing",
        )
    if scenario.network.topology != "full":
        raise InputError(
            f"{scenario.privacy.mechanism}'s uplink is not part of a topology; expected network.topology: full",
            file=file,
            field="network.topology",
        )
    window = scenario.budgets.window_s
    kind = DeviceType(
        name="server",
        mults_per_s=server.mults_per_s,
        memory_bytes=server.memory_bytes if server.memory_bytes is not None else MAX_BUDGET,
        radio=Radio(name="uplink", rate_bps=server.uplink_bps, description=f"uplink to server {server.name}"),
        compute_budget_mults=min(int(server.mults_per_s * window), MAX_BUDGET),
        bandwidth_budget_bytes=min(int(server.uplink_bps / 8 * window), MAX_BUDGET),
        description=f"server {server.name}",
    )
    return [(server.name, kind)]


def churn_plan(scenario: Scenario, fleet: Fleet, file: str | None = None) -> ChurnPlan:
    """The churn of every participant; refuses churn fields that name unknown device types or ids."""
    known = scenario_device_models(scenario, file)
    for kind in scenario.churn.random:
        if kind not in known:
            raise InputError(
                f"unknown device type {kind!r}; expected one of {', '.join(known)}",
                file=file,
                field=f"churn.random.{kind}",
            )
    names = {name: i for i, name in enumerate(fleet.names)}
    schedule = []
    for k, outage in enumerate(scenario.churn.schedule):
        index = names.get(outage.device)
        if index is None or index >= fleet.participants:
            raise InputError(
                f"expected a participant id p0..p{fleet.participants - 1}, got {outage.device!r}",
                file=file,
                field=f"churn.schedule.{k}.device",
            )
        up_at = None if outage.up_at is None else float(outage.up_at)
        schedule.append((index, float(outage.down_at), up_at))
    times: list[tuple[float, float] | None] = []
    for kind in fleet.types[: fleet.participants]:
        spec = scenario.churn.random.get(kind)
        times.append(None if spec is None else (float(spec.up_mean_s), float(spec.down_mean_s)))
    return ChurnPlan(tuple(times), tuple(schedule), scenario.churn.policy)


def mobility_plan(scenario: Scenario, fleet: Fleet, file: str | None = None) -> MobilityPlan | None:
    """Which participants move and how (``network.mobility``), or None when nothing moves."""
    spec = scenario.network.mobility
    if spec is None:
        return None
    known = scenario_device_models(scenario, file)
    for k, kind in enumerate(spec.types or []):
        if kind not in known:
            raise InputError(
                f"unknown device type {kind!r}; expected one of {', '.join(known)}",
                file=file,
                field=f"network.mobility.types.{k}",
            )
    kinds = set(spec.types) if spec.types is not None else set(fleet.types)
    fixed = scenario.network.positions or {}
    movers = tuple(i for i in range(fleet.participants) if fleet.types[i] in kinds and fleet.names[i] not in fixed)
    speeds = (float(spec.speed_mps[0]), float(spec.speed_mps[1]))
    return MobilityPlan(movers, speeds, float(spec.pause_s), float(spec.interval_s))
