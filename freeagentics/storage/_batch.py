"""What the writer holds for ticks not yet written, and how it turns into rows.

A :class:`Pending` keeps the latest tick's event batch whole (the agents table stores
current state, so an older tick's per-agent arrays are superseded by a newer one) and
reduces older ticks to their small per-tick parts: the metrics row, the coalition events
(agent rows mapped to ids) and any belief snapshots. Nothing per tick is ever dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from freeagentics.storage import metrics
from freeagentics.storage.beliefs import BeliefSnapshot

if TYPE_CHECKING:
    from freeagentics.simulation import TickEvents

__all__ = ["CoalitionMeta", "Pending"]


@dataclass(frozen=True)
class CoalitionMeta:
    """Objective and leader of the active coalitions after one tick, ``(C,)`` each.

    ``objective`` and ``leader`` (an agent id) are -1 where there is none.
    """

    ids: np.ndarray
    objective: np.ndarray
    leader: np.ndarray


@dataclass
class Pending:
    """Ticks accepted but not yet written, in tick order.

    Attributes:
        latest: the newest event batch, whole (source of the agents' state).
        full: older batches still whole (not yet reduced).
        metric_rows: ``tick_metrics`` rows of reduced ticks.
        events: per reduced tick, ``(tick, kind, agent_id, coalition)`` ``(E,)`` arrays.
        beliefs: snapshots to store.
        meta: coalition objective and leader, newest last.
    """

    simulation_id: int
    latest: TickEvents
    full: list[TickEvents] = field(default_factory=list)
    metric_rows: list[tuple] = field(default_factory=list)
    events: list[tuple[np.ndarray, ...]] = field(default_factory=list)
    beliefs: list[BeliefSnapshot] = field(default_factory=list)
    meta: CoalitionMeta | None = None

    @property
    def ticks(self) -> int:
        """How many ticks this holds."""
        return len(self.metric_rows) + len(self.full) + 1

    def absorb(self, other: Pending, *, reduce: bool) -> None:
        """Append ``other`` (later ticks); with ``reduce`` keep only small rows of older ticks."""
        self.full.append(self.latest)
        self.full.extend(other.full)
        self.metric_rows.extend(other.metric_rows)
        self.events.extend(other.events)
        self.beliefs.extend(other.beliefs)
        self.latest = other.latest
        self.meta = other.meta or self.meta
        if reduce:
            self.reduce()

    def reduce(self) -> None:
        """Turn every whole batch but the latest into its per-tick rows."""
        for events in self.full:
            self.metric_rows.append(metrics.summarise(self.simulation_id, events))
            self.events.append(_coalition_events(events))
        self.full.clear()

    def rows(self) -> tuple[list[tuple], list[tuple[np.ndarray, ...]]]:
        """All metrics rows and coalition-event arrays, oldest tick first."""
        self.reduce()
        return (
            [*self.metric_rows, metrics.summarise(self.simulation_id, self.latest)],
            [*self.events, _coalition_events(self.latest)],
        )


def _coalition_events(events: TickEvents) -> tuple[np.ndarray, ...]:
    ce = events.coalition_events
    if not ce or len(ce.get("kind", ())) == 0:
        empty = np.empty(0, np.int64)
        return empty, empty, empty, empty
    agent = np.asarray(ce["agent"], dtype=np.int64)
    ids = np.asarray(events.ids, dtype=np.int64)
    agent_ids = np.full_like(agent, -1)
    named = agent >= 0  # FORM and DISSOLVE carry -1
    agent_ids[named] = ids[agent[named]]
    return (
        np.asarray(ce["tick"], dtype=np.int64),
        np.asarray(ce["kind"], dtype=np.int64),
        agent_ids,
        np.asarray(ce["coalition"], dtype=np.int64),
    )
