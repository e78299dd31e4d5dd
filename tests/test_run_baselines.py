"""Run-based ``random`` and ``round_robin`` (issue 16.3) against their per-segment twins."""

from __future__ import annotations

import numpy as np
import pytest

from distsim.scheduling.base import ClusterView, Placement, Rejection, Request
from distsim.scheduling.baselines.layerwise import Layerwise, LayerwiseParams
from distsim.scheduling.baselines.random_fit import RandomFit, RandomFitParams
from distsim.scheduling.baselines.round_robin import RoundRobin, RoundRobinParams
from distsim.scheduling.validate import validate_placement
from distsim.world import World
from tests.conftest import make_world


def views(world: World, count: int, seed: int, lows: tuple[float, ...] = (0.0, 0.001, 0.02, 0.2)) -> list[ClusterView]:
    """The idle fleet, then residuals drawn down to ``lows`` of the budgets in turn (rejections of every kind)."""
    fleet = world.fleet
    rng = np.random.default_rng(seed)
    out = [ClusterView.idle(world)]
    for k in range(1, count):
        low = lows[k % len(lows)]
        out.append(
            ClusterView(
                world,
                (fleet.compute_budget_mults * rng.uniform(low, 1, fleet.size)).astype(np.int64),
                (fleet.memory_bytes * rng.uniform(low, 1, fleet.size)).astype(np.int64),
                (fleet.bandwidth_budget_bytes * rng.uniform(low, 1, fleet.size)).astype(np.int64),
            )
        )
    return out


def outcome(decision: Placement | Rejection) -> tuple[object, ...]:
    if isinstance(decision, Placement):
        return ("placed", [a.tolist() for a in decision.assignments], decision.cost.latency_s)
    return ("rejected", decision.layer, str(decision.constraint), decision.detail)


WORLDS = [
    {"participants": {"total": 6}, "privacy": {"max_ssim": 0.4}},
    {"participants": {"total": 20}, "privacy": {"max_ssim": 0.6}},
    {"participants": {"total": 14}, "network": {"topology": "geometric", "range_m": 30.0, "seed": 2}},
    {"participants": {"total": 18}, "network": {"topology": "geometric", "range_m": 40.0, "seed": 5}},
]


@pytest.mark.parametrize("spec", WORLDS)
def test_round_robin_runs_decide_as_the_per_segment_twin(spec: dict[str, object]) -> None:
    world = make_world(**spec)
    scheduler = RoundRobin(RoundRobinParams(), world, np.random.default_rng(0))
    fleet = world.fleet
    for k, view in enumerate(views(world, 24, 3)):
        source = fleet.participants + k % len(fleet.source_cnn)
        request = Request(k, source, fleet.source_cnn[source - fleet.participants], 0.0)
        fast, slow = scheduler.place(request, view), scheduler.place_per_segment(request, view)
        assert outcome(fast) == outcome(slow)
        if isinstance(fast, Placement):
            assert validate_placement(fast, request, view) == []


@pytest.mark.parametrize("spec", WORLDS[:3])
def test_random_runs_are_valid_and_reject_as_the_twin_does_on_hopeless_views(spec: dict[str, object]) -> None:
    world = make_world(**spec)
    scheduler = RandomFit(RandomFitParams(), world, np.random.default_rng(1))
    fleet = world.fleet
    for k, view in enumerate(views(world, 24, 4)):
        source = fleet.participants + k % len(fleet.source_cnn)
        request = Request(k, source, fleet.source_cnn[source - fleet.participants], 0.0)
        decision = scheduler.place(request, view)
        if isinstance(decision, Placement):
            assert validate_placement(decision, request, view) == []


def test_random_runs_have_the_per_segment_distribution() -> None:
    # LeNet on 6 participants at tau 0.4: caps of 4 maps bind, so devices drop out as they fill.
    world = make_world(sources=[{"cnn": "lenet"}], participants={"total": 6}, privacy={"max_ssim": 0.4})
    view = ClusterView.idle(world)
    request = Request(0, world.fleet.participants, "lenet", 0.0)
    fast = RandomFit(RandomFitParams(), world, np.random.default_rng(11))
    slow = RandomFit(RandomFitParams(), world, np.random.default_rng(12))
    samples = 600

    def frequencies(place: object) -> np.ndarray:
        counts = None
        for _ in range(samples):
            decision = place(request, view)  # type: ignore[operator]
            assert isinstance(decision, Placement)
            # Per (layer, segment): which participant took it.
            rows = np.concatenate([a for a in decision.assignments])
            hit = np.zeros((len(rows), world.fleet.size))
            hit[np.arange(len(rows)), rows] = 1
            counts = hit if counts is None else counts + hit
        assert counts is not None
        return counts / samples

    a, b = frequencies(fast.place), frequencies(slow.place_per_segment)
    # Each cell is a Bernoulli frequency: 5 standard errors of the difference of two estimates.
    p = (a + b) / 2
    tolerance = 5 * np.sqrt(2 * p * (1 - p) / samples) + 1e-9
    assert np.all(np.abs(a - b) <= tolerance)
    # The draws differ, the process does not: some cells are far from 0 and 1.
    assert ((a > 0.05) & (a < 0.95)).any()


def test_the_baselines_benchmark_times_every_scheduler_beside_distprivacy(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from distsim.benchmarks import baselines

    rows = baselines.measure_baseline_decisions(
        True, progress=lambda _: None, instances=(("lenet", 8, None), ("lenet", 10, 40.0)), min_s=0.0
    )
    assert {r["scheduler"] for r in rows} == set(baselines.SCHEDULERS)
    assert {r["kernel"] for r in rows} == set(baselines.KERNELS)
    assert len(rows) == 2 * 2 * len(baselines.KERNELS) * len(baselines.SCHEDULERS)
    assert all(r["decision_ms"] > 0 and r["load_average"] for r in rows)
    assert all(r["ratio_to_distprivacy"] == 1.0 for r in rows if r["scheduler"] == "distprivacy")
    table = baselines.markdown(rows)
    assert table.count("\n|") == 1 + 2 * 2 * len(baselines.KERNELS)  # rule, one line per (instance, load, path)


def test_the_baselines_benchmark_times_paper_runs_alternately(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from distsim.benchmarks import baselines

    calls: list[str] = []

    def fake(scenario, scheduler, out, sets):  # type: ignore[no-untyped-def]
        calls.append(scheduler)
        return {"distprivacy": 2.0, "random": 3.0}[scheduler] + len(calls) / 100

    runs = baselines.measure_paper_runs(2, progress=lambda _: None, runner=fake)
    assert calls == ["distprivacy", "random", "distprivacy", "random"]
    by = {r["scheduler"]: r for r in runs}
    assert by["distprivacy"]["best_s"] == 2.01 and by["random"]["best_s"] == 3.02
    assert by["random"]["ratio_to_distprivacy"] == 3.02 / 2.01
    assert "| distsim run paper.yaml | random | 2 | 3.02 |" in baselines.markdown([], runs)


KERNEL_WORLDS = [
    *WORLDS,
    {
        "sources": [{"cnn": "vgg16"}, {"cnn": "cifar_cnn"}],
        "participants": {"total": 70},
        "privacy": {"max_ssim": 0.6},
    },
    {
        "sources": [{"cnn": "cifar_cnn"}, {"cnn": "lenet"}],
        "participants": {"total": 40},
        "network": {"topology": "geometric", "range_m": 22.0, "area_m": 100.0, "seed": 5},
    },
]


@pytest.mark.parametrize("spec", KERNEL_WORLDS)
def test_the_compiled_runs_decide_and_draw_as_the_python_runs(spec: dict[str, object]) -> None:
    """Kernel and Python path on the same views (``random``, ``round_robin``, ``layerwise``): the same
    decisions and rejection texts, and for ``random`` the same draws (the generators end in the same state)."""
    from distsim.model import compiled

    world = make_world(**spec)
    fleet = world.fleet
    seen = {"placed": 0, "participants": 0, "source": 0}
    paths: dict[str, list[tuple[object, ...]]] = {}
    states: dict[str, object] = {}
    idle = ClusterView.idle(world)
    comp = idle.compute_mults.copy()
    comp[fleet.participants :] = 0  # the sources cannot take their own layers
    starved = ClusterView(world, comp, idle.memory_bytes.copy(), idle.bandwidth_bytes.copy())
    for mode in ("python", "numba"):
        compiled.set_kernel(mode)
        try:
            rng = np.random.default_rng(5)
            schedulers = [
                RandomFit(RandomFitParams(), world, rng),
                RoundRobin(RoundRobinParams(), world, rng),
                Layerwise(LayerwiseParams(), world, rng),
            ]
            got = []
            for k, view in enumerate([*views(world, 30, 9), starved]):
                source = fleet.participants + k % len(fleet.source_cnn)
                request = Request(k, source, fleet.source_cnn[source - fleet.participants], 0.0)
                for scheduler in schedulers:
                    got.append(outcome(scheduler.place(request, view)))
            paths[mode], states[mode] = got, rng.bit_generator.state
        finally:
            compiled.set_kernel(None)
    assert paths["numba"] == paths["python"]
    assert states["numba"] == states["python"]
    for row in paths["python"]:
        if row[0] == "placed":
            seen["placed"] += 1
        else:
            seen["source" if "source cannot" in str(row[3]) else "participants"] += 1
    assert all(seen.values()), seen


def test_the_baselines_count_their_work_towards_the_auto_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under ``DISTSIM_KERNEL=auto`` each baseline decision adds its request's segments to the switch's count,
    so a long run leaves the Python path (they asked with a count of 0 once, and never switched)."""
    from distsim.model import compiled

    world = make_world()
    fleet = world.fleet
    source = fleet.participants
    request = Request(0, source, fleet.source_cnn[0], 0.0)
    segments = compiled.layer_bounds(world.cnns[request.cnn])[-1]
    idle = ClusterView.idle(world)
    none = np.zeros_like(idle.compute_mults)
    starved = ClusterView(world, none, idle.memory_bytes.copy(), idle.bandwidth_bytes.copy())
    rng = np.random.default_rng(5)
    compiled.set_kernel("auto")
    try:
        for scheduler in (
            RandomFit(RandomFitParams(), world, rng),
            RoundRobin(RoundRobinParams(), world, rng),
            Layerwise(LayerwiseParams(), world, rng),
        ):
            monkeypatch.setattr(compiled, "_auto_segments", 0)
            # No compute anywhere: a rejection, so no cost evaluation counts segments on the baseline's behalf.
            assert isinstance(scheduler.place(request, starved), Rejection)
            assert compiled._auto_segments == segments > 0, type(scheduler).__name__
    finally:
        compiled.set_kernel(None)
