"""Agent kinds as a :class:`~freeagentics.state.State`: the model's arrays, the rules as JSON.

A checkpoint carries its kinds, so a simulation with kinds defined at run time (from
a model spec, say) is restored without them being defined again. The model goes
through :meth:`GenerativeModel.create` again, so it is validated like any other.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from freeagentics.agents._config import CohortConfig
from freeagentics.agents.drives import Drives
from freeagentics.agents.kinds import AgentKind
from freeagentics.errors import ModelError
from freeagentics.inference import EFEOptions
from freeagentics.models import GenerativeModel
from freeagentics.models._model import Labels
from freeagentics.state import CheckpointError, State

__all__ = ["kind_from_state", "kind_state"]


def kind_state(kind: AgentKind) -> State:
    """``kind`` as arrays (A, B, C, D, E, policies) and JSON (dependencies, rules, config)."""
    m = kind.model
    state = State(
        values={
            "name": kind.name,
            "observer": kind.observer,
            "target": kind.target,
            "capabilities": list(kind.capabilities),
            "config": dataclasses.asdict(kind.config),
            "drives": None if kind.drives is None else dataclasses.asdict(kind.drives),
            "A_deps": [list(d) for d in m.A_deps],
            "B_deps": [list(d) for d in m.B_deps],
            "control_factors": list(m.control_factors),
            "labels": dataclasses.asdict(m.labels),
        }
    )
    for name in ("A", "B", "C", "D"):
        state.values[f"num_{name}"] = state.put_list(name, getattr(m, name))
    state.arrays["E"] = np.asarray(m.E)
    state.arrays["policies"] = np.asarray(m.policies)
    return state


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def kind_from_state(state: State) -> AgentKind:
    """The :class:`AgentKind` of a :func:`kind_state`."""
    v = state.values
    try:
        config = dict(v["config"])
        config["efe"] = EFEOptions(**config["efe"])
        drives = v.get("drives")
        if drives is not None:
            drives = Drives(**{k: _tuples(x) for k, x in dict(drives).items()})
        model = GenerativeModel.create(
            *(state.arrays_named(name, int(v[f"num_{name}"])) for name in "ABCD"),
            state.array("E"),
            policies=state.array("policies"),
            A_deps=v["A_deps"],
            B_deps=v["B_deps"],
            control_factors=v["control_factors"],
            labels=Labels(**{k: _tuples(x) for k, x in v["labels"].items()}),
        )
        return AgentKind(
            name=v["name"],
            model=model,
            observer=v["observer"],
            target=v["target"],
            capabilities=tuple(float(c) for c in v["capabilities"]),
            config=CohortConfig(**config),
            drives=drives,
        )
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, ModelError) as exc:
        raise CheckpointError(f"checkpoint holds an invalid agent kind: {exc}") from None
