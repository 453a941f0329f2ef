"""PettingZoo Parallel API over :class:`~freeagentics.worlds.GridWorld`.

Importing this module imports PettingZoo and Gymnasium; the rest of
:mod:`freeagentics.worlds` does not need them.

Agent ``"agent_i"`` is world slot ``i``. Observations are the agent's local cell codes
(:meth:`GridWorld.observe`) followed, when ``energy_buckets > 0``, by its energy bucket
``min(energy_buckets - 1, floor(energy_buckets * energy / initial_energy))``: a
``MultiDiscrete`` space, or with ``box_observations=True`` the same integers in a bounded
``Box``, the space SuperSuit's observation wrappers (``dtype_v0``, ``normalize_obs_v0``,
``flatten_v0``, ...) take. Rewards are :attr:`StepResult.reward` (energy change plus goal
reward). An agent is terminated when its energy runs out and then leaves the world,
freeing its cell; all remaining agents are truncated after ``max_cycles`` steps. An
action that is not one of the five moves (``2.7``, ``array([1])``, ``True``) is refused.

As PettingZoo's own environments do, the module offers :func:`parallel_env` and
:func:`env` (the AEC form) factories; ``render_mode="rgb_array"`` draws the world.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.utils import parallel_to_aec, wrappers

from freeagentics._checks import whole_number_at_least
from freeagentics.errors import ConfigurationError
from freeagentics.worlds._codes import Cell, Move, n_cell_codes, neighbourhood_offsets
from freeagentics.worlds._config import GridWorldConfig
from freeagentics.worlds.grid import GridWorld

__all__ = ["CELL_COLOURS", "GridWorldParallelEnv", "env", "parallel_env"]

#: RGB of each :class:`Cell` code in ``render()``; resource type ``k`` uses row ``6 + k``
#: (types past the table reuse its last colour).
CELL_COLOURS = np.array(
    [
        (236, 236, 230),  # EMPTY
        (60, 60, 70),  # OBSTACLE
        (250, 200, 40),  # GOAL
        (40, 110, 220),  # AGENT
        (0, 0, 0),  # OUT_OF_BOUNDS
        (210, 60, 50),  # HAZARD
        (60, 170, 80),  # RESOURCE 0
        (140, 90, 200),  # RESOURCE 1
        (30, 170, 170),  # RESOURCE 2
    ],
    dtype=np.uint8,
)
_DEFAULT_CONFIG = GridWorldConfig(height=16, width=16, n_agents=8)


class GridWorldParallelEnv(ParallelEnv):
    """Parallel multi-agent environment: one ``Discrete(5)`` :class:`Move` per agent."""

    metadata: ClassVar[dict[str, Any]] = {
        "name": "freeagentics_grid_v0",
        "render_modes": ["rgb_array"],
        "is_parallelizable": True,
        "render_fps": 10,
    }

    def __init__(
        self,
        config: GridWorldConfig,
        *,
        max_cycles: int = 200,
        energy_buckets: int = 4,
        render_mode: str | None = None,
        cell_pixels: int = 8,
        box_observations: bool = False,
    ) -> None:
        max_cycles = whole_number_at_least("max_cycles", max_cycles, 1)
        energy_buckets = whole_number_at_least("energy_buckets", energy_buckets, 0)
        cell_pixels = whole_number_at_least("cell_pixels", cell_pixels, 1)
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ConfigurationError(
                f"render_mode must be None or one of {self.metadata['render_modes']}, "
                f"got {render_mode!r}"
            )
        self.config = config
        self.max_cycles = max_cycles
        self.energy_buckets = energy_buckets
        self.render_mode = render_mode
        self.cell_pixels = cell_pixels
        self.possible_agents = [f"agent_{i}" for i in range(config.n_agents)]
        self.agents: list[str] = []
        self._index = {name: i for i, name in enumerate(self.possible_agents)}
        n_cells = neighbourhood_offsets(config.observation_radius).shape[0]
        n_codes = n_cell_codes(config.n_resource_types)
        nvec = np.array([n_codes] * n_cells + ([energy_buckets] if energy_buckets else []))
        self._observation_space: spaces.Space = (
            spaces.Box(low=0, high=nvec - 1, dtype=np.int64)
            if box_observations
            else spaces.MultiDiscrete(nvec.astype(np.int64))
        )
        self._action_space = spaces.Discrete(len(Move))
        #: The global view of :meth:`state`: (H, W) cell codes.
        self.state_space = spaces.Box(
            low=0, high=n_codes - 1, shape=(config.height, config.width), dtype=np.int8
        )
        self.world: GridWorld | None = None
        self._cycles = 0

    def observation_space(self, agent: str) -> spaces.Space:
        """The same ``MultiDiscrete`` (or ``Box``) object for every agent."""
        return self._observation_space

    def action_space(self, agent: str) -> spaces.Discrete:
        """The same ``Discrete(5)`` object for every agent."""
        return self._action_space

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
        """Draw a fresh world from ``seed``; returns (observations, infos) for every agent."""
        if self.world is None:
            self.world = GridWorld(self.config, seed)
        else:
            self.world.reset(seed)
        self.agents = list(self.possible_agents)
        self._cycles = 0
        return self._observations(), {a: {} for a in self.agents}

    def step(self, actions: dict[str, int]) -> tuple[dict, dict, dict, dict, dict]:
        """Apply one action per live agent (missing ones stay) and advance one tick."""
        if self.world is None:
            raise ConfigurationError("call reset() before step()")
        unknown = [a for a in actions if a not in self._index]
        if unknown:
            raise ConfigurationError(f"actions for unknown agents {unknown}")
        move = np.full(self.world.n_slots, Move.STAY, dtype=np.int64)
        for name in self.agents:
            if name in actions:
                move[self._index[name]] = self._move(name, actions[name])
        result = self.world.step(move)
        self._cycles += 1

        observations = self._observations()
        slots = [self._index[a] for a in self.agents]
        truncate = self._cycles >= self.max_cycles
        rewards = {a: float(result.reward[i]) for a, i in zip(self.agents, slots, strict=True)}
        terminations = {
            a: bool(result.exhausted[i]) for a, i in zip(self.agents, slots, strict=True)
        }
        truncations = dict.fromkeys(self.agents, truncate)
        infos = {
            a: {
                "energy": float(result.energy[i]),
                "collected": result.collected[i].copy(),
                "on_goal": bool(result.on_goal[i]),
                "on_hazard": bool(result.on_hazard[i]),
            }
            for a, i in zip(self.agents, slots, strict=True)
        }
        done = {a for a in self.agents if terminations[a] or truncate}
        if done:
            # Leaving frees the cell, so exhausted bodies do not block the living.
            self.world.remove_agents([self._index[a] for a in done])
            self.agents = [a for a in self.agents if a not in done]
        return observations, rewards, terminations, truncations, infos

    def _move(self, agent: str, action: object) -> int:
        """``action`` as a move code, refusing anything ``Discrete(5)`` does not contain."""
        if isinstance(action, (bool, np.bool_)) or not self._action_space.contains(action):
            raise ConfigurationError(
                f"action of {agent!r} must be an integer move 0..{len(Move) - 1}, got {action!r}"
            )
        return int(action)

    def _observations(self) -> dict[str, np.ndarray]:
        """One (n_cells [+ 1],) int64 observation per live agent."""
        codes = self.world.observe().astype(np.int64)
        if self.energy_buckets:
            scaled = np.floor(
                self.energy_buckets * self.world.energy / np.float32(self.config.initial_energy)
            )
            bucket = np.clip(scaled, 0, self.energy_buckets - 1).astype(np.int64)
            codes = np.concatenate([codes, bucket[:, None]], axis=1)
        return {a: codes[self._index[a]] for a in self.agents}

    def state(self) -> np.ndarray:
        """(H, W) int8 global view in :attr:`state_space`: cell codes as agents observe
        them (exhausted resources read empty), with agents marked ``AGENT``."""
        if self.world is None:
            raise ConfigurationError("call reset() before state()")
        view = self.world.layout.static_codes()
        kinds = view.astype(np.int64) - int(Cell.RESOURCE)
        has_resource = kinds >= 0
        rows, cols = np.nonzero(has_resource)
        exhausted = self.world.resources[kinds[rows, cols], rows, cols] <= 0.0
        view[rows[exhausted], cols[exhausted]] = Cell.EMPTY
        lin = self.world.positions_linear()
        view.flat[lin[lin >= 0]] = Cell.AGENT
        return view

    def render(self) -> np.ndarray | None:
        """With ``render_mode="rgb_array"``: (H * cell_pixels, W * cell_pixels, 3) uint8
        picture of :meth:`state` in :data:`CELL_COLOURS`; ``None`` otherwise."""
        if self.render_mode is None:
            return None
        if self.world is None:
            raise ConfigurationError("call reset() before render()")
        codes = np.minimum(self.state().astype(np.int64), len(CELL_COLOURS) - 1)
        image = CELL_COLOURS[codes]
        return np.repeat(np.repeat(image, self.cell_pixels, axis=0), self.cell_pixels, axis=1)

    def close(self) -> None:
        """Nothing to release: the world is arrays."""


def parallel_env(config: GridWorldConfig | None = None, **kwargs: Any) -> GridWorldParallelEnv:
    """The Parallel environment (a 16 x 16 world with 8 agents unless ``config`` is given);
    ``kwargs`` are :class:`GridWorldParallelEnv`'s options."""
    return GridWorldParallelEnv(config or _DEFAULT_CONFIG, **kwargs)


def env(config: GridWorldConfig | None = None, **kwargs: Any) -> AECEnv:
    """The same environment in PettingZoo's AEC form, with its order-enforcing wrapper."""
    return wrappers.OrderEnforcingWrapper(parallel_to_aec(parallel_env(config, **kwargs)))
