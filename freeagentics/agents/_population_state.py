"""A population's exact state: per kind its agents' ids, slots, belief history, visit
memory (kinds with drives) and cohort."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from freeagentics.state import CheckpointError, State

if TYPE_CHECKING:
    from freeagentics.agents.population import Population

__all__ = ["load_population_state", "population_state"]


def population_state(population: Population, rows: dict | None = None) -> State:
    """Kind names, the next id, and per group (``group.<code>``) its rows and cohort.

    ``rows``: per group code, ``(cohort state, history, visits)`` to write instead of the
    group's own (rows held elsewhere, e.g. by shards).
    """
    state = State(
        values={"kind_names": list(population.kind_names), "next_id": population._next_id}
    )
    for g in population.groups:
        cohort, history, visits = (
            rows[g.code]
            if rows is not None and g.code in rows
            else (g.cohort.export_state(), g.history, g.visits)
        )
        group = State({"ids": g.ids, "slots": g.slots, "history": history, "visits": visits})
        group.put("cohort", cohort)
        state.put(f"group.{g.code}", group)
    return state


def load_population_state(population: Population, state: State) -> None:
    """Replace ``population``'s agents with those of ``state`` (same kinds, same order)."""
    if state.value("kind_names", list) != list(population.kind_names):
        raise CheckpointError(
            f"checkpoint kinds {state.values.get('kind_names')} are not "
            f"{list(population.kind_names)}"
        )
    loaded = []
    for g in population.groups:
        group = state.part(f"group.{g.code}")
        ids = group.array("ids", np.int64, 1)
        slots = group.array("slots", np.int64, 1)
        history = group.array("history", np.uint16, 3)
        visits = group.array("visits", np.uint8, 3)
        if (
            slots.shape != ids.shape
            or history.shape[:1] != ids.shape
            or visits.shape[:1] != ids.shape
        ):
            raise CheckpointError(
                f"group {g.code}: ids, slots, history and visits disagree in length"
            )
        if history.shape[1:] != g.history.shape[1:]:
            raise CheckpointError(f"group {g.code}: belief history has shape {history.shape}")
        if visits.shape[1:] != g.visits.shape[1:]:
            raise CheckpointError(f"group {g.code}: visit memory has shape {visits.shape}")
        if ids.size > 1 and np.any(np.diff(ids) <= 0):
            raise CheckpointError(f"group {g.code}: agent ids are not ascending")
        cohort = group.part("cohort")
        if cohort.value("n", int) != ids.size:
            raise CheckpointError(f"group {g.code}: its cohort does not hold {ids.size} agents")
        loaded.append((g, ids, slots, history, visits, cohort))
    for g, ids, slots, history, visits, cohort in loaded:
        g.cohort.import_state(cohort)
        g.ids, g.slots, g.history, g.visits = ids, slots, history, visits
    population._next_id = state.value("next_id", int)
    population._ordered = {}
