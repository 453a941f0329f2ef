"""Plain-data views of a simulation's agents and coalitions, for the API to serialise.

Each function reads the live simulation; call them under the simulation's lock.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from freeagentics.coalitions import CoalitionStatus, Role
from freeagentics.errors import UnknownIdError
from freeagentics.simulation import Simulation

__all__ = ["agent_detail", "agent_page", "coalition_detail", "coalition_list", "kind_counts"]


def kind_counts(sim: Simulation) -> dict[str, int]:
    """Agents alive per kind."""
    return {g.kind.name: g.n for g in sim.population.groups}


def agent_page(
    sim: Simulation,
    *,
    kind: str | None = None,
    coalition: int | None = None,
    offset: int = 0,
    limit: int = 100,
) -> dict[str, Any]:
    """Agents in id order matching ``kind`` / ``coalition`` (-1: in none), one page of them."""
    pop = sim.population
    ids = pop.ids
    kinds = pop.kinds()
    membership = sim.coalitions.state.membership
    mask = np.ones(ids.size, bool)
    if kind is not None:
        mask &= kinds == pop.group(kind).code
    if coalition is not None:
        mask &= membership == coalition
    picked = np.flatnonzero(mask)
    page = picked[offset : offset + limit]
    slots = pop.slots()[page]
    positions = sim.world.positions[slots]
    energy = sim.world.energy[slots]
    items = [
        {
            "id": int(ids[i]),
            "kind": pop.kind_names[int(kinds[i])],
            "position": [int(p) for p in positions[n]],
            "energy": float(energy[n]),
            "coalition": int(membership[i]),
        }
        for n, i in enumerate(page)
    ]
    return {"total": int(picked.size), "offset": offset, "limit": limit, "items": items}


def _floats(values: np.ndarray) -> list[float]:
    return [float(v) for v in np.asarray(values, dtype=np.float64).ravel()]


def agent_detail(sim: Simulation, agent_id: int, history: int) -> dict[str, Any]:
    """Beliefs, policy posterior, expected free energy, metrics and recent beliefs of one agent."""
    pop = sim.population
    ((group, rows, _),) = pop.locate(np.array([agent_id], dtype=np.int64))
    row = int(rows[0])
    index = int(np.searchsorted(pop.ids, agent_id))
    cohort = group.cohort
    slot = int(group.slots[row])
    state = sim.coalitions.state
    metrics = {name: float(values[row]) for name, values in cohort.metrics().items()}
    recent = pop.history_of(agent_id, sim.tick)[-history:] if history else np.empty((0, 0))
    return {
        "id": int(agent_id),
        "kind": group.kind.name,
        "tick": sim.tick,
        "position": [int(p) for p in sim.world.positions[slot]],
        "energy": float(sim.world.energy[slot]),
        "coalition": int(state.membership[index]),
        "role": Role(int(state.role[index])).name.lower(),
        "beliefs": [_floats(q[row]) for q in cohort.qs],
        "q_pi": _floats(cohort.q_pi[row]),
        "G": _floats(cohort.G[row]),
        "metrics": metrics,
        "history": [_floats(b) for b in recent],
    }


def _coalition_row(sim: Simulation, row: int) -> dict[str, Any]:
    state = sim.coalitions.state
    leader = int(state.leader[row])
    return {
        "id": int(state.ids[row]),
        "objective": int(state.objective[row]),
        "leader": int(sim.population.ids[leader]) if leader >= 0 else None,
        "size": int(state.size[row]),
        "created_tick": int(state.created[row]),
    }


def coalition_list(sim: Simulation) -> list[dict[str, Any]]:
    """Every active coalition, ascending id."""
    state = sim.coalitions.state
    rows = np.flatnonzero(state.status == CoalitionStatus.ACTIVE)
    return [_coalition_row(sim, int(r)) for r in rows]


def coalition_detail(sim: Simulation, coalition_id: int) -> dict[str, Any]:
    """One active coalition with its members' agent ids and its objective's target."""
    state = sim.coalitions.state
    (row,) = state.rows_of(coalition_id)
    if state.status[row] != CoalitionStatus.ACTIVE:
        raise UnknownIdError(f"coalition {coalition_id} was dissolved")
    out = _coalition_row(sim, int(row))
    out["members"] = [int(sim.population.ids[i]) for i in state.members(coalition_id)]
    objective = out["objective"]
    target = None
    objectives = sim.coalitions.objectives
    if objective >= 0 and objective in set(objectives.ids.tolist()):
        (orow,) = objectives.rows_of(np.array([objective]))
        target = [float(x) for x in objectives.targets[orow]]
    out["target"] = target
    return out
