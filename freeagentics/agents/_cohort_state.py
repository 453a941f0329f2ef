"""A cohort's exact state as a :class:`~freeagentics.state.State`.

Per-agent arrays are listed by attribute name: :data:`ROW_ARRAYS` are single arrays,
:data:`ROW_ARRAY_LISTS` lists of arrays (one per factor or modality) that may be
``None``. A new piece of per-agent state is checkpointed by naming it here; what is
derived (normalised A/B of learning agents, preference scores, engine buffers) is
rebuilt from these on load.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from freeagentics.state import CheckpointError, State, rng_from_state, rng_state

if TYPE_CHECKING:
    from freeagentics.agents.cohort import Cohort

__all__ = ["ROW_ARRAYS", "ROW_ARRAY_LISTS", "cohort_state", "load_cohort_state"]

#: ``(N, ...)`` arrays, one per cohort
ROW_ARRAYS = ("actions", "q_pi", "G", "free_energy")
#: lists of ``(N, ...)`` arrays; ``None`` when the cohort does not use them
ROW_ARRAY_LISTS = ("qs", "C_agents", "pA", "pB")


def cohort_state(cohort: Cohort) -> State:
    """Everything of ``cohort`` that evolves: beliefs, plans, learned parameters, generator."""
    state = State(
        values={
            "n": cohort.n,
            "since_plan": cohort._since_plan,
            "planned": cohort._planned,
            "rng": rng_state(cohort.rng),
            "lists": {},
        }
    )
    for name in ROW_ARRAYS:
        state.arrays[name] = np.asarray(getattr(cohort, name))
    for name in ROW_ARRAY_LISTS:
        value = getattr(cohort, name)
        state.values["lists"][name] = None if value is None else state.put_list(name, value)
    return state


def load_cohort_state(cohort: Cohort, state: State) -> None:
    """Replace ``cohort``'s state with ``state`` (from a cohort of the same model and config)."""
    n = state.value("n", int)
    lists = state.value("lists", dict)
    loaded = {name: state.array(name) for name in ROW_ARRAYS}
    loaded_lists = {}
    for name in ROW_ARRAY_LISTS:
        count = lists.get(name)
        loaded_lists[name] = None if count is None else state.arrays_named(name, int(count))
    for name, value in (
        *loaded.items(),
        *(
            (f"{k}[{i}]", a)
            for k, v in loaded_lists.items()
            if v is not None
            for i, a in enumerate(v)
        ),
    ):
        if value.ndim == 0 or value.shape[0] != n:
            raise CheckpointError(f"cohort array {name} does not have {n} rows")
    if len(loaded_lists["qs"]) != cohort.model.num_factors:
        raise CheckpointError("cohort beliefs do not match the model's factors")
    for name, value in loaded.items():
        setattr(cohort, name, value)
    for name, value in loaded_lists.items():
        setattr(cohort, name, value)
    cohort.n = n
    cohort._since_plan = state.value("since_plan", int)
    cohort._planned = state.value("planned", bool)
    cohort.rng = rng_from_state(state.value("rng", dict))
    cohort.qs_before = None  # set again by the next perception, before it is read
    cohort.parameters_changed()
    if cohort.C_agents is not None:
        cohort._refresh_scores()
    else:
        cohort._scores_cache = None
