"""The Gymnasium environment, the ``policy`` scheduler and the cross-entropy learner."""

from __future__ import annotations

import json
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

gymnasium = pytest.importorskip("gymnasium")

from gymnasium.utils.env_checker import check_env  # noqa: E402

from distsim import simulate  # noqa: E402
from distsim.cli import main  # noqa: E402
from distsim.rl import ENV_ID  # noqa: E402
from distsim.rl.env import DEFAULT_SCENARIO, PlacementEnv  # noqa: E402
from distsim.rl.features import DEVICE_FEATURES, observation_size  # noqa: E402
from distsim.rl.learn import PAPER_WEIGHTS, cross_entropy_weights, held_out  # noqa: E402
from distsim.rl.policy import save_policy  # noqa: E402
from distsim.scenario import scenario_from_dict  # noqa: E402

SMALL: dict[str, Any] = DEFAULT_SCENARIO | {"workload": {"requests": 6, "rate_per_s": 4.0}}
WEIGHTS = [0.3, 0.1, 0.2, -1.0, 1.0, 0.5, 2.0]  # one per DEVICE_FEATURES entry


def _linear_rollout(env: PlacementEnv, seed: int, weights: list[float]) -> tuple[float, int, int, int]:
    """Play the linear policy over the observation's device block; (return, steps, placed, rejected)."""
    obs, info = env.reset(seed=seed)
    d = env.world.fleet.participants
    w = np.asarray(weights)
    total, steps, done = 0.0, 0, False
    placed, rejected = info["placed"], info["rejected"]
    while not done:
        feats = obs[: d * len(DEVICE_FEATURES)].reshape(d, len(DEVICE_FEATURES)).astype(np.float64)
        scores = np.where(info["action_mask"] > 0, feats @ w, -np.inf)
        obs, reward, done, truncated, info = env.step(int(np.argmax(scores)))
        assert not truncated
        total += reward
        steps += 1
        placed += info["placed"]
        rejected += info["rejected"]
    return total, steps, placed, rejected


def test_check_env_passes_and_the_id_is_registered() -> None:
    env = gymnasium.make(ENV_ID, scenario=SMALL)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # check_env's warnings are failures here
        check_env(env.unwrapped)
    assert env.observation_space.shape == (observation_size(12),)
    env.close()


def test_an_episode_is_the_engines_run_and_repeats() -> None:
    env = PlacementEnv(SMALL)
    first = _linear_rollout(env, 3, WEIGHTS)
    summary = env.summary
    assert summary is not None and summary.requests == 6
    # Reset in the middle of an episode, then the same seed again: the same episode.
    env.reset(seed=3)
    env.step(0)
    assert _linear_rollout(env, 3, WEIGHTS) == first
    # One reward per decision: every served request was placed once, every rejection counted.
    total, _, placed, rejected = first
    assert placed == summary.served and total < 0
    assert rejected >= summary.rejected_first_attempt
    env.close()


def test_the_same_linear_policy_as_a_scheduler_makes_the_same_run(tmp_path: Path) -> None:
    path = save_policy(tmp_path / "linear.json", {"kind": "linear", "weights": WEIGHTS})
    env = PlacementEnv(SMALL)
    _linear_rollout(env, 5, WEIGHTS)
    spec = SMALL | {"scheduler": {"name": "policy", "params": {"path": str(path)}}}
    run = simulate(scenario_from_dict(spec), seed=5)
    assert env.summary == replace(run.summary, scheduler="agent")  # same engine, decisions and seed
    env.close()


def test_masked_actions_are_replaced_not_fatal() -> None:
    env = PlacementEnv(SMALL)
    _, info = env.reset(seed=0)
    mask = info["action_mask"]
    assert mask.dtype == np.int8 and mask.any()
    forbidden = np.flatnonzero(mask == 0)
    action = int(forbidden[0]) if len(forbidden) else 0
    _, _, _, _, info = env.step(action)
    assert info["replaced_action"] is bool(len(forbidden))
    env.close()


def test_policy_scheduler_with_paper_weights_is_distprivacy(tmp_path: Path) -> None:
    path = save_policy(tmp_path / "paper.json", {"kind": "distprivacy", "alpha": 0.7, "beta": 0.3})
    spec = SMALL | {"workload": {"requests": 30, "rate_per_s": 6.0}}
    with_policy = simulate(scenario_from_dict(spec | {"scheduler": {"name": "policy", "params": {"path": str(path)}}}))
    plain = simulate(scenario_from_dict(spec | {"scheduler": {"name": "distprivacy"}}))
    assert with_policy.summary.total_latency_s == plain.summary.total_latency_s
    assert with_policy.summary.served == plain.summary.served


@pytest.mark.parametrize(
    "content", ["{", json.dumps({"format": "x"}), json.dumps({"format": "distsim-policy/1", "kind": "linear"})]
)
def test_bad_policy_files_are_one_line_errors(tmp_path: Path, content: str, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "p.json").write_text(content, encoding="utf-8")
    spec = SMALL | {"scheduler": {"name": "policy", "params": {"path": str(tmp_path / "p.json")}}}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    assert main(["run", str(path), "--no-write"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "p.json" in err


def test_cross_entropy_never_returns_worse_than_the_paper_on_training_seeds() -> None:
    world = PlacementEnv(SMALL | {"workload": {"requests": 25, "rate_per_s": 8.0}}).world
    result = cross_entropy_weights(world, (0,), iterations=2, population=3, elite=2)
    paper = held_out(world, PAPER_WEIGHTS, PAPER_WEIGHTS, (0,))
    assert paper.tolist() == [0.0]
    diff = held_out(world, (result.alpha, result.beta), PAPER_WEIGHTS, (0,))
    assert diff[0] <= 1e-12  # the search keeps the paper's weights unless strictly better
    assert result.runs >= 1 and len(result.history) == 2


def test_the_example_script_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import runpy
    import sys

    root = Path(__file__).resolve().parent.parent
    out = tmp_path / "policy.json"
    argv = ["learn_weights.py", str(root / "scenarios" / "quickstart.yaml"), "--out", str(out)]
    monkeypatch.setattr(sys, "argv", [*argv, "--iterations", "1", "--population", "2"])
    runpy.run_path(str(root / "examples" / "learn_weights.py"), run_name="__main__")
    text = capsys.readouterr().out
    assert "held-out (10 seeds)" in text and "95% CI" in text
    assert json.loads(out.read_text())["kind"] == "distprivacy"
