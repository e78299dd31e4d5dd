"""Human labels, units and value domains of every known parameter and metric (one table for all figures).

A :class:`Quantity` says how a parameter or metric is written on an axis
(``label (unit)``), its short symbol for legend entries (``τ = 0.4``), the
factor from the stored unit to the plotted one, and its domain (which decides
how confidence intervals are computed, :mod:`distsim.plots.uncertainty`).
Names not in the table get a label made from the dotted path, with the unit
read from the name's suffix (``_s``, ``_bytes``, ...), so no raw path ever
reaches an axis. ``--label NAME=TEXT`` overrides any label.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Domain = Literal["real", "nonneg", "fraction"]


@dataclass(frozen=True)
class Quantity:
    """How one parameter or metric is labelled.

    Attributes:
        label: words, without the unit.
        unit: unit as printed (after scaling), "" for a dimensionless number, None for a category.
        scale: factor from the stored unit to ``unit`` (bytes -> GB: 1e-9).
        domain: ``nonneg`` (>= 0), ``fraction`` (in [0, 1] before scaling) or ``real``.
        symbol: short name for legend entries (``τ``), or "" to show the value alone.
    """

    label: str
    unit: str | None = ""
    scale: float = 1.0
    domain: Domain = "nonneg"
    symbol: str = ""

    @property
    def categorical(self) -> bool:
        return self.unit is None

    def axis_label(self) -> str:
        """``label (unit)``; a dimensionless or categorical quantity has no parentheses."""
        return f"{self.label} ({self.unit})" if self.unit else self.label


_CAT = None

#: Swept parameters (dotted scenario paths).
PARAMETERS: dict[str, Quantity] = {
    "participants.total": Quantity("participants D", "devices", symbol="D"),
    "participants.mix": Quantity("device mix (share of participants)", _CAT),
    "participants.groups": Quantity("participant groups", _CAT),
    "privacy.max_ssim": Quantity("tolerated SSIM τ", "", symbol="τ"),
    "privacy.policy": Quantity("unmeasured-split policy", _CAT),
    "privacy.ssim_table": Quantity("SSIM table", _CAT),
    "privacy": Quantity("privacy setting", _CAT),
    "privacy.mechanism": Quantity("privacy mechanism", _CAT),
    "privacy.colluders": Quantity("colluding devices c", "devices", symbol="c"),
    "sources": Quantity("CNN of the requests", _CAT),
    "scheduler.name": Quantity("scheduler", _CAT),
    "scheduler.params.alpha": Quantity("compute weight α", "", symbol="α"),
    "scheduler.params.beta": Quantity("bandwidth weight β", "", symbol="β"),
    "workload.rate_per_s": Quantity("arrival rate λ", "requests/s", symbol="λ"),
    "workload.requests": Quantity("requests", "count", symbol="N"),
    "budgets.window_s": Quantity("budget window W", "s", symbol="W"),
    "simulation.timing": Quantity("timing model", _CAT),
    "simulation.seed": Quantity("seed", _CAT),
    "simulation.retry.mode": Quantity("retry mode", _CAT),
    "simulation.retry.interval_s": Quantity("retry interval", "s", symbol="retry every"),
    "simulation.retry.max_attempts": Quantity("attempts allowed", "count", symbol="attempts"),
    "network.topology": Quantity("network topology", _CAT),
    "network.range_m": Quantity("radio range", "m", symbol="range"),
    "network.area_m": Quantity("area side", "m", symbol="area"),
    "network.shared_channel": Quantity("shared radio channel", _CAT),
    "network.mac_efficiency": Quantity("MAC efficiency", "", domain="fraction", symbol="MAC eff."),
    "churn.policy": Quantity("failure policy", _CAT),
    "churn.random.nexus5.up_mean_s": Quantity("mean up-time (1 / churn rate)", "s", symbol="up-time"),
    "simulation.placement_period_s": Quantity("placement period", "s", symbol="period"),
    "devices.rpi3.power.idle_w": Quantity("Raspberry Pi 3 idle power", "W", symbol="idle"),
}

#: Summary metrics (``summary.json`` fields, ``results.csv`` columns).
METRICS: dict[str, Quantity] = {
    "requests": Quantity("requests arrived", "count"),
    "served": Quantity("requests served", "count"),
    "dropped": Quantity("requests dropped", "count"),
    "dropped_fleet_too_small": Quantity("dropped: fleet too small", "count"),
    "dropped_max_attempts": Quantity("dropped after the last attempt", "count"),
    "rejected_first_attempt": Quantity("rejected at first attempt", "count"),
    "rejection_rate": Quantity("rejected at first attempt", "%", 100.0, "fraction"),
    "load_rejection_rate": Quantity("rejected for load at first attempt", "%", 100.0, "fraction"),
    "attempts_mean": Quantity("placement attempts per request", "count"),
    "latency_mean_s": Quantity("mean latency per served request", "s"),
    "latency_p50_s": Quantity("median latency", "s"),
    "latency_p95_s": Quantity("95th percentile latency", "s"),
    "latency_p99_s": Quantity("99th percentile latency", "s"),
    "latency_max_s": Quantity("largest latency", "s"),
    "total_latency_s": Quantity("total latency of served requests", "s"),
    "queue_mean_s": Quantity("mean time waiting for retries", "s"),
    "shared_bytes": Quantity("data shared between devices", "GB", 1e-9),
    "shared_bytes_per_request": Quantity("shared data per served request", "MB", 1e-6),
    "throughput_per_s": Quantity("throughput", "requests/s"),
    "makespan_s": Quantity("makespan", "s"),
    "latency_s": Quantity("per-request latency", "s"),
    "time_s": Quantity("simulated time", "s"),
    "exposure_mean": Quantity("mean exposure SSIM of served requests", ""),
    "exposure_max": Quantity("largest exposure SSIM", ""),
    "exposure_above_tau_share": Quantity("served requests exposed above τ", "%", 100.0, "fraction"),
    "accuracy_mean_pct": Quantity("accuracy the mechanism leaves", "%"),
    "dropped_unreachable": Quantity("dropped: unreachable", "count"),
    "failed": Quantity("requests failed", "count"),
    "restarts": Quantity("attempts restarted after a failure", "count"),
    "energy_j": Quantity("energy of the fleet", "kJ", 1e-3),
    "energy_requests_j": Quantity("energy above idle of all requests", "J"),
    "energy_per_served_j": Quantity("energy above idle per served request", "J"),
    "battery_deaths": Quantity("batteries emptied", "count"),
    "first_death_at": Quantity("first battery empty at", "s"),
    "lifetime_at": Quantity("fleet lifetime (half the batteries empty)", "s"),
    "availability_mean": Quantity("participant time up", "%", 100.0, "fraction"),
}

_SUFFIX_UNITS: tuple[tuple[str, str], ...] = (
    ("_per_s", "1/s"),
    ("_bytes", "bytes"),
    ("_mults", "multiplications"),
    ("_bps", "bit/s"),
    ("_s", "s"),
    ("_at", "s"),
    ("_j", "J"),
    ("_w", "W"),
    ("_m", "m"),
    ("_mb", "MB"),
    ("_ms", "ms"),
)


def _guess(name: str) -> Quantity:
    """A readable label for a name the table does not know, unit from its suffix."""
    parts = [p for p in name.split(".") if p not in ("params",)]
    # participants.groups.0.count -> "participants, group 1 count"
    words = []
    for p in parts:
        if p.isdigit():
            words.append(f"#{int(p) + 1}")
        else:
            words.append(p)
    last = words[-1] if words else name
    unit = ""
    for suffix, text in _SUFFIX_UNITS:
        if last.endswith(suffix) and len(last) > len(suffix):
            unit, last = text, last[: -len(suffix)]
            break
    if last == "count":
        unit = "count"
    words[-1] = last
    label = " ".join(w.replace("_", " ") for w in words)
    if parts[:2] == ["participants", "groups"] and len(words) >= 3:
        is_count = words[-1] == "count"
        label = f"participants in group {words[2]}" + ("" if is_count else f" {words[-1]}")
        unit = "devices" if is_count else unit
    return Quantity(label, unit, symbol="")


def quantity(name: str, overrides: Mapping[str, str] | None = None) -> Quantity:
    """The :class:`Quantity` of a parameter or metric; ``overrides`` replace its whole axis label."""
    q = PARAMETERS.get(name) or METRICS.get(name) or _guess(name)
    if overrides and name in overrides:
        # An override is the full label; keep the unit only if the user did not write one.
        text = overrides[name]
        unit = None if q.categorical else ("" if re.search(r"\(.+\)\s*$", text) else q.unit)
        return Quantity(text, unit, q.scale, q.domain, q.symbol)
    return q


def axis_label(name: str, overrides: Mapping[str, str] | None = None) -> str:
    """Axis label with unit of a parameter or metric."""
    return quantity(name, overrides).axis_label()


def legend_title(names: list[str], overrides: Mapping[str, str] | None = None) -> str:
    """Legend title naming each grouped parameter (with its unit)."""
    return ", ".join(axis_label(n, overrides) for n in names)


def format_value(name: str, value: Any, *, with_symbol: bool = False) -> str:
    """Short text for a parameter value (legend entries, tick labels, table headers)."""
    q = PARAMETERS.get(name)
    if isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, dict) and value and all(isinstance(v, int | float) for v in value.values()):
        total = float(sum(value.values()))
        text = (
            " / ".join(f"{100 * v / total:.0f}% {k}" for k, v in value.items() if v > 0)
            if total > 0
            else json.dumps(value)
        )
    elif isinstance(value, list) and value and all(isinstance(v, dict) and "cnn" in v for v in value):
        text = ", ".join(str(v["cnn"]) + (f" ×{v['count']}" if v.get("count", 1) != 1 else "") for v in value)
    elif isinstance(value, list) and value and all(isinstance(v, dict) and "type" in v for v in value):
        text = ", ".join(f"{v.get('count', '?')} {v['type']}" for v in value)
    elif isinstance(value, dict | list):
        text = json.dumps(value, separators=(",", ":"))
    elif isinstance(value, float):
        text = f"{value:g}"
    else:
        text = str(value)
    if with_symbol and q is not None and q.symbol and isinstance(value, int | float) and not isinstance(value, bool):
        unit = f" {q.unit}" if q.unit and q.unit not in ("count", "devices") else ""
        return f"{q.symbol} = {text}{unit}"
    return text


def series_text(names: list[str], values: list[Any]) -> str:
    """Legend entry of a series fixed by ``names = values`` (symbols where known, values otherwise)."""
    if not names:
        return "all runs"
    return ", ".join(format_value(n, v, with_symbol=True) for n, v in zip(names, values, strict=True))
