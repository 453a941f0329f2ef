"""A vectorised grid world: a population of agents is a handful of arrays.

Agent storage uses *slots*: arrays with a leading slot axis of length ``n_slots`` and an
``active`` mask. Removing an agent frees its slot; adding agents reuses the lowest free
slots before appending new ones, so an agent's index never changes while it lives.
Per-agent inputs and outputs (actions, observations, step results) are indexed by slot;
rows of inactive slots are ignored on input and neutral on output.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from freeagentics._checks import whole_number_at_least
from freeagentics.errors import ConfigurationError, UnknownIdError
from freeagentics.state import State, rng_from_state, rng_state
from freeagentics.worlds._checkpoint import STATE_KEYS, read_checkpoint
from freeagentics.worlds._codes import MOVE_DELTAS, Move, neighbourhood_offsets
from freeagentics.worlds._config import GridWorldConfig
from freeagentics.worlds._layout import Layout, draw_layout
from freeagentics.worlds._movement import resolve_moves
from freeagentics.worlds._observe import observe_cells
from freeagentics.worlds._population import allocate_slots, check_free_cells
from freeagentics.worlds._resources import apply_cells, regrow
from freeagentics.worlds._result import StepResult

__all__ = ["GridWorld", "StepResult"]


def _readonly(a: np.ndarray) -> np.ndarray:
    view = a.view()
    view.flags.writeable = False
    return view


class GridWorld:
    """A grid world holding ``config.n_agents`` agents after :meth:`reset`.

    All randomness (layout, placement, conflict priorities) comes from one
    ``numpy.random.default_rng(seed)``, so a seed fixes the whole trajectory for
    given actions, and :meth:`get_state` / :meth:`set_state` checkpoint it exactly.
    """

    def __init__(
        self,
        config: GridWorldConfig,
        seed: int | None = None,
        *,
        layout: Layout | None = None,
        positions: np.ndarray | None = None,
    ) -> None:
        if not isinstance(config, GridWorldConfig):
            raise ConfigurationError(f"config must be a GridWorldConfig, got {type(config)}")
        self._config = config
        self._offsets = neighbourhood_offsets(config.observation_radius)
        self._contact_offsets = neighbourhood_offsets(1)
        res = config.resources
        self._depletion = np.array([r.depletion for r in res], dtype=np.float32)
        self._no_least = np.zeros(len(res), dtype=np.float32)
        self._regrowth = np.array([r.regrowth for r in res], dtype=np.float32)
        self._max_amount = np.array([r.max_amount for r in res], dtype=np.float32)
        self._cell_params = np.array(
            [
                *self._depletion,
                config.energy_per_unit,
                config.energy_cost_per_move,
                config.energy_cost_per_tick,
                config.hazard_penalty,
                config.goal_reward,
            ],
            dtype=np.float32,
        )
        self.reset(seed, layout=layout, positions=positions)

    # ------------------------------------------------------------------ set-up

    def reset(
        self,
        seed: int | None = None,
        *,
        layout: Layout | None = None,
        positions: np.ndarray | None = None,
    ) -> None:
        """Start over: new rng, layout (drawn unless given) and ``config.n_agents`` agents.

        Args:
            seed: seed of ``numpy.random.default_rng``; None draws fresh entropy.
            layout: a fixed layout of shape (height, width) instead of a drawn one.
            positions: (n_agents, 2) int starting cells instead of random free cells.
        """
        cfg = self._config
        self._rng = np.random.default_rng(seed)
        if layout is None:
            layout = draw_layout(cfg, self._rng)
        elif not isinstance(layout, Layout) or layout.shape != (cfg.height, cfg.width):
            raise ConfigurationError(
                f"layout must be a Layout of shape {(cfg.height, cfg.width)}, got "
                f"{getattr(layout, 'shape', type(layout))}"
            )
        self._install_layout(layout, resources=None)
        self._positions = np.empty((0, 2), dtype=np.int32)
        self._energy = np.empty(0, dtype=np.float32)
        self._active = np.empty(0, dtype=bool)
        self._tick = 0
        if positions is not None:
            positions = np.asarray(positions)
            if positions.shape != (cfg.n_agents, 2):
                raise ConfigurationError(
                    f"positions must have shape ({cfg.n_agents}, 2), got {positions.shape}"
                )
        self.add_agents(cfg.n_agents, positions=positions)

    def _install_layout(self, layout: Layout, resources: np.ndarray | None) -> None:
        cfg = self._config
        kind = layout.resource_kind
        if kind.max(initial=-1) >= cfg.n_resource_types:
            raise ConfigurationError(
                f"layout uses resource type {int(kind.max())} but config.resources has "
                f"{cfg.n_resource_types} types"
            )
        self._layout = layout
        self._static_codes = layout.static_codes()
        rows, cols = np.nonzero(kind >= 0)
        self._resource_cells = np.stack([kind[rows, cols], rows, cols], axis=1).astype(np.int64)
        if resources is None:
            resources = np.zeros((cfg.n_resource_types, cfg.height, cfg.width), dtype=np.float32)
            resources[kind[rows, cols], rows, cols] = self._max_amount[kind[rows, cols]]
        self._resources = resources
        self._occupancy = np.full((cfg.height, cfg.width), -1, dtype=np.int32)
        self._claim = np.full((cfg.height, cfg.width), -1, dtype=np.int32)

    # ------------------------------------------------------------------ views

    @property
    def config(self) -> GridWorldConfig:
        """The configuration this world was built from."""
        return self._config

    @property
    def layout(self) -> Layout:
        """The static layout (walls, goals, hazards, resource cells)."""
        return self._layout

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W)."""
        return self._config.height, self._config.width

    @property
    def tick(self) -> int:
        """Number of :meth:`step` calls since :meth:`reset`."""
        return self._tick

    @property
    def n_slots(self) -> int:
        """Length C of the slot axis (active and free slots)."""
        return self._active.shape[0]

    @property
    def n_agents(self) -> int:
        """Number of active agents."""
        return int(np.count_nonzero(self._active))

    @property
    def walls(self) -> np.ndarray:
        """(H, W) bool, read-only."""
        return self._layout.walls

    @property
    def goals(self) -> np.ndarray:
        """(H, W) bool, read-only."""
        return self._layout.goals

    @property
    def hazards(self) -> np.ndarray:
        """(H, W) bool, read-only."""
        return self._layout.hazards

    @property
    def resources(self) -> np.ndarray:
        """(K, H, W) float32 resource amounts, read-only view."""
        return _readonly(self._resources)

    @property
    def positions(self) -> np.ndarray:
        """(C, 2) int32 (row, col) per slot, (-1, -1) for free slots; read-only view."""
        return _readonly(self._positions)

    @property
    def energy(self) -> np.ndarray:
        """(C,) float32 energy per slot, 0 for free slots; read-only view."""
        return _readonly(self._energy)

    @property
    def active(self) -> np.ndarray:
        """(C,) bool, the slot holds an agent; read-only view."""
        return _readonly(self._active)

    @property
    def alive(self) -> np.ndarray:
        """(C,) bool, active with energy above 0 (may move and collect)."""
        return self._active & (self._energy > 0)

    def positions_linear(self) -> np.ndarray:
        """(C,) int64 ``row * W + col`` per slot, -1 for free slots."""
        lin = self._positions[:, 0].astype(np.int64) * self._config.width + self._positions[:, 1]
        return np.where(self._active, lin, -1)

    @property
    def observation_offsets(self) -> np.ndarray:
        """(n_cells, 2) int32 neighbourhood offsets, in observation column order."""
        return _readonly(self._offsets)

    def observe(self) -> np.ndarray:
        """Cell codes around every agent.

        Returns:
            (C, n_cells) int32 :class:`Cell` codes in :attr:`observation_offsets` order;
            free slots read all ``OUT_OF_BOUNDS``.
        """
        return observe_cells(
            self._positions,
            self._active,
            self._static_codes,
            self._occupancy,
            self._resources,
            self._offsets,
            self._no_least,
        )

    def contact(self) -> np.ndarray:
        """What touches every agent, whatever the observation radius.

        A resource cell holding less than one bite (its type's ``depletion``) reads as
        empty: there is nothing worth staying for.

        Returns:
            (C, 5) int32 :class:`Cell` codes of the cell under the agent, then the cells
            up, down, left and right of it (the order of :class:`Move`); free slots read
            all ``OUT_OF_BOUNDS``.
        """
        return observe_cells(
            self._positions,
            self._active,
            self._static_codes,
            self._occupancy,
            self._resources,
            self._contact_offsets,
            self._depletion,
        )

    # ------------------------------------------------------------------ dynamics

    def step(self, actions: np.ndarray) -> StepResult:
        """Advance one tick: move, collect, pay energy, regrow.

        Args:
            actions: (C,) integer :class:`Move` codes, one per slot; entries of free slots
                and exhausted agents are ignored.

        Returns:
            A :class:`StepResult` with one row per slot.
        """
        actions = np.asarray(actions)
        if actions.shape != (self.n_slots,) or not np.issubdtype(actions.dtype, np.integer):
            raise ConfigurationError(
                f"actions must be an integer array of shape ({self.n_slots},), got "
                f"{actions.dtype} {actions.shape}"
            )
        alive = self.alive
        if actions.size and np.any(((actions < 0) | (actions > Move.STAY)) & alive):
            raise ConfigurationError(f"actions must be Move codes in [0, {int(Move.STAY)}]")
        # Drawn for every slot, alive or not, so the rng stream does not depend on actions.
        priority = self._rng.random(self.n_slots)
        moved = resolve_moves(
            self._positions,
            np.where(alive, actions, Move.STAY).astype(np.intp),
            alive,
            priority,
            self.walls,
            self._occupancy,
            self._claim,
            MOVE_DELTAS,
        )
        collected, energy_delta, reward, on_goal, on_hazard, exhausted = apply_cells(
            self._positions,
            alive,
            moved,
            self._energy,
            self._resources,
            self._layout.resource_kind,
            self.goals,
            self.hazards,
            self._cell_params,
        )
        if self._resource_cells.shape[0]:
            regrow(self._resources, self._resource_cells, self._regrowth, self._max_amount)
        self._tick += 1
        return StepResult(
            moved=moved,
            collected=collected,
            energy_delta=energy_delta,
            reward=reward,
            on_goal=on_goal,
            on_hazard=on_hazard,
            exhausted=exhausted,
            energy=self._energy.copy(),
        )

    # ------------------------------------------------------------------ population

    def add_agents(
        self,
        n: int | None = None,
        *,
        positions: np.ndarray | None = None,
        energy: float | np.ndarray | None = None,
    ) -> np.ndarray:
        """Place new agents, reusing free slots first.

        Args:
            n: number of agents to add on random free (non-wall, unoccupied) cells;
                may be omitted when ``positions`` is given.
            positions: (n, 2) int distinct free cells instead of random ones.
            energy: scalar or (n,) starting energy; defaults to ``config.initial_energy``.

        Returns:
            (n,) int64 slot indices of the new agents.
        """
        if positions is not None:
            positions = np.asarray(positions)
            if positions.ndim != 2 or positions.shape[1] != 2:
                raise ConfigurationError(f"positions must be (n, 2), got {positions.shape}")
            if n is not None and n != positions.shape[0]:
                raise ConfigurationError(f"n={n} disagrees with {positions.shape[0]} positions")
            n = positions.shape[0]
            cells = check_free_cells(positions, self.walls, self._occupancy)
        else:
            n = whole_number_at_least("n", n, 0)
            free = np.flatnonzero(~self.walls & (self._occupancy < 0))
            if n > free.size:
                raise ConfigurationError(f"n must be at most {free.size} free cells, got {n}")
            cells = self._rng.choice(free, size=n, replace=False)
        n = int(n)
        if energy is None:
            energy = self._config.initial_energy
        energy = np.broadcast_to(np.asarray(energy, dtype=np.float32), (n,))
        if not np.all(np.isfinite(energy)) or np.any(energy < 0):
            raise ConfigurationError("energy must be finite and >= 0")

        slots, n_new = allocate_slots(self._active, n)
        if n_new:
            self._positions = np.concatenate(
                [self._positions, np.full((n_new, 2), -1, dtype=np.int32)]
            )
            self._energy = np.concatenate([self._energy, np.zeros(n_new, dtype=np.float32)])
            self._active = np.concatenate([self._active, np.zeros(n_new, dtype=bool)])
        rows, cols = np.divmod(cells.astype(np.int64), self._config.width)
        self._positions[slots, 0] = rows
        self._positions[slots, 1] = cols
        self._energy[slots] = energy
        self._active[slots] = True
        self._occupancy[rows, cols] = slots
        return slots

    def remove_agents(self, indices: np.ndarray | list[int]) -> None:
        """Free the slots of the given agents and vacate their cells.

        Args:
            indices: (m,) distinct slot indices of active agents.
        """
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        bad = idx[(idx < 0) | (idx >= self.n_slots)]
        if bad.size == 0:
            bad = idx[~self._active[idx]]
        if bad.size:
            raise UnknownIdError(f"no active agent with index {int(bad[0])}")
        if np.unique(idx).size != idx.size:
            raise ConfigurationError("indices must be pairwise distinct")
        self._occupancy[self._positions[idx, 0], self._positions[idx, 1]] = -1
        self._positions[idx] = -1
        self._energy[idx] = 0
        self._active[idx] = False

    # ------------------------------------------------------------------ checkpoint

    def get_state(self) -> dict[str, Any]:
        """Copy of everything that evolves, enough to continue identically.

        Returns:
            dict of numpy arrays (``walls``, ``goals``, ``hazards``, ``resource_kind``
            (H, W); ``resources`` (K, H, W); ``positions`` (C, 2); ``energy``, ``active``
            (C,); ``tick`` 0-d int64) plus ``rng``, the bit generator's state dict.
        """
        state = {
            "walls": self.walls.copy(),
            "goals": self.goals.copy(),
            "hazards": self.hazards.copy(),
            "resource_kind": self._layout.resource_kind.copy(),
            "resources": self._resources.copy(),
            "positions": self._positions.copy(),
            "energy": self._energy.copy(),
            "active": self._active.copy(),
            "tick": np.array(self._tick, dtype=np.int64),
            "rng": self._rng.bit_generator.state,
        }
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a state produced by :meth:`get_state` of a world with the same config.

        The state is validated in full before anything is replaced.
        """
        ckpt = read_checkpoint(state, self._config)
        self._install_layout(ckpt.layout, resources=ckpt.resources)
        self._positions = ckpt.positions
        self._energy = ckpt.energy
        self._active = ckpt.active
        slots = np.flatnonzero(ckpt.active)
        self._occupancy[ckpt.positions[slots, 0], ckpt.positions[slots, 1]] = slots
        self._rng = ckpt.rng
        self._tick = ckpt.tick

    def export_state(self) -> State:
        """:meth:`get_state` as a :class:`~freeagentics.state.State` (the generator as JSON)."""
        arrays = self.get_state()
        del arrays["rng"]
        return State(arrays, {"rng": rng_state(self._rng)})

    def import_state(self, state: State) -> None:
        """Take back a :meth:`export_state` (validated in full by :meth:`set_state`)."""
        arrays = {key: state.array(key) for key in STATE_KEYS if key != "rng"}
        arrays["rng"] = rng_from_state(state.value("rng", dict)).bit_generator.state
        self.set_state(arrays)
