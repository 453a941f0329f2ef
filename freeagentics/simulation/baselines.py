"""Baseline policies that decide every agent's move in place of its own inference.

Set one as :attr:`Simulation.controller`: the world, energy, resources, coalitions and
knowledge graph run exactly as with the agents' Active Inference; only the moves differ.
That makes behaviour comparable on the same worlds and seeds (benchmark B7)::

    sim = Simulation(config)
    sim.controller = GreedyController(seed=0)
    sim.run(2_000)

* :class:`RandomController` — every agent takes one of the five moves (up, down, left,
  right, stay) uniformly at random each tick.
* :class:`GreedyController` — scripted, with full knowledge of the map and of where
  every agent stands: a hungry agent (energy below ``hunger`` times the initial energy)
  and a collector (a kind whose target is ``"resource"``) follow a shortest path to the
  nearest cell holding at least :data:`RICH_AMOUNT` of a resource that no agent stands
  on, and stay on it while it holds that much; a coalition member with an objective
  goes to the objective; everyone else to the nearest cell it has not visited yet.
  Paths go round walls and hazards; a first step into a cell another agent holds is
  not taken.

A controller is an object with ``decide(sim) -> (n_slots,) int64`` world moves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np

from freeagentics.errors import ConfigurationError
from freeagentics.simulation._paths import descend, distance_field, nearest_unvisited_moves
from freeagentics.worlds import Move

if TYPE_CHECKING:
    from freeagentics.simulation.simulation import Simulation

__all__ = ["Controller", "GreedyController", "RandomController"]

#: a cell holding at least this much of all resources is worth walking to and staying on
RICH_AMOUNT = 0.25
#: the greedy baseline remembers visited cells per agent: slots x cells booleans
MAX_VISITED_CELLS = 1 << 28
_CACHED_FIELDS = 256


class Controller(Protocol):
    """Decides the moves of every agent of a simulation for one tick."""

    def decide(self, sim: Simulation) -> np.ndarray:
        """``(sim.world.n_slots,)`` int world moves (entries of free slots are ignored)."""
        ...


class RandomController:
    """Uniform random moves: each of the five with probability 1/5, every tick."""

    def __init__(self, seed: int = 0):
        self._rng = np.random.default_rng(seed)

    def decide(self, sim: Simulation) -> np.ndarray:
        return self._rng.integers(0, len(Move), size=sim.world.n_slots, dtype=np.int64)


class GreedyController:
    """Shortest paths with full map knowledge (see the module docstring).

    Args:
        seed: breaks ties between equally short paths.
        hunger: share of the world's initial energy below which an agent forages first.

    Raises:
        ConfigurationError: from :meth:`decide` when remembering every agent's visited
            cells would take more than :data:`MAX_VISITED_CELLS` booleans.
    """

    def __init__(self, seed: int = 0, hunger: float = 0.3):
        self._rng = np.random.default_rng(seed)
        self.hunger = hunger
        self._visited = np.zeros((0, 0), dtype=bool)  # (slots, H * W)
        self._owner = np.zeros(0, dtype=np.int64)  # agent id remembered per slot
        self._fields: dict[tuple[int, int], np.ndarray] = {}
        self._world = None  # the world the memory above belongs to

    def decide(self, sim: Simulation) -> np.ndarray:
        world = sim.world
        if world is not self._world:  # another simulation (or a restored one): start over
            self._visited = np.zeros((0, 0), dtype=bool)
            self._owner = np.zeros(0, dtype=np.int64)
            self._fields = {}
            self._world = world
        height, width = world.shape
        ids = sim.population.ids
        slots = sim.population.slots()  # id order
        pos = world.positions[slots].astype(np.int64)
        self._remember(world.n_slots, height * width, slots, ids)
        self._visited[slots, pos[:, 0] * width + pos[:, 1]] = True
        tiebreak = self._rng.integers(0, 4, size=ids.size)
        walls = np.ascontiguousarray(world.walls | world.hazards)  # never worth crossing
        occupied = np.zeros(world.shape, dtype=bool)
        occupied[pos[:, 0], pos[:, 1]] = True

        moves = np.full(ids.size, int(Move.STAY), dtype=np.int64)
        objective = sim._objective_targets()  # (N, 2) in id order, -1 without one
        has_objective = objective[:, 0] >= 0
        collector = np.zeros(ids.size, dtype=bool)
        for g in sim.population.groups:
            if g.n and g.kind.target == "resource":
                collector[np.searchsorted(ids, g.ids)] = True
        hungry = world.energy[slots] < self.hunger * world.config.initial_energy
        collector |= hungry
        has_objective &= ~collector
        explorer = ~has_objective & ~collector

        if explorer.any():
            moves[explorer] = nearest_unvisited_moves(
                walls, occupied, self._visited, slots[explorer], pos[explorer], tiebreak[explorer]
            )
        if collector.any():
            moves[collector] = self._forage(
                world, walls, occupied, pos[collector], tiebreak[collector]
            )
        for target in np.unique(objective[has_objective], axis=0):
            rows = has_objective & np.all(objective == target, axis=1)
            field = self._field_to(walls, (int(target[0]), int(target[1])))
            moves[rows] = descend(field, occupied, pos[rows], tiebreak[rows])

        actions = np.full(world.n_slots, int(Move.STAY), dtype=np.int64)
        actions[slots] = moves
        return actions

    def _remember(self, n_slots: int, cells: int, slots: np.ndarray, ids: np.ndarray) -> None:
        """Grow the visited table to ``n_slots`` rows; forget rows whose agent changed."""
        if n_slots * cells > MAX_VISITED_CELLS:
            raise ConfigurationError(
                f"the greedy baseline remembers visited cells per agent: {n_slots} agents x "
                f"{cells} cells is more than {MAX_VISITED_CELLS} (use a smaller world)"
            )
        if self._visited.shape != (n_slots, cells):
            grown = np.zeros((n_slots, cells), dtype=bool)
            keep = min(n_slots, self._visited.shape[0]) if self._visited.shape[1] == cells else 0
            if keep:
                grown[:keep] = self._visited[:keep]
            self._visited = grown
            self._owner = np.concatenate(
                [self._owner[:keep], np.full(n_slots - keep, -1, np.int64)]
            )
        changed = slots[self._owner[slots] != ids]
        self._visited[changed] = False
        self._owner[slots] = ids

    def _forage(self, world, walls, occupied, pos: np.ndarray, tiebreak: np.ndarray):
        """Moves of foragers at ``pos`` ``(n, 2)``: stay on a rich cell, else head for
        the nearest rich cell nobody stands on."""
        rich = world.resources.sum(axis=0) >= RICH_AMOUNT
        moves = descend(distance_field(walls, rich & ~occupied), occupied, pos, tiebreak)
        moves[rich[pos[:, 0], pos[:, 1]]] = int(Move.STAY)
        return moves

    def _field_to(self, walls: np.ndarray, target: tuple[int, int]) -> np.ndarray:
        field = self._fields.get(target)
        if field is None:
            if len(self._fields) >= _CACHED_FIELDS:
                self._fields.clear()
            sources = np.zeros(walls.shape, dtype=bool)
            sources[target] = True
            if walls[target]:  # an objective on a wall or hazard: reaching its side will do
                r, c = target
                sources[max(r - 1, 0) : r + 2, max(c - 1, 0) : c + 2] = True
            field = self._fields[target] = distance_field(walls, sources)
        return field
