"""Fuzzing the scenario schema (issue 10.3): whatever a scenario file holds, distsim answers in one line.

Hypothesis builds scenario mappings from a valid base by replacing fields
with hostile values (NaN, infinities, huge and negative numbers, booleans,
text, lists, nested mappings, unknown keys) and by dropping fields, then
runs ``distsim validate`` and, for what validates, ``distsim run --no-write``
on a small workload. Every outcome must be exit status 0, or 2 with exactly
one ``error:`` line; never a traceback, and never a run that does not end
(each example runs under a hard alarm).
"""

from __future__ import annotations

import copy
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distsim.cli import main
from tests.conftest import scenario_dict

#: Every field path of the base scenario a mutation may hit (and a few that do not exist).
PATHS = [
    "name",
    "description",
    "sources",
    "sources.0",
    "sources.0.cnn",
    "sources.0.count",
    "sources.0.weight",
    "sources.0.device",
    "participants",
    "participants.total",
    "participants.mix",
    "participants.mix.rpi3",
    "participants.groups",
    "devices",
    "devices.rpi3",
    "devices.rpi3.mults_per_s",
    "devices.rpi3.memory_bytes",
    "devices.rpi3.compute_budget_mults",
    "devices.rpi3.bandwidth_budget_bytes",
    "devices.rpi3.cores",
    "devices.rpi3.radio",
    "budgets.window_s",
    "workload.requests",
    "workload.rate_per_s",
    "privacy.max_ssim",
    "privacy.policy",
    "privacy.ssim_table",
    "scheduler.name",
    "scheduler.params",
    "scheduler.params.alpha",
    "simulation.timing",
    "simulation.seed",
    "simulation.retry.mode",
    "simulation.retry.interval_s",
    "simulation.retry.max_attempts",
    "network.topology",
    "network.edges",
    "network.range_m",
    "network.positions",
    "network.shared_channel",
    "network.mac_efficiency",
    "output.dir",
    "unknown_field",
    "workload.unknown",
]

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, -1, 2**31, 2**63, 10**8, 10**12]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-300, 1e300, 0.5, 1.0]),
    st.text(max_size=12),
    st.sampled_from(["..", ".", "/etc", "a/b", "lenet", "rpi3", "802.11n", "contention", "edges", "geometric"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=6,
)


def _set(data: dict[str, Any], path: str, value: Any, drop: bool) -> None:
    node: Any = data
    parts = path.split(".")
    for part in parts[:-1]:
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict):
            node = node.setdefault(part, {})
        else:
            return
        if not isinstance(node, dict | list):
            return
    last = parts[-1]
    if isinstance(node, dict):
        if drop:
            node.pop(last, None)
        else:
            node[last] = value
    elif isinstance(node, list) and last.isdigit() and int(last) < len(node):
        node[int(last)] = value


@contextmanager
def alarm(seconds: int) -> Iterator[None]:
    """Fail (instead of hanging the suite) when the body runs longer than ``seconds``."""

    def expired(signum: int, frame: Any) -> None:
        raise AssertionError(f"no answer within {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


#: A small workload, so that whatever validates runs in well under a second.
BASE = scenario_dict(
    workload={"requests": 6, "rate_per_s": 3.0},
    participants={"total": 6, "mix": {"rpi3": 1, "nexus5": 1}},
    devices={"rpi3": {"cores": 2}},
    simulation={"seed": 1, "retry": {"interval_s": 0.5, "max_attempts": 5}},
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    mutations=st.lists(st.tuples(st.sampled_from(PATHS), VALUES, st.booleans()), min_size=1, max_size=3),
)
def test_no_scenario_ends_in_a_traceback_or_a_hang(
    mutations: list[tuple[str, Any, bool]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = copy.deepcopy(BASE)
    for path, value, drop in mutations:
        _set(data, path, value, drop)
    # Keep every run small and its output inside the test folder, whatever the mutations did.
    workload = data.get("workload")
    if isinstance(workload, dict) and isinstance(workload.get("requests"), int) and workload["requests"] > 50:
        workload["requests"] = 50
    file = tmp_path / "fuzz.yaml"
    try:
        text = yaml.safe_dump(data, allow_unicode=True)
    except yaml.YAMLError:
        return
    file.write_text(text, encoding="utf-8")
    for argv in (["validate", str(file)], ["run", str(file), "--no-write"]):
        with alarm(120):
            status = main(argv)
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err
        if status != 0:
            lines = captured.err.strip().splitlines()
            assert status == 2 and len(lines) == 1 and lines[0].startswith("error: "), (argv, captured.err)
        if argv[0] == "validate" and status != 0:
            break
