"""Golden decisions of the baselines (issue 16.3): what they decided before their run loops were sped up.

``tests/golden/baselines_decisions.json`` holds, per (world, scheduler), the
SHA-256 of every decision on a fixed sequence of views (the idle fleet, then
residuals drawn down to 0-20% of the budgets), written by the per-run Python
code of main ``93761ad`` before the compiled run kernel and the topology runs
existed. ``round_robin`` and ``layerwise`` are deterministic;
``random`` is pinned under its seed (one generator over the whole sequence),
so the compiled path must consume the random stream exactly as the Python
path does. The topology worlds use encrypted links, so that which routes a
capped layer may use (relays) does not enter these decisions; the kernel test
covers guarded routes. Every world's sequence has placements and rejections.

Regenerate (only when a change of decisions is intended, and say so in the
CHANGELOG): ``python -m tests.test_baselines_golden``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from distsim.scheduling.base import Placement, Rejection, Request
from distsim.scheduling.registry import make_scheduler
from tests.conftest import make_world
from tests.test_run_baselines import views

GOLDEN = Path(__file__).parent / "golden" / "baselines_decisions.json"
SCHEDULERS = ("round_robin", "layerwise", "random")

#: name -> scenario overrides; geometric worlds have cut-off pairs (checked below).
WORLDS: dict[str, dict[str, Any]] = {
    "lenet-14-geo30": {
        "participants": {"total": 14},
        "network": {"topology": "geometric", "range_m": 30.0, "area_m": 100.0, "seed": 1, "encrypted_links": True},
    },
    "cifar-24-geo35": {
        "sources": [{"cnn": "cifar_cnn", "count": 2}],
        "participants": {"total": 24},
        "network": {"topology": "geometric", "range_m": 35.0, "area_m": 100.0, "seed": 7, "encrypted_links": True},
    },
    "cifar-40-geo22": {
        "sources": [{"cnn": "cifar_cnn", "count": 2}, {"cnn": "lenet"}],
        "participants": {"total": 40},
        "network": {"topology": "geometric", "range_m": 22.0, "area_m": 100.0, "seed": 5, "encrypted_links": True},
    },
    "lenet-cifar-20-mesh": {"participants": {"total": 20}, "privacy": {"max_ssim": 0.4}},
    "vgg16-70-mesh": {
        "sources": [{"cnn": "vgg16"}],
        "participants": {"total": 70, "mix": {"rpi3": 1, "nexus5": 1}},
        "privacy": {"max_ssim": 0.6},
    },
}
VIEWS = 8


def outcome(decision: Placement | Rejection) -> list[Any]:
    """A decision as plain JSON values: its assignments, or its rejection's layer, constraint and text."""
    if isinstance(decision, Placement):
        return ["placed", [a.tolist() for a in decision.assignments]]
    return ["rejected", decision.layer, str(decision.constraint), decision.detail]


def decisions(name: str, scheduler: str) -> tuple[str, int, int]:
    """SHA-256 of ``scheduler``'s decisions on world ``name``'s view sequence, placements, rejections."""
    world = make_world(**WORLDS[name])
    placer = make_scheduler(scheduler, {}, world, np.random.default_rng(17))
    fleet = world.fleet
    digest = hashlib.sha256()
    placed = rejected = 0
    for k, view in enumerate(views(world, VIEWS, 5, (0.0, 0.05, 0.2, 0.5))):
        for s in range(len(fleet.source_cnn)):
            source = fleet.participants + (k + s) % len(fleet.source_cnn)
            request = Request(k * 10 + s, source, fleet.source_cnn[source - fleet.participants], 0.0)
            decision = placer.place(request, view)
            digest.update(json.dumps(outcome(decision)).encode())
            placed += isinstance(decision, Placement)
            rejected += isinstance(decision, Rejection)
    return digest.hexdigest(), placed, rejected


def _golden() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(GOLDEN.read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize("scheduler", SCHEDULERS)
@pytest.mark.parametrize("name", list(WORLDS))
def test_baseline_decisions_are_the_golden_ones(name: str, scheduler: str, kernel: str) -> None:
    digest, placed, rejected = decisions(name, scheduler)
    want = _golden()[name][scheduler]
    assert (placed, rejected) == (want["placed"], want["rejected"])
    assert digest == want["sha256"]


def test_golden_worlds_exercise_placements_rejections_and_cut_off_pairs() -> None:
    golden = _golden()
    for name, spec in WORLDS.items():
        assert set(golden[name]) == set(SCHEDULERS)
        for scheduler in ("round_robin", "random"):
            assert golden[name][scheduler]["placed"] > 0 and golden[name][scheduler]["rejected"] > 0
        if "network" in spec:
            links = make_world(**spec).links
            assert not np.isfinite(np.stack([links.to_all(i) for i in range(spec["participants"]["total"])])).all()


def main() -> None:
    """Write the golden file from the code as it stands."""
    out: dict[str, Any] = {}
    for name in WORLDS:
        out[name] = {}
        for scheduler in SCHEDULERS:
            digest, placed, rejected = decisions(name, scheduler)
            out[name][scheduler] = {"sha256": digest, "placed": placed, "rejected": rejected}
    GOLDEN.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
