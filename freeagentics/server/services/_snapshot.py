"""What readers see of a simulation: an immutable copy published at the end of each tick.

The stepping thread builds a :class:`Snapshot` while it still holds the simulation's
lock (after each tick, and after anything else that changes the simulation) and swaps
it in with one attribute assignment. Requests read the snapshot without the lock, so a
read never waits for a tick, however long the tick or a ``step`` of many ticks takes.

Every array here is a copy (or an array the simulation never writes again), except
the belief-history rings: copying ``N x H x S`` values every tick would cost more than
the tick. :func:`recent_beliefs` reads an agent's ring row and keeps only the entries
that no later tick can have overwritten during the read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from freeagentics.agents import Cohort
from freeagentics.agents._bfloat16 import from_bfloat16
from freeagentics.coalitions import CoalitionStatus
from freeagentics.models import GenerativeModel
from freeagentics.simulation import Simulation

__all__ = ["GroupSnapshot", "Snapshot", "WorldLayout", "recent_beliefs", "take_snapshot"]


@dataclass(frozen=True, eq=False)
class WorldLayout:
    """The static part of the world view: computed once per simulation.

    ``cells`` (H, W) uint8 cell codes; ``resource_cells`` (R,) int32 linear indices
    ``row * W + col`` of the resource cells; ``resource_kind`` (R,) their resource type.
    """

    height: int
    width: int
    resource_names: tuple[str, ...]
    cells: np.ndarray
    resource_cells: np.ndarray
    resource_kind: np.ndarray

    @classmethod
    def of(cls, sim: Simulation) -> WorldLayout:
        layout = sim.world.layout
        kind = np.asarray(layout.resource_kind)
        cells = np.zeros(kind.shape, dtype=np.uint8)
        cells[kind >= 0] = 6 + kind[kind >= 0]
        cells[np.asarray(layout.goals)] = 2
        cells[np.asarray(layout.hazards)] = 5
        cells[np.asarray(layout.walls)] = 1
        linear = np.flatnonzero(kind >= 0)
        return cls(
            height=int(kind.shape[0]),
            width=int(kind.shape[1]),
            resource_names=tuple(r.name for r in sim.world.config.resources),
            cells=cells,
            resource_cells=linear.astype(np.int32),
            resource_kind=kind.ravel()[linear],
        )

    def amounts(self, sim: Simulation) -> np.ndarray:
        """``(R,)`` float32 amount now at each resource cell (a copy)."""
        resources = sim.world.resources
        flat = resources.reshape(resources.shape[0], self.height * self.width)
        return flat[self.resource_kind, self.resource_cells].astype(np.float32)


@dataclass(frozen=True, eq=False)
class GroupSnapshot:
    """One kind's agents: ``ids`` (n,) ascending, beliefs ``qs`` per factor (n, S_f),
    ``q_pi`` and ``G`` (n, P), ``free_energy`` (n,), last ``actions`` (n, F), the
    kind's (immutable) ``model``, and the live ``history`` ring (n, H, S) of bfloat16
    bits (read it with :func:`recent_beliefs`)."""

    kind: str
    model: GenerativeModel
    ids: np.ndarray
    qs: tuple[np.ndarray, ...]
    q_pi: np.ndarray
    G: np.ndarray
    free_energy: np.ndarray
    actions: np.ndarray
    history: np.ndarray

    def row(self, agent_id: int) -> int | None:
        row = int(np.searchsorted(self.ids, agent_id))
        return row if row < self.ids.size and self.ids[row] == agent_id else None

    def metrics(self, row: int) -> dict[str, np.floating]:
        """The cohort's per-agent metrics of agent ``row``, computed on demand (computing
        them for every agent on every tick would cost more than copying the beliefs), as
        numpy scalars of the dtype they were computed in."""
        one = slice(row, row + 1)
        view = SimpleNamespace(  # a one-agent cohort, as Cohort.metrics reads it
            model=self.model,
            n=1,
            qs=[q[one] for q in self.qs],
            q_pi=self.q_pi[one],
            G=self.G[one],
            free_energy=self.free_energy[one],
            actions=self.actions[one],
        )
        return {name: values[0] for name, values in Cohort.metrics(view).items()}


@dataclass(frozen=True, eq=False)
class Snapshot:
    """A simulation as of the end of tick ``tick``; per-agent arrays in id order (N,).

    ``membership`` and ``role`` are each agent's coalition id (-1: none) and role code;
    ``coalitions`` holds copies of the coalition table's columns (``ids``, ``status``,
    ``objective``, ``leader``, ``size``, ``created``) and ``objectives`` the objective
    ids and targets; ``knowledge`` is the graph's ``(version, nodes, edges)``.
    """

    tick: int
    kind_names: tuple[str, ...]
    kind_counts: dict[str, int]
    ids: np.ndarray
    kinds: np.ndarray
    positions: np.ndarray
    energy: np.ndarray
    membership: np.ndarray
    role: np.ndarray
    coalitions: dict[str, np.ndarray]
    objectives: tuple[np.ndarray, np.ndarray]
    groups: dict[str, GroupSnapshot]
    layout: WorldLayout
    resource_amounts: np.ndarray
    knowledge: tuple[int, int, int]
    history_len: int

    @property
    def agents(self) -> int:
        return int(self.ids.size)

    @property
    def active_coalitions(self) -> int:
        return int(np.count_nonzero(self.coalitions["status"] == CoalitionStatus.ACTIVE))


def _group(group: Any) -> GroupSnapshot:
    cohort = group.cohort
    return GroupSnapshot(
        kind=group.kind.name,
        model=cohort.model,
        ids=group.ids.copy(),
        qs=tuple(q.copy() for q in cohort.qs),
        q_pi=cohort.q_pi.copy(),
        G=cohort.G.copy(),
        free_energy=np.array(cohort.free_energy, copy=True),
        actions=np.array(cohort.actions, copy=True),
        history=group.history,
    )


def take_snapshot(sim: Simulation, layout: WorldLayout) -> Snapshot:
    """Copy what readers need of ``sim`` (call it holding the simulation's lock)."""
    pop = sim.population
    slots = pop.slots()
    state = sim.coalitions.state
    objectives = sim.coalitions.objectives
    knowledge = sim.knowledge
    return Snapshot(
        tick=sim.tick,
        kind_names=tuple(pop.kind_names),
        kind_counts={g.kind.name: g.n for g in pop.groups},
        ids=pop.ids.copy(),
        kinds=np.array(pop.kinds(), copy=True),
        positions=sim.world.positions[slots],
        energy=sim.world.energy[slots],
        membership=state.membership.copy(),
        role=np.array(state.role, copy=True),
        coalitions={
            name: np.array(getattr(state, name), copy=True)
            for name in ("ids", "status", "objective", "leader", "size", "created")
        },
        objectives=(np.array(objectives.ids, copy=True), np.array(objectives.targets, copy=True)),
        groups={g.kind.name: _group(g) for g in pop.groups},
        layout=layout,
        resource_amounts=layout.amounts(sim),
        knowledge=(knowledge.version, knowledge.count_nodes(), knowledge.count_edges()),
        history_len=pop.history_len,
    )


def recent_beliefs(
    group: GroupSnapshot, row: int, tick: int, history_len: int, live_tick: Callable[[], int]
) -> np.ndarray:
    """Up to ``history_len`` beliefs ``(k, S)`` of agent ``row`` ending at ``tick``, oldest first.

    The ring keeps being written by later ticks: ``live_tick()``, the simulation's tick
    read *after* the copy, says which entries (ticks ``t <= live_tick() - history_len``)
    may have been overwritten during the read; they are left out.
    """
    ring = from_bfloat16(np.array(group.history[row], copy=True))
    oldest = max(tick - history_len + 1, 0, live_tick() - history_len + 1)
    ticks = range(oldest, tick + 1)
    return ring[[t % history_len for t in ticks]] if len(ticks) else ring[:0]
