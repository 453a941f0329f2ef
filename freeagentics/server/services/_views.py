"""Plain-data views of a simulation's agents, coalitions and world, for the API to serialise.

Each function reads a :class:`~freeagentics.server.services._snapshot.Snapshot` (never
the live simulation), so none of them needs the simulation's lock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from freeagentics.coalitions import CoalitionStatus, Role
from freeagentics.errors import ConfigurationError, UnknownIdError
from freeagentics.server.services._floats import json_float, json_floats
from freeagentics.server.services._model_view import model_view
from freeagentics.server.services._snapshot import Snapshot, recent_beliefs

__all__ = ["agent_detail", "agent_page", "coalition_detail", "coalition_list", "world_view"]


def agent_page(
    snap: Snapshot,
    *,
    kind: str | None = None,
    coalition: int | None = None,
    offset: int = 0,
    limit: int = 100,
) -> dict[str, Any]:
    """Agents in id order matching ``kind`` / ``coalition`` (-1: in none), one page of them."""
    mask = np.ones(snap.ids.size, bool)
    if kind is not None:
        if kind not in snap.kind_names:
            raise ConfigurationError(
                f"unknown agent kind {kind!r}; kinds are {list(snap.kind_names)}"
            )
        mask &= snap.kinds == snap.kind_names.index(kind)
    if coalition is not None:
        mask &= snap.membership == coalition
    picked = np.flatnonzero(mask)
    page = picked[offset : offset + limit]
    energy = json_floats(snap.energy[page])
    items = [
        {
            "id": int(snap.ids[i]),
            "kind": snap.kind_names[int(snap.kinds[i])],
            "position": [int(p) for p in snap.positions[i]],
            "energy": e,
            "coalition": int(snap.membership[i]),
        }
        for i, e in zip(page, energy, strict=True)
    ]
    return {"total": int(picked.size), "offset": offset, "limit": limit, "items": items}


def _index(snap: Snapshot, agent_id: int) -> int:
    index = int(np.searchsorted(snap.ids, agent_id))
    if index >= snap.ids.size or snap.ids[index] != agent_id:
        raise UnknownIdError(f"no agent with id {agent_id}")
    return index


def agent_detail(
    snap: Snapshot, agent_id: int, history: int, live_tick: Callable[[], int]
) -> dict[str, Any]:
    """Beliefs, policy posterior, expected free energy, metrics and recent beliefs of one agent.

    Beliefs are named by the kind's model (factor and state names) and the policies by
    their controls (see :func:`~freeagentics.server.services._model_view.model_view`).
    ``live_tick`` reads the simulation's current tick (see
    :func:`~freeagentics.server.services._snapshot.recent_beliefs`).
    """
    index = _index(snap, agent_id)
    group = snap.groups[snap.kind_names[int(snap.kinds[index])]]
    row = group.row(agent_id)
    assert row is not None  # the snapshot's id table and its groups were copied together
    recent = (
        recent_beliefs(group, row, snap.tick, snap.history_len, live_tick)[-history:]
        if history
        else np.empty((0, 0), np.float32)
    )
    names = model_view(group.model)
    return {
        "id": int(agent_id),
        "kind": group.kind,
        "tick": snap.tick,
        "position": [int(p) for p in snap.positions[index]],
        "energy": json_float(snap.energy[index]),
        "coalition": int(snap.membership[index]),
        "role": Role(int(snap.role[index])).name.lower(),
        "beliefs": [
            {"factor": factor, "states": states, "p": json_floats(q[row])}
            for factor, states, q in zip(names.factors, names.states, group.qs, strict=True)
        ],
        "q_pi": json_floats(group.q_pi[row]),
        "G": json_floats(group.G[row]),
        "policies": names.policies,
        "metrics": {name: json_float(value) for name, value in group.metrics(row).items()},
        "history": [json_floats(b) for b in recent],
    }


def _coalition_row(snap: Snapshot, row: int) -> dict[str, Any]:
    table = snap.coalitions
    leader = int(table["leader"][row])
    return {
        "id": int(table["ids"][row]),
        "objective": int(table["objective"][row]),
        "leader": int(snap.ids[leader]) if leader >= 0 else None,
        "size": int(table["size"][row]),
        "created_tick": int(table["created"][row]),
    }


def coalition_list(snap: Snapshot) -> list[dict[str, Any]]:
    """Every active coalition, ascending id."""
    rows = np.flatnonzero(snap.coalitions["status"] == CoalitionStatus.ACTIVE)
    return [_coalition_row(snap, int(r)) for r in rows]


def coalition_detail(snap: Snapshot, coalition_id: int) -> dict[str, Any]:
    """One active coalition with its members' agent ids and its objective's target."""
    ids = snap.coalitions["ids"]
    row = int(np.searchsorted(ids, coalition_id))
    if row >= ids.size or ids[row] != coalition_id:
        raise UnknownIdError(f"unknown coalition id {coalition_id}")
    if snap.coalitions["status"][row] != CoalitionStatus.ACTIVE:
        raise UnknownIdError(f"coalition {coalition_id} was dissolved")
    out = _coalition_row(snap, row)
    out["members"] = [int(a) for a in snap.ids[snap.membership == coalition_id]]
    objective_ids, targets = snap.objectives
    hit = np.flatnonzero(objective_ids == out["objective"]) if out["objective"] >= 0 else []
    out["target"] = json_floats(targets[hit[0]]) if len(hit) else None
    return out


def world_view(snap: Snapshot) -> dict[str, Any]:
    """The world's static layout and the resource amounts of the snapshot's tick.

    ``cells`` is (H, W) uint8 with the observation codes of
    :class:`~freeagentics.worlds._codes.Cell` (0 empty, 1 wall, 2 goal, 5 hazard,
    ``6 + k`` a cell growing resource ``k``); ``resource_cells`` are the linear
    indices (``row * W + col``) of the resource cells and ``resource_amounts`` their
    amounts.
    """
    layout = snap.layout
    return {
        "tick": snap.tick,
        "height": layout.height,
        "width": layout.width,
        "resource_names": list(layout.resource_names),
        "cells": layout.cells,
        "resource_cells": layout.resource_cells,
        "resource_amounts": snap.resource_amounts,
    }
