"""Built-in catalogues shipped as data files inside the package.

* ``data/devices.yaml``: device types (``rpi3``, ``nexus5``, ``stm32h7``) and
  radios (``802.11n``, ``802.11ah``), SPEC section 1;
* ``data/cnns/*.yaml``: ``lenet``, ``cifar_cnn``, ``vgg16``, ``vgg19``, SPEC section 2;
* ``data/ssim_blackbox_distprivacy.csv``: the paper's Table I, SPEC section 3.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from distsim.model.cnn import CNN, build_cnn
from distsim.model.devices import DeviceType, Radio
from distsim.model.privacy import SsimTable, load_ssim_table

_DATA = resources.files("distsim") / "data"

#: Default budget window W, seconds: budgets are ``e * W`` and ``rho / 8 * W``.
DEFAULT_BUDGET_WINDOW_S = 5.0


@dataclass(frozen=True, slots=True)
class DeviceModel:
    """A catalogue entry before budgets are fixed: speed, memory, radio."""

    name: str
    mults_per_s: float
    memory_bytes: int
    radio: Radio
    description: str

    def with_budgets(
        self,
        window_s: float,
        *,
        compute_budget_mults: int | None = None,
        memory_bytes: int | None = None,
        bandwidth_budget_bytes: int | None = None,
        mults_per_s: float | None = None,
        radio: Radio | None = None,
    ) -> DeviceType:
        """A :class:`DeviceType` with budgets derived from ``window_s`` unless overridden."""
        speed = self.mults_per_s if mults_per_s is None else mults_per_s
        link = self.radio if radio is None else radio
        return DeviceType(
            name=self.name,
            mults_per_s=speed,
            memory_bytes=self.memory_bytes if memory_bytes is None else memory_bytes,
            radio=link,
            compute_budget_mults=(int(speed * window_s) if compute_budget_mults is None else compute_budget_mults),
            bandwidth_budget_bytes=(
                int(link.rate_bps / 8 * window_s) if bandwidth_budget_bytes is None else bandwidth_budget_bytes
            ),
            description=self.description,
        )


@cache
def _device_document() -> dict[str, Any]:
    text = (_DATA / "devices.yaml").read_text(encoding="utf-8")
    doc: dict[str, Any] = yaml.safe_load(text)
    return doc


@cache
def radios() -> dict[str, Radio]:
    """Radio catalogue, by name."""
    doc = _device_document()["radios"]
    return {
        name: Radio(name=name, rate_bps=float(entry["rate_bps"]), description=entry.get("description", ""))
        for name, entry in sorted(doc.items())
    }


@cache
def device_models() -> dict[str, DeviceModel]:
    """Device catalogue, by name (budgets not yet fixed: see :meth:`DeviceModel.with_budgets`)."""
    doc = _device_document()["devices"]
    links = radios()
    return {
        name: DeviceModel(
            name=name,
            mults_per_s=float(entry["mults_per_s"]),
            memory_bytes=int(entry["memory_bytes"]),
            radio=links[entry["radio"]],
            description=entry.get("description", ""),
        )
        for name, entry in sorted(doc.items())
    }


@cache
def builtin_cnns() -> dict[str, CNN]:
    """Built-in CNNs, by name."""
    out: dict[str, CNN] = {}
    for entry in sorted((_DATA / "cnns").iterdir(), key=lambda item: item.name):
        if entry.name.endswith(".yaml"):
            cnn = build_cnn(yaml.safe_load(entry.read_text(encoding="utf-8")))
            out[cnn.name] = cnn
    return out


def builtin_ssim_path() -> Path:
    """Path of the packaged SSIM table (the paper's Table I)."""
    return Path(str(_DATA / "ssim_blackbox_distprivacy.csv"))


@cache
def builtin_ssim_table() -> SsimTable:
    """The paper's Table I."""
    return load_ssim_table(builtin_ssim_path())


@dataclass(frozen=True, slots=True)
class PowerSpec:
    """A device type's power model, watts (``data/devices.yaml``, ``power:``; docs/energy.md).

    Attributes:
        idle_w: drawn whenever the device is up.
        compute_w: drawn above ``idle_w`` while it computes a segment batch.
        tx_w: drawn above ``idle_w`` while its radio transmits.
        rx_w: drawn above ``idle_w`` while its radio receives.
        battery_wh: battery capacity, Wh (None: mains powered).
        sources: where each value comes from and how uncertain it is, by field name.
    """

    idle_w: float
    compute_w: float
    tx_w: float
    rx_w: float
    battery_wh: float | None
    sources: dict[str, str]


@cache
def power_models() -> dict[str, PowerSpec]:
    """Power model of every catalogue device type, by name."""
    doc = _device_document()["devices"]
    out: dict[str, PowerSpec] = {}
    for name, entry in sorted(doc.items()):
        power = entry["power"]
        values = {key: float(power[key]["value"]) for key in ("idle_w", "compute_w", "tx_w", "rx_w")}
        sources = {key: f"{power[key]['source']} (uncertainty: {power[key]['uncertainty']})" for key in values}
        battery = entry.get("battery_wh")
        if battery is not None:
            sources["battery_wh"] = str(entry.get("battery_source", ""))
        out[name] = PowerSpec(battery_wh=None if battery is None else float(battery), sources=sources, **values)
    return out
