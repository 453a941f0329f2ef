"""What the writer copies from a simulation on its own thread: beliefs and coalition details.

Neither is in :class:`~freeagentics.simulation.TickEvents`, and both change on the next
tick, so they are copied right after the tick on the simulation thread (a few array
copies, no database work).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from freeagentics.coalitions import CoalitionStatus
from freeagentics.storage._batch import CoalitionMeta
from freeagentics.storage.beliefs import BeliefSnapshot

if TYPE_CHECKING:
    from freeagentics.simulation import Simulation, TickEvents

__all__ = ["belief_snapshots", "coalition_meta"]


def belief_snapshots(sim: Simulation, tick: int, dtype: str = "float16") -> list[BeliefSnapshot]:
    """One snapshot per kind and hidden-state factor of the current posteriors.

    Factor 0 is stored under the kind's name, factor ``f > 0`` under ``"name#f"``;
    each snapshot's beliefs are ``(n, S_f)``.
    """
    out = []
    for group in sim.population.groups:
        if not group.n:
            continue
        for f, q in enumerate(group.cohort.qs):
            name = group.kind.name if f == 0 else f"{group.kind.name}#{f}"
            out.append(BeliefSnapshot(tick, name, group.ids.copy(), q.astype(dtype)))
    return out


def coalition_meta(sim: Simulation, events: TickEvents) -> CoalitionMeta:
    """Objective and leader (as an agent id) of every active coalition after ``events``."""
    state = sim.coalitions.state
    active = state.status == int(CoalitionStatus.ACTIVE)
    leader = state.leader[active]
    ids = np.asarray(events.ids, dtype=np.int64)
    leader_ids = np.full_like(leader, -1)
    named = (leader >= 0) & (leader < ids.size)
    leader_ids[named] = ids[leader[named]]
    return CoalitionMeta(state.ids[active].copy(), state.objective[active].copy(), leader_ids)
