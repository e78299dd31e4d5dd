"""Periodic placement windows handed to the exact batch solver by the engine (distsim/engine/windows.py)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from distsim.engine.records import MemorySink
from distsim.engine.simulation import Simulation
from distsim.scenario import Scenario
from distsim.scheduling.base import ClusterView, Decision, Placement, Request
from distsim.scheduling.exact import BatchResult, Exact, ExactParams
from distsim.scheduling.validate import check_placement
from distsim.world import World, build_world

PERIOD = 0.5


def _world(requests: int = 12) -> World:
    spec = {
        "name": "windows",
        "sources": [{"cnn": "lenet", "count": 2}],
        "participants": {"total": 6, "mix": {"rpi3": 1, "nexus5": 1, "stm32h7": 1}},
        "workload": {"requests": requests, "rate_per_s": 8.0},
        "privacy": {"max_ssim": 0.6},
        "simulation": {"seed": 4, "placement_period_s": PERIOD},
        "scheduler": {"name": "exact"},
    }
    return build_world(Scenario.model_validate(spec))


class _Spy(Exact):
    """The exact scheduler, recording every window and single decision it is asked for."""

    def __init__(self, params: ExactParams, world: World) -> None:
        super().__init__(params, world, np.random.default_rng(0))
        self.windows: list[tuple[list[Request], ClusterView, BatchResult]] = []
        self.singles = 0

    def place(self, request: Request, view: ClusterView) -> Decision:
        self.singles += 1
        return super().place(request, view)

    def place_batch(self, requests: Sequence[Request], view: ClusterView) -> BatchResult:
        result = super().place_batch(requests, view)
        self.windows.append((list(requests), view, result))
        return result


def _run(params: ExactParams) -> tuple[_Spy, MemorySink]:
    world = _world()
    spy = _Spy(params, world)
    sink = MemorySink()
    Simulation(world, sink, scheduler=spy).run()
    return spy, sink


def test_each_window_is_placed_jointly_in_one_call() -> None:
    spy, sink = _run(ExactParams(workers=1, work_limit=2.0))
    assert spy.singles == 0 and spy.windows
    assert sum(len(requests) for requests, _, _ in spy.windows) >= len(sink.records)
    for requests, view, result in spy.windows:
        # One window: every request waiting on the same window end, in arrival order.
        assert requests
        assert [r.arrival_at for r in requests] == sorted(r.arrival_at for r in requests)
        placed = [(r, d) for r, d in zip(requests, result.decisions, strict=True) if isinstance(d, Placement)]
        for request, decision in placed:
            check_placement(decision, request, view)
        # The window's placements fit the residuals at its end together.
        if placed:
            assert np.all(sum(d.cost.compute_mults for _, d in placed) <= view.compute_mults)
            assert np.all(sum(d.cost.bandwidth_bytes for _, d in placed) <= view.bandwidth_bytes)
    by_id = {r.id: d for requests, _, result in spy.windows for r, d in zip(requests, result.decisions, strict=True)}
    for record in sink.records:
        windows = record.start_at / PERIOD
        assert abs(windows - round(windows)) < 1e-9  # placed at a window end
        last = by_id[record.request_id]
        if not record.dropped:
            # The engine ran the window's decision for this request (the last one it got).
            assert isinstance(last, Placement)
            assert math.isclose(record.shared_bytes, last.cost.shared_bytes)


def test_joint_windows_off_places_one_request_at_a_time() -> None:
    spy, sink = _run(ExactParams(workers=1, work_limit=2.0, joint_windows=False))
    assert spy.windows == [] and spy.singles >= len(sink.records)
