"""Coalition registry: per-agent rows plus a table of coalitions, all plain arrays."""

from __future__ import annotations

import numpy as np

from freeagentics._checks import whole_number_at_least
from freeagentics.coalitions._codes import CoalitionStatus, Role
from freeagentics.errors import UnknownIdError

__all__ = ["CoalitionState"]


class CoalitionState:
    """Who belongs to which coalition, for ``N`` agents and ``J`` coalition rows.

    Per agent (``(N,)``):
        membership: int64 coalition id, ``-1`` = in no coalition.
        role: int8 :class:`Role` code.

    Per coalition row (``(J,)``, ids strictly ascending):
        ids: int64 coalition id; ids are never reused.
        objective: int64 objective id, ``-1`` = no objective.
        leader: int64 agent index, ``-1`` = none.
        size: int64 member count (``0`` once dissolved).
        created: int64 tick of formation.
        status: int8 :class:`CoalitionStatus` code.

    Dissolved rows stay until :meth:`compact` (the manager compacts at every
    re-formation), so the table holds at most the coalitions alive at the last
    re-formation plus those formed since, never the whole history.
    """

    def __init__(self, num_agents: int = 0) -> None:
        num_agents = whole_number_at_least("num_agents", num_agents, 0)
        self.membership = np.full(int(num_agents), -1, dtype=np.int64)
        self.role = np.full(int(num_agents), Role.NONE, dtype=np.int8)
        self.ids = np.empty(0, dtype=np.int64)
        self.objective = np.empty(0, dtype=np.int64)
        self.leader = np.empty(0, dtype=np.int64)
        self.size = np.empty(0, dtype=np.int64)
        self.created = np.empty(0, dtype=np.int64)
        self.status = np.empty(0, dtype=np.int8)
        self.next_id = 0

    @property
    def num_agents(self) -> int:
        """``N``."""
        return int(self.membership.shape[0])

    @property
    def num_coalitions(self) -> int:
        """``J``, active and not yet compacted dissolved rows."""
        return int(self.ids.shape[0])

    def active_ids(self) -> np.ndarray:
        """``(A,)`` int64 ids of the active coalitions, ascending."""
        return self.ids[self.status == CoalitionStatus.ACTIVE]

    def rows_of(self, ids: int | np.ndarray) -> np.ndarray:
        """Table row of each coalition id.

        Args:
            ids: scalar or ``(n,)`` coalition ids.

        Returns:
            ``(n,)`` int64 rows.

        Raises:
            UnknownIdError: an id is not in the table (never existed or compacted away).
        """
        query = np.atleast_1d(np.asarray(ids, dtype=np.int64))
        pos = np.searchsorted(self.ids, query)
        found = pos < self.ids.shape[0]
        found[found] = self.ids[pos[found]] == query[found]
        if not np.all(found):
            raise UnknownIdError(f"unknown coalition id {int(query[~found][0])}")
        return pos.astype(np.int64)

    def membership_rows(self) -> np.ndarray:
        """``(N,)`` int64 table row of each agent's coalition, ``-1`` = none."""
        rows = np.full(self.num_agents, -1, dtype=np.int64)
        member = self.membership >= 0
        rows[member] = np.searchsorted(self.ids, self.membership[member])
        return rows

    def members(self, coalition_id: int) -> np.ndarray:
        """``(n,)`` int64 ascending agent indices of one coalition."""
        self.rows_of(coalition_id)
        return np.flatnonzero(self.membership == coalition_id)

    def add_agents(self, count: int) -> None:
        """Append ``count`` agents in no coalition (population growth)."""
        count = whole_number_at_least("count", count, 0)
        self.membership = np.concatenate([self.membership, np.full(count, -1, dtype=np.int64)])
        self.role = np.concatenate([self.role, np.full(count, Role.NONE, dtype=np.int8)])

    def append_coalitions(
        self, objective: np.ndarray, leader: np.ndarray, size: np.ndarray, tick: int
    ) -> np.ndarray:
        """Add one active coalition per entry of the ``(n,)`` inputs; returns their ``(n,)`` ids."""
        count = int(np.asarray(objective).shape[0])
        new_ids = self.next_id + np.arange(count, dtype=np.int64)
        self.next_id += count
        self.ids = np.concatenate([self.ids, new_ids])
        self.objective = np.concatenate([self.objective, np.asarray(objective, np.int64)])
        self.leader = np.concatenate([self.leader, np.asarray(leader, np.int64)])
        self.size = np.concatenate([self.size, np.asarray(size, np.int64)])
        self.created = np.concatenate([self.created, np.full(count, tick, np.int64)])
        self.status = np.concatenate([self.status, np.full(count, CoalitionStatus.ACTIVE, np.int8)])
        return new_ids

    def compact(self) -> None:
        """Drop the dissolved rows (their history lives in the event log)."""
        keep = self.status == CoalitionStatus.ACTIVE
        for name in ("ids", "objective", "leader", "size", "created", "status"):
            setattr(self, name, getattr(self, name)[keep])
