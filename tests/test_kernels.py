"""The compiled kernels give exactly what their Python twins give (decisions, costs, whole runs).

The Python path (``DISTSIM_KERNEL=python``) is the specification; the
numba kernels (:mod:`distsim.model.cost_kernel`,
:mod:`distsim.scheduling.distprivacy_kernel`) must match it bit for bit:
every cost field of random placements, every record of seeded runs. The
decision-for-decision equality with the per-segment reference runs on both
paths in ``tests/test_distprivacy.py``.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from distsim.engine.records import MemorySink
from distsim.engine.simulation import Simulation
from distsim.model import compiled
from distsim.model.cost import PlacementCost, evaluate, evaluate_flat, layer_transfers
from tests.conftest import ROOT, make_world
from tests.test_distprivacy import random_world

BUSY = {
    "sources": [{"cnn": "lenet"}, {"cnn": "cifar_cnn", "count": 2}, {"cnn": "vgg19"}],
    "participants": {"total": 40, "mix": {"rpi3": 1, "nexus5": 1, "stm32h7": 1}},
    "budgets": {"window_s": 0.05},
    "workload": {"requests": 80, "rate_per_s": 40.0},
    "simulation": {"seed": 7, "retry": {"mode": "interval", "interval_s": 0.05, "max_attempts": 20}},
}


def on(mode: str, call: Any) -> Any:
    compiled.set_kernel(mode)
    try:
        return call()
    finally:
        compiled.set_kernel(None)


def assert_same_cost(a: PlacementCost, b: PlacementCost) -> None:
    assert a.latency_s == b.latency_s
    assert a.layers == b.layers  # every layer's latency, compute, transfer (floats) and bytes
    assert (a.shared_bytes, a.devices_used) == (b.shared_bytes, b.devices_used)
    for name in (
        "compute_mults", "memory_bytes", "bandwidth_bytes", "segments", "received_bytes", "tx_s", "rx_s",
        "layer_latency_s", "layer_compute_s", "layer_transfer_s", "layer_bytes",
    ):  # fmt: skip
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert getattr(a, name).dtype == getattr(b, name).dtype
    assert type(a.latency_s) is float and type(a.shared_bytes) is int and type(a.devices_used) is int


def test_the_kernels_load_on_the_numba_path() -> None:
    """Guards the equivalence tests against silently comparing Python with Python."""
    compiled.set_kernel("numba")
    try:
        assert compiled.load_kernel("distsim.model.cost_kernel", "evaluate_mesh") is not None
        assert compiled.load_kernel("distsim.scheduling.distprivacy_kernel", "decide_mesh") is not None
    finally:
        compiled.set_kernel(None)
    compiled.set_kernel("python")
    try:
        assert compiled.load_kernel("distsim.model.cost_kernel", "evaluate_mesh") is None
    finally:
        compiled.set_kernel(None)


def test_auto_loads_the_kernels_after_its_share_of_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """``auto`` stays on the Python path until AUTO_AFTER_SEGMENTS segments were handled, then uses the kernels."""
    monkeypatch.setattr(compiled, "_auto_segments", 0)
    compiled.set_kernel("auto")
    try:
        half = compiled.AUTO_AFTER_SEGMENTS // 2
        assert compiled.load_kernel("distsim.model.cost_kernel", "evaluate_mesh", half) is None
        assert compiled.load_kernel("distsim.model.cost_kernel", "evaluate_mesh", half - 1) is None
        assert compiled._auto_segments == compiled.AUTO_AFTER_SEGMENTS - 1
        assert compiled.load_kernel("distsim.model.cost_kernel", "evaluate_mesh", 1) is None  # reaches the share
        assert compiled.load_kernel("distsim.model.cost_kernel", "evaluate_mesh", 1) is not None
    finally:
        compiled.set_kernel(None)


@pytest.mark.parametrize("cnn", ["lenet", "cifar_cnn", "vgg16", "vgg19"])
def test_compiled_evaluate_equals_python_on_random_placements(cnn: str) -> None:
    rng = np.random.default_rng(len(cnn))
    for size in (3, 17, 120):
        world = random_world(rng, cnn, 0.6, size)
        net, n = world.cnns[cnn], world.fleet.size
        for mode in range(4):
            # Spread over everyone, crowded on few devices, all on one, or the source and one helper.
            pool = [np.arange(n), rng.choice(n, 3), np.array([int(rng.integers(n))]), np.array([n - 1, 0])][mode]
            placed = [pool[rng.integers(len(pool), size=layer.segments)].astype(np.int64) for layer in net.layers]
            fast = on("numba", lambda p=placed, w=world: evaluate(w.cnns[cnn], p, w.fleet, w.links))
            slow = on("python", lambda p=placed, w=world: evaluate(w.cnns[cnn], p, w.fleet, w.links))
            assert_same_cost(fast, slow)


def _radio_seconds(world: Any, net: Any, placed: list[Any]) -> tuple[Any, Any]:
    """Per-device send / receive seconds, layer by layer as energy accounting defined them (Eq. 6, one hop)."""
    n, spb = world.fleet.size, world.fleet.sec_per_byte
    tx, rx = np.zeros(n), np.zeros(n)
    prev = None
    for layer, cur in zip(net.layers, placed, strict=True):
        flows = layer_transfers(layer, prev, cur, n)
        prev = cur
        seconds = flows.bytes * spb[flows.senders]
        np.add.at(tx, flows.senders, seconds)
        np.add.at(rx, flows.receivers, seconds)
    return tx, rx


@pytest.mark.parametrize("mode", ["numba", "python"])
def test_radio_seconds_of_the_cost_are_the_per_layer_sums(mode: str) -> None:
    """``tx_s`` / ``rx_s`` are bit for bit the per-layer, per-transfer sums (what the energy meter charges)."""
    rng = np.random.default_rng(5)
    for cnn in ("lenet", "vgg16"):
        for size in (4, 60):
            world = random_world(rng, cnn, 0.6, size)
            net, n = world.cnns[cnn], world.fleet.size
            placed = [rng.integers(n, size=layer.segments).astype(np.int64) for layer in net.layers]
            cost = on(mode, lambda p=placed, w=world, c=net: evaluate(c, p, w.fleet, w.links))
            tx, rx = _radio_seconds(world, net, placed)
            assert tx.sum() > 0
            np.testing.assert_array_equal(cost.tx_s, tx)
            np.testing.assert_array_equal(cost.rx_s, rx)
            flat = on(mode, lambda p=placed, w=world, c=net: evaluate_flat(c, np.concatenate(p), w.fleet, w.links))
            assert_same_cost(flat, cost)


def test_evaluate_flat_refuses_a_wrong_assignment() -> None:
    world = make_world()
    net = world.cnns["lenet"]
    with pytest.raises(ValueError, match="segment devices"):
        evaluate_flat(net, np.zeros(3, dtype=np.int64), world.fleet, world.links)
    with pytest.raises(ValueError, match="device ids"):
        evaluate_flat(net, np.full(net.total_segments, world.fleet.size, dtype=np.int64), world.fleet, world.links)


@pytest.mark.parametrize("timing", ["analytic", "contention"])
def test_runs_are_record_for_record_identical_on_both_paths(timing: str) -> None:
    def run() -> tuple[Any, list[Any]]:
        sink = MemorySink()
        summary = Simulation(make_world(**{**BUSY, "simulation": {**BUSY["simulation"], "timing": timing}}), sink).run()
        return summary, sink.records

    fast, slow = on("numba", run), on("python", run)
    # repr: the same digits for every float, NaN (never served) included.
    assert [repr(r) for r in fast[1]] == [repr(r) for r in slow[1]]
    assert repr(fast[0]) == repr(slow[0])
    assert any(not r.dropped for r in slow[1]) and any(r.attempts > 1 for r in slow[1])


def test_the_switch_is_read_from_the_environment() -> None:
    code = "from distsim.model.compiled import kernel_mode; print(kernel_mode())"
    for value, expected in (("python", "python"), ("numba", "numba"), ("auto", "auto"), ("", "auto")):
        out = subprocess.run(
            [sys.executable, "-c", code], env={"DISTSIM_KERNEL": value, "PATH": ""}, cwd=ROOT,
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert out.stdout.strip() == expected
    bad = subprocess.run(
        [sys.executable, "-c", code], env={"DISTSIM_KERNEL": "fortran"}, cwd=ROOT, capture_output=True, text=True
    )
    assert bad.returncode != 0 and "DISTSIM_KERNEL" in bad.stderr
