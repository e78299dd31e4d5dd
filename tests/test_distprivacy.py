"""The fast DistPrivacy scheduler makes exactly the decisions of the per-segment reference.

Both are run on many random instances: every built-in CNN, every tau level,
random fleets, random residual budgets (including nearly exhausted ones) and
random small CNNs declared in code. They must agree on every segment's device,
on every rejection (layer, constraint, message) and so on every reserved amount.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distsim.engine.ledger import Ledger
from distsim.scheduling.base import ClusterView, Placement, Rejection, Request
from distsim.scheduling.registry import make_scheduler
from distsim.world import World
from tests.conftest import make_world

TYPES = ("rpi3", "nexus5", "stm32h7")

#: Every test here runs on the compiled path and on the pure-Python path (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("kernel")


def decide_both(world: World, request: Request, view: ClusterView) -> tuple[Any, Any]:
    rng = np.random.default_rng(0)
    fast = make_scheduler("distprivacy", {}, world, rng).place(request, view)
    ref = make_scheduler("distprivacy_reference", {}, world, rng).place(request, view)
    return fast, ref


def assert_same(fast: Placement | Rejection, ref: Placement | Rejection, view: ClusterView) -> None:
    assert type(fast) is type(ref)
    if isinstance(ref, Rejection):
        assert fast == ref
        return
    assert isinstance(fast, Placement)
    for a, b in zip(fast.assignments, ref.assignments, strict=True):
        np.testing.assert_array_equal(a, b)
    for name in ("compute_mults", "memory_bytes", "bandwidth_bytes"):
        np.testing.assert_array_equal(getattr(fast.cost, name), getattr(ref.cost, name))
    # What the placement holds fits what the view offered.
    assert (fast.cost.compute_mults <= view.compute_mults).all()
    assert (fast.cost.memory_bytes <= view.memory_bytes).all()
    assert (fast.cost.bandwidth_bytes <= view.bandwidth_bytes).all()


def random_world(rng: np.random.Generator, cnn: str, tau: float, size: int, window_s: float | None = None) -> World:
    counts = rng.multinomial(size, [1 / 3] * 3)
    groups = [{"type": t, "count": int(c)} for t, c in zip(TYPES, counts, strict=True)]
    order = rng.permutation(len(groups))
    return make_world(
        sources=[{"cnn": cnn}],
        participants={"groups": [groups[k] for k in order]},
        privacy={"max_ssim": tau},
        budgets={"window_s": window_s or float(rng.choice([0.05, 0.3, 1.0, 5.0]))},
    )


def random_view(rng: np.random.Generator, world: World) -> ClusterView:
    fleet = world.fleet
    arrays = []
    for full in (fleet.compute_budget_mults, fleet.memory_bytes, fleet.bandwidth_budget_bytes):
        mode = rng.integers(3)
        if mode == 0:
            factor = np.ones(len(full))
        elif mode == 1:
            factor = rng.uniform(0, 1, len(full))
        else:  # nearly exhausted: many devices at zero or a sliver
            factor = np.where(rng.uniform(size=len(full)) < 0.4, 0.0, rng.uniform(0, 0.05, len(full)))
        arrays.append((full * factor).astype(np.int64))
    return ClusterView(world, *arrays)


CASES = [
    ("lenet", 0.4, 3),
    ("lenet", 0.8, 6),
    ("lenet", 0.6, 20),
    ("cifar_cnn", 0.4, 18),
    ("cifar_cnn", 0.6, 6),
    ("cifar_cnn", 0.8, 30),
    ("vgg16", 0.8, 34),
    ("vgg19", 0.6, 18),
    ("vgg19", 0.8, 12),
]


@pytest.mark.parametrize(("cnn", "tau", "size"), CASES)
def test_random_residuals(cnn: str, tau: float, size: int) -> None:
    rng = np.random.default_rng([size, int(tau * 10), len(cnn)])
    trials = 2 if cnn.startswith("vgg") else 12
    for _ in range(trials):
        world = random_world(rng, cnn, tau, size)
        source = world.fleet.participants
        view = random_view(rng, world)
        fast, ref = decide_both(world, Request(0, source, cnn, 0.0), view)
        assert_same(fast, ref, view)


@pytest.mark.parametrize(
    ("cnn", "tau", "size", "window_s"),
    [("lenet", 0.6, 5, 0.005), ("cifar_cnn", 0.8, 8, 0.05), ("cifar_cnn", 0.4, 30, 0.3)],
)
def test_sequences_until_exhaustion(cnn: str, tau: float, size: int, window_s: float) -> None:
    """Place request after request on a shared ledger: both agree at every step, through rejections."""
    rng = np.random.default_rng(size)
    world = random_world(rng, cnn, tau, size, window_s=window_s)
    ledger = Ledger(world)
    source = world.fleet.participants
    outcomes = []
    for k in range(40):
        view = ledger.view()
        fast, ref = decide_both(world, Request(k, source, cnn, 0.0), view)
        assert_same(fast, ref, view)
        outcomes.append(isinstance(fast, Placement))
        if isinstance(fast, Placement):
            ledger.reserve(fast.cost)
    assert any(outcomes)
    assert not all(outcomes), "the sequence should run into rejections"


layer_strategy = st.one_of(
    st.fixed_dictionaries(
        {"kind": st.just("conv"), "maps": st.integers(1, 6), "kernel": st.integers(1, 3), "padding": st.integers(0, 1)}
    ),
    st.fixed_dictionaries({"kind": st.just("relu")}),
    st.fixed_dictionaries({"kind": st.just("pool"), "kernel": st.just(2)}),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.lists(layer_strategy, min_size=1, max_size=5),
    fcs=st.lists(st.integers(1, 8), min_size=1, max_size=3),
    channels=st.integers(1, 4),
    helpers=st.integers(0, 6),
    seed=st.integers(0, 2**16),
    nf=st.sampled_from([1, 2, 3]),
)
def test_random_small_cnns(body: list, fcs: list, channels: int, helpers: int, seed: int, nf: int) -> None:
    layers = [{"kind": "conv", "maps": 4, "kernel": 3, "padding": 1, "name": "first"}, *body]
    layers += [{"kind": "fc", "neurons": n} for n in fcs]
    rng = np.random.default_rng(seed)
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        table = Path(tmp) / "t.csv"
        # One measured layer: 'first' with nf maps at SSIM 0.1 and nf + 1 at 0.9.
        table.write_text(f"cnn,layer,maps_per_device,ssim\nmini,first,{nf},0.1\nmini,first,{nf + 1},0.9\n")
        counts = rng.multinomial(helpers, [1 / 3] * 3)
        try:
            world = make_world(
                cnns={"mini": {"input_channels": channels, "input_side": 8, "layers": layers}},
                sources=[{"cnn": "mini"}],
                participants={"groups": [{"type": t, "count": int(c)} for t, c in zip(TYPES, counts, strict=True)]},
                privacy={"max_ssim": 0.5, "ssim_table": str(table)},
                budgets={"window_s": float(rng.choice([1e-5, 1e-3, 1.0]))},
            )
        except Exception as exc:  # shapes that do not fit 8x8 inputs are not this test's subject
            from distsim.errors import InputError

            assert isinstance(exc, InputError)
            return
        view = random_view(rng, world)
        fast, ref = decide_both(world, Request(0, world.fleet.participants, "mini", 0.0), view)
        assert_same(fast, ref, view)
