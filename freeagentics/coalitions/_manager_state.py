"""A coalition manager's exact state: table, event log, objectives, schedule, generator.

The strategy and the settings (cadence, strength, sizes) come from the manager's
construction; everything they act on is here.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from freeagentics.coalitions._objectives import Objective
from freeagentics.coalitions._state import CoalitionState
from freeagentics.errors import ConfigurationError
from freeagentics.state import CheckpointError, State, rng_from_state, rng_state

if TYPE_CHECKING:
    from freeagentics.coalitions._manager import CoalitionManager

__all__ = ["load_manager_state", "manager_state"]

#: per-agent (N,) and per-coalition (J,) arrays of the table, with their dtypes
_AGENT_ARRAYS = {"membership": np.int64, "role": np.int8}
_COALITION_ARRAYS = {
    "ids": np.int64,
    "objective": np.int64,
    "leader": np.int64,
    "size": np.int64,
    "created": np.int64,
    "status": np.int8,
}
_LOG_ARRAYS = {"_tick": np.int64, "_kind": np.int8, "_agent": np.int64, "_coalition": np.int64}


def manager_state(manager: CoalitionManager) -> State:
    st, log = manager.state, manager.history
    state = State(
        values={
            "next_id": st.next_id,
            "log_total": log.total,
            "next_reform": manager._next_reform,
            "objectives": [dataclasses.asdict(o) for o in manager._objectives],
            "rng": rng_state(manager._rng),
        }
    )
    for name in (*_AGENT_ARRAYS, *_COALITION_ARRAYS):
        state.arrays[name] = getattr(st, name)
    for name in _LOG_ARRAYS:
        state.arrays[f"log{name}"] = getattr(log, name)
    state.arrays["leader_score"] = manager._leader_score
    state.arrays["biases"] = manager.objective_bias
    return state


def load_manager_state(manager: CoalitionManager, state: State) -> None:
    table = CoalitionState(0)
    for name, dtype in {**_AGENT_ARRAYS, **_COALITION_ARRAYS}.items():
        setattr(table, name, state.array(name, dtype, 1))
    n, j = table.membership.size, table.ids.size
    if table.role.size != n or any(getattr(table, k).size != j for k in _COALITION_ARRAYS):
        raise CheckpointError("coalition table arrays disagree in length")
    table.next_id = state.value("next_id", int)
    logs = {name: state.array(f"log{name}", dtype, 1) for name, dtype in _LOG_ARRAYS.items()}
    if any(a.size != manager.history.capacity for a in logs.values()):
        raise CheckpointError("coalition event log does not match coalitions.history")
    leader_score = state.array("leader_score", np.float64, 1)
    biases = state.array("biases", np.float64, 2)
    try:
        objectives = [Objective(**_objective(o)) for o in state.value("objectives", list)]
    except (TypeError, ConfigurationError) as exc:
        raise CheckpointError(f"checkpoint holds an invalid objective: {exc}") from None
    if leader_score.size != n or biases.shape != (len(objectives), manager.num_outcomes):
        raise CheckpointError("coalition scores or objective biases do not fit")
    next_reform = state.value("next_reform", (int, type(None)))
    manager._state = table
    for name, array in logs.items():
        setattr(manager.history, name, array)
    manager.history.total = state.value("log_total", int)
    manager._leader_score = leader_score
    manager._objectives = objectives
    manager._biases = list(biases)
    manager._objective_set = None
    manager._next_reform = next_reform
    manager._rng = rng_from_state(state.value("rng", dict))


def _objective(values: dict) -> dict:
    out = dict(values)
    out["target"] = tuple(out["target"])
    out["required"] = tuple(out["required"])
    return out
