"""``distsim/Placement-v0``: a Gymnasium environment in which an agent places segments in the simulator.

An episode is one run of the scenario: the engine's own arrivals, retries,
timing and seeds (``reset(seed=s)`` runs with ``simulation.seed = s``), with
the agent as the scheduler. The engine runs in a helper thread and hands
control to the agent at every choice; exactly one side runs at a time, so an
episode is as deterministic as ``distsim run``.

* **Step**: one segment of the current layer of the current request
  (segments of a layer are interchangeable only in count, and the per-segment
  mask is exact: budgets, ``Nf``, routes, as every baseline checks them).
  Source-only layers are placed on the source without asking. A request with
  ``P`` participant segments takes ``P`` steps; LeNet requests take about 60,
  VGG-16 thousands (then prefer the ``policy`` scheduler's DistPrivacy kind).
* **Action**: a participant id, ``Discrete(D)``. ``info["action_mask"]``
  (int8, length ``D``) marks the participants that may take the segment; an
  action outside the mask is replaced by the lowest-id allowed participant
  (``info["replaced_action"]`` says so) rather than ending the episode.
* **Observation**: ``Box(0, 1)`` of length ``D * 7 + 4``: per participant the
  :data:`~distsim.rl.features.DEVICE_FEATURES` (residual compute, memory and
  bandwidth shares, this layer's share already on it, speed, radio, whether it
  holds the segment's input map), then the
  :data:`~distsim.rl.features.GLOBAL_FEATURES` (layer, segment, privacy cap
  ``Nf`` over segments, layer work).
* **Reward**: the negative Eq. 5 latency of each request the agent completes,
  in seconds, given at the step that places its last segment (0 on the other
  steps, so the return is minus the sum of latencies), and
  ``-rejection_penalty_s`` for every rejected attempt (a request with no
  qualifying participant for some segment; the engine retries it as its
  retry policy says). Rewards of decisions taken without the agent (requests
  rejected before any step) are added to the next step's reward.
* **End**: ``terminated`` when the run ends (every request served or dropped);
  ``truncated`` never (bound the run with the scenario's ``workload.requests``).
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import gymnasium
import numpy as np
import numpy.typing as npt
from gymnasium import spaces

from distsim.engine.records import MemorySink
from distsim.engine.simulation import Simulation
from distsim.rl.features import StepState, observation, observation_size
from distsim.scenario import Scenario, load_scenario, scenario_from_dict
from distsim.scheduling.base import ClusterView, Decision, Placement, Request
from distsim.scheduling.baselines._greedy import BoolArray, greedy_place
from distsim.world import World, build_world

#: The scenario an environment made without one runs: LeNet, 12 participants, 20 requests.
DEFAULT_SCENARIO: dict[str, Any] = {
    "name": "rl-default",
    "sources": [{"cnn": "lenet"}],
    "participants": {"total": 12},
    "workload": {"requests": 20, "rate_per_s": 4.0},
    "privacy": {"max_ssim": 0.6},
}


class _Aborted(Exception):
    """The environment was reset or closed while the engine waited for an action."""


@dataclass(frozen=True, slots=True)
class _Decide:
    obs: npt.NDArray[np.float32]
    mask: npt.NDArray[np.int8]
    request_id: int
    layer: int
    segment: int


@dataclass(frozen=True, slots=True)
class _Outcome:
    decision: Decision


@dataclass(frozen=True, slots=True)
class _End:
    error: BaseException | None = None


_ABORT = -1


class _AgentScheduler:
    """The engine's scheduler during an episode: every segment choice goes to the agent."""

    name: ClassVar[str] = "agent"
    repeatable = False  # the agent may decide differently each time

    def __init__(self, world: World, to_env: queue.Queue[object], to_sim: queue.Queue[int]) -> None:
        self.world = world
        self.to_env = to_env
        self.to_sim = to_sim

    def place(self, request: Request, view: ClusterView) -> Decision:
        state = StepState(request, view)

        def pick(request: Request, index: int, segment: int, qualifies: BoolArray) -> int:
            d = view.fleet.participants
            mask = qualifies[:d].astype(np.int8)
            self.to_env.put(_Decide(observation(self.world, state, index, segment), mask, request.id, index, segment))
            action = self.to_sim.get()
            if action == _ABORT:
                raise _Aborted
            j = action if 0 <= action < d and mask[action] else int(np.flatnonzero(mask)[0])
            state.placed(index, j)
            return j

        decision = greedy_place(self.world, request, view, pick)
        self.to_env.put(_Outcome(decision))
        return decision


class PlacementEnv(gymnasium.Env[npt.NDArray[np.float32], np.int64]):
    """Segment-by-segment placement in a simulated run (see the module docstring).

    Args:
        scenario: a scenario file, a scenario mapping, a :class:`Scenario` or a built
            :class:`World` (default :data:`DEFAULT_SCENARIO`); its scheduler is ignored.
        rejection_penalty_s: reward of a rejected attempt is minus this, s.
    """

    metadata = {"render_modes": []}  # noqa: RUF012 (Gymnasium declares it an instance attribute)

    def __init__(
        self,
        scenario: str | Path | dict[str, Any] | Scenario | World | None = None,
        rejection_penalty_s: float = 10.0,
    ) -> None:
        self.world = _world_of(scenario)
        self.rejection_penalty_s = float(rejection_penalty_s)
        d = self.world.fleet.participants
        self.observation_space = spaces.Box(0.0, 1.0, shape=(observation_size(d),), dtype=np.float32)
        self.action_space = spaces.Discrete(d)
        self._thread: threading.Thread | None = None
        self._to_env: queue.Queue[object] = queue.Queue()
        self._to_sim: queue.Queue[int] = queue.Queue()
        self._last: _Decide | None = None
        self._done = True
        self.summary: Any = None

    # -- gymnasium API --------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[npt.NDArray[np.float32], dict[str, Any]]:
        super().reset(seed=seed)
        self._stop()
        run_seed = self.world.scenario.simulation.seed if seed is None else int(seed)
        self._to_env, self._to_sim = queue.Queue(), queue.Queue()
        agent = _AgentScheduler(self.world, self._to_env, self._to_sim)
        sim = Simulation(self.world, MemorySink(), seed=run_seed, scheduler=agent)
        self._done = False
        self.summary = None
        self._thread = threading.Thread(target=self._run, args=(sim,), daemon=True, name="distsim-env")
        self._thread.start()
        reward, info = self._advance()
        info["reward_before_first_step"] = reward
        return self._obs(), info

    def step(self, action: np.int64 | int) -> tuple[npt.NDArray[np.float32], float, bool, bool, dict[str, Any]]:
        if self._done or self._last is None:
            return self._obs(), 0.0, True, False, {"action_mask": self._mask()}
        a = int(action)
        replaced = not (0 <= a < len(self._last.mask) and self._last.mask[a])
        self._to_sim.put(a)
        reward, info = self._advance()
        info["replaced_action"] = replaced
        return self._obs(), reward, self._done, False, info

    def action_masks(self) -> npt.NDArray[np.bool_]:
        """The current action mask as booleans (the method ``sb3_contrib.MaskablePPO`` calls)."""
        return self._mask().astype(bool)

    def close(self) -> None:
        self._stop()
        super().close()

    # -- engine thread ----------------------------------------------------------
    def _run(self, sim: Simulation) -> None:
        try:
            summary = sim.run()
        except _Aborted:
            return
        except BaseException as exc:  # handed to the agent's thread, which re-raises it
            self._to_env.put(_End(exc))
            return
        self.summary = summary
        self._to_env.put(_End())

    def _advance(self) -> tuple[float, dict[str, Any]]:
        """Wait for the engine's next question (or the run's end); the reward gathered meanwhile."""
        reward = 0.0
        served = rejected = 0
        while True:
            message = self._to_env.get()
            if isinstance(message, _Outcome):
                if isinstance(message.decision, Placement):
                    reward -= message.decision.cost.latency_s
                    served += 1
                else:
                    reward -= self.rejection_penalty_s
                    rejected += 1
                continue
            info: dict[str, Any] = {"placed": served, "rejected": rejected}
            if isinstance(message, _End):
                if message.error is not None:
                    raise message.error
                self._done = True
                self._thread = None
                info["action_mask"] = self._mask()
                return reward, info
            assert isinstance(message, _Decide)
            self._last = message
            info.update(action_mask=message.mask, request=message.request_id, layer=message.layer)
            return reward, info

    def _stop(self) -> None:
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._to_sim.put(_ABORT)
            thread.join()
        self._thread = None
        self._last = None

    def _obs(self) -> npt.NDArray[np.float32]:
        if self._last is None:
            return np.zeros(observation_size(self.world.fleet.participants), dtype=np.float32)
        return self._last.obs

    def _mask(self) -> npt.NDArray[np.int8]:
        if self._last is None or self._done:
            return np.zeros(self.world.fleet.participants, dtype=np.int8)
        return self._last.mask


def _world_of(scenario: str | Path | dict[str, Any] | Scenario | World | None) -> World:
    if isinstance(scenario, World):
        return scenario
    if scenario is None:
        scenario = DEFAULT_SCENARIO
    if isinstance(scenario, dict):
        scenario = scenario_from_dict(scenario)
    elif isinstance(scenario, str | Path):
        scenario = load_scenario(scenario)
    return build_world(scenario)
