"""PettingZoo Parallel API over :class:`~freeagentics.worlds.GridWorld`.

Importing this module imports PettingZoo and Gymnasium; the rest of
:mod:`freeagentics.worlds` does not need them.

Agent ``"agent_i"`` is world slot ``i``. Observations are the agent's local cell codes
(:meth:`GridWorld.observe`) followed, when ``energy_buckets > 0``, by its energy bucket
``min(energy_buckets - 1, floor(energy_buckets * energy / initial_energy))``. Rewards are
:attr:`StepResult.reward` (energy change plus goal reward). An agent is terminated when
its energy runs out and then leaves the world, freeing its cell; all remaining agents are
truncated after ``max_cycles`` steps.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from freeagentics.errors import ConfigurationError
from freeagentics.worlds._codes import Cell, Move, n_cell_codes, neighbourhood_offsets
from freeagentics.worlds._config import GridWorldConfig
from freeagentics.worlds.grid import GridWorld

__all__ = ["GridWorldParallelEnv"]


class GridWorldParallelEnv(ParallelEnv):
    """Parallel multi-agent environment: one ``Discrete(5)`` :class:`Move` per agent."""

    metadata: ClassVar[dict[str, Any]] = {
        "name": "freeagentics_grid_v0",
        "render_modes": [],
        "is_parallelizable": True,
    }

    def __init__(
        self, config: GridWorldConfig, *, max_cycles: int = 200, energy_buckets: int = 4
    ) -> None:
        if isinstance(max_cycles, bool) or not isinstance(max_cycles, int) or max_cycles < 1:
            raise ConfigurationError(f"max_cycles must be an integer >= 1, got {max_cycles!r}")
        if (
            isinstance(energy_buckets, bool)
            or not isinstance(energy_buckets, int)
            or energy_buckets < 0
        ):
            raise ConfigurationError(
                f"energy_buckets must be an integer >= 0, got {energy_buckets!r}"
            )
        self.config = config
        self.max_cycles = max_cycles
        self.energy_buckets = energy_buckets
        self.render_mode = None
        self.possible_agents = [f"agent_{i}" for i in range(config.n_agents)]
        self.agents: list[str] = []
        self._index = {name: i for i, name in enumerate(self.possible_agents)}
        n_cells = neighbourhood_offsets(config.observation_radius).shape[0]
        nvec = [n_cell_codes(config.n_resource_types)] * n_cells
        if energy_buckets:
            nvec.append(energy_buckets)
        self._observation_space = spaces.MultiDiscrete(np.array(nvec, dtype=np.int64))
        self._action_space = spaces.Discrete(len(Move))
        self.world: GridWorld | None = None
        self._cycles = 0

    def observation_space(self, agent: str) -> spaces.MultiDiscrete:
        """The same ``MultiDiscrete`` object for every agent."""
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
                move[self._index[name]] = int(actions[name])
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
        """(H, W) int8 global view: static cell codes with agents marked ``AGENT``."""
        if self.world is None:
            raise ConfigurationError("call reset() before state()")
        view = self.world.layout.static_codes()
        lin = self.world.positions_linear()
        view.flat[lin[lin >= 0]] = Cell.AGENT
        return view
