"""A heterogeneous population: one cohort per agent kind, stable agent ids.

Agents are kept in creation order (``ids``, ascending). Each kind's cohort holds its
agents' rows in the same relative order, so the global position of an agent is
found by a binary search and every per-agent array of the population lines up with
``ids``. Removal keeps the order (``np.delete`` semantics), additions append.

A bounded belief history keeps each agent's last ``history`` posteriors in a ring:
memory is ``N × history × S`` 16-bit values (bfloat16, relative error at most 2⁻⁸)
whatever the number of ticks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from freeagentics._checks import whole_number_at_least
from freeagentics.agents._bfloat16 import from_bfloat16, store_bfloat16
from freeagentics.agents._population_state import load_population_state, population_state
from freeagentics.agents.cohort import Cohort
from freeagentics.agents.kinds import AgentKind
from freeagentics.errors import ConfigurationError, UnknownIdError
from freeagentics.state import State

__all__ = ["Group", "Population"]


@dataclass
class Group:
    """The agents of one kind: their cohort and where they are.

    Attributes:
        ids: ``(n,)`` int64 agent ids, ascending.
        slots: ``(n,)`` int64 world slot of each agent.
        history: ``(n, H, S)`` uint16 ring of recent beliefs (factor 0) as bfloat16 bits.
        visits: ``(n, M, M)`` uint8 visit memory of the kind's drives (``M = 0``
            without drives), see :mod:`freeagentics.agents.drives`.
    """

    kind: AgentKind
    code: int
    cohort: Cohort
    ids: np.ndarray
    slots: np.ndarray
    history: np.ndarray
    visits: np.ndarray

    @property
    def n(self) -> int:
        return int(self.ids.size)


class Population:
    """Agents of several kinds, each kind a cohort stepped as a batch.

    Args:
        kinds: the kinds agents may have; their order fixes the kind codes.
        rng: parent generator; each kind's cohort gets its own child stream.
        history: length of each agent's belief history ring.
    """

    def __init__(self, kinds: list[AgentKind], rng: np.random.Generator, history: int = 4):
        history = whole_number_at_least("history", history, 1)
        names = [k.name for k in kinds]
        if len(set(names)) != len(names):
            raise ConfigurationError(f"kind names must be unique, got {names}")
        self.history_len = history
        self.kind_names = tuple(names)
        self.groups: list[Group] = []
        for code, (kind, child) in enumerate(zip(kinds, rng.spawn(len(kinds)), strict=True)):
            cohort = Cohort(kind.model, 0, kind.config, rng=child)
            size = kind.model.num_states[0]
            memory = kind.drives.memory if kind.drives is not None else 0
            self.groups.append(
                Group(
                    kind,
                    code,
                    cohort,
                    np.empty(0, np.int64),
                    np.empty(0, np.int64),
                    np.zeros((0, history, size), np.uint16),
                    np.zeros((0, memory, memory), np.uint8),
                )
            )
        self._next_id = 0
        # id-order arrays, rebuilt only when the population changes (read every tick)
        self._ordered: dict[str, np.ndarray] = {}

    # ------------------------------------------------------------------ membership
    @property
    def n(self) -> int:
        return sum(g.n for g in self.groups)

    @property
    def ids(self) -> np.ndarray:
        """All agent ids in creation order ``(N,)``."""
        if "ids" not in self._ordered:
            self._ordered["ids"] = _frozen(np.sort(np.concatenate([g.ids for g in self.groups])))
        return self._ordered["ids"]

    def group(self, kind: str) -> Group:
        if kind not in self.kind_names:
            raise ConfigurationError(
                f"unknown agent kind {kind!r}; kinds are {list(self.kind_names)}"
            )
        return self.groups[self.kind_names.index(kind)]

    def add(self, kind: str, slots: np.ndarray) -> np.ndarray:
        """Add one agent of ``kind`` per world slot in ``slots``; returns their new ids."""
        group = self.group(kind)
        slots = np.asarray(slots, dtype=np.int64)
        ids = np.arange(self._next_id, self._next_id + slots.size, dtype=np.int64)
        self._next_id += slots.size
        group.cohort.add_agents(slots.size)
        group.ids = np.concatenate([group.ids, ids])
        group.slots = np.concatenate([group.slots, slots])
        prior = np.empty((1, group.history.shape[2]), np.uint16)
        store_bfloat16(group.cohort.D[0][None], prior)
        fresh = np.broadcast_to(prior[:, None, :], (slots.size, self.history_len, prior.shape[1]))
        group.history = np.concatenate([group.history, fresh])
        group.visits = np.concatenate(
            [group.visits, np.zeros((slots.size, *group.visits.shape[1:]), np.uint8)]
        )
        self._ordered = {}
        return ids

    def locate(self, ids: np.ndarray) -> list[tuple[Group, np.ndarray, np.ndarray]]:
        """Per group holding some of ``ids``: ``(group, rows in the group, positions in ids)``.

        Raises :class:`UnknownIdError` naming the first id that is not alive.
        """
        ids = np.asarray(ids, dtype=np.int64)
        found = np.zeros(ids.size, bool)
        out = []
        for g in self.groups:
            rows = np.searchsorted(g.ids, ids)
            hit = (
                (rows < g.n) & (g.ids[np.minimum(rows, max(g.n - 1, 0))] == ids)
                if g.n
                else np.zeros(ids.size, bool)
            )
            if hit.any():
                out.append((g, rows[hit], np.flatnonzero(hit)))
                found |= hit
        if not found.all():
            raise UnknownIdError(f"no agent with id {int(ids[~found][0])}")
        return out

    def remove(self, ids: np.ndarray) -> np.ndarray:
        """Remove agents by id; returns the world slots they held ``(k,)``."""
        freed = []
        for g, rows, _ in self.locate(ids):
            freed.append(g.slots[rows])
            keep = np.ones(g.n, bool)
            keep[rows] = False
            g.cohort.remove_agents(rows)
            g.ids, g.slots, g.history = g.ids[keep], g.slots[keep], g.history[keep]
            g.visits = g.visits[keep]
        self._ordered = {}
        return np.concatenate(freed) if freed else np.empty(0, np.int64)

    # ------------------------------------------------------------------ per-agent arrays
    def global_index(self, group: Group) -> np.ndarray:
        """Positions of the group's agents in :attr:`ids` order ``(n,)``."""
        return np.searchsorted(self.ids, group.ids)

    def gather(self, values: dict[int, np.ndarray], fill=0) -> np.ndarray:
        """Stack per-group arrays (keyed by kind code) into :attr:`ids` order."""
        all_ids = self.ids
        first = next(iter(values.values()))
        out = np.full((all_ids.size, *first.shape[1:]), fill, dtype=first.dtype)
        for g in self.groups:
            if g.code in values and g.n:
                out[np.searchsorted(all_ids, g.ids)] = values[g.code]
        return out

    def kinds(self) -> np.ndarray:
        """Kind code of every agent, :attr:`ids` order ``(N,)`` (read-only)."""
        if "kinds" not in self._ordered:
            codes = {g.code: np.full(g.n, g.code, np.int64) for g in self.groups}
            self._ordered["kinds"] = _frozen(self.gather(codes))
        return self._ordered["kinds"]

    def slots(self) -> np.ndarray:
        """World slot of every agent, :attr:`ids` order ``(N,)`` (read-only)."""
        if "slots" not in self._ordered:
            slots = {g.code: g.slots for g in self.groups}
            self._ordered["slots"] = _frozen(self.gather(slots, fill=-1))
        return self._ordered["slots"]

    def record_history(self, tick: int) -> None:
        """Store this tick's beliefs in every agent's ring (slot ``tick % H``)."""
        for g in self.groups:
            if g.n:
                store_bfloat16(g.cohort.qs[0], g.history[:, tick % self.history_len, :])

    def history_of(self, agent_id: int, tick: int) -> np.ndarray:
        """An agent's recent beliefs, oldest first: ``(min(H, tick + 1), S)`` float32."""
        ((g, rows, _),) = self.locate(np.array([agent_id]))
        ring = from_bfloat16(g.history[rows[0]])
        kept = min(self.history_len, tick + 1)
        order = [(tick - k) % self.history_len for k in range(kept - 1, -1, -1)]
        return ring[order]

    # ------------------------------------------------------------------ checkpoints
    def export_state(self, rows: dict | None = None) -> State:
        """Every group's agents, belief history and cohort state (``rows``: per group
        code, ``(cohort state, history, visits)`` held elsewhere, written instead)."""
        return population_state(self, rows)

    def import_state(self, state: State) -> None:
        """Continue from a :meth:`export_state` of a population with the same kinds."""
        load_population_state(self, state)


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array
