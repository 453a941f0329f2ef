"""A kind's model as the agent view names it: factor and state names, policies by controls.

Built once per model (models are immutable and shared by every agent of a kind) and
kept while the model lives (a weak-keyed cache: a deleted simulation's models, which
may be large, are not held), so an agent view pays only for its own numbers.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Any

from freeagentics.models import GenerativeModel, model_names

__all__ = ["MAX_POLICY_LABELS", "ModelView", "model_view"]

#: most control labels the policy description holds: a model with more policies has
#: only their first steps named (or none), so big models do not make big responses
MAX_POLICY_LABELS = 65_536


@dataclass(frozen=True)
class ModelView:
    """Names of a model for the agent view.

    ``factors`` (F,) and ``states`` (F, S_f) name the hidden-state factors and their
    states; ``policies`` describes the policies in ``q_pi`` / ``G`` order (the
    ``PolicyLabels`` shape of the API: ``factors``, ``horizon``, ``steps``, ``plans``).
    """

    factors: list[str]
    states: list[list[str]]
    policies: dict[str, Any]


def named_steps(num_policies: int, horizon: int, controlled: int) -> int:
    """How many steps of each policy fit in :data:`MAX_POLICY_LABELS` labels: all, 1 or 0."""
    per_step = num_policies * max(controlled, 1)
    if per_step * horizon <= MAX_POLICY_LABELS:
        return horizon
    return 1 if per_step <= MAX_POLICY_LABELS else 0


_views: weakref.WeakKeyDictionary[GenerativeModel, ModelView] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def model_view(model: GenerativeModel) -> ModelView:
    """The names of ``model``, built on first use and kept while ``model`` lives.

    The lists are shared by every caller: read them, never change them.
    """
    with _lock:
        view = _views.get(model)
    if view is None:
        view = _build(model)
        with _lock:
            _views[model] = view
    return view


def _build(model: GenerativeModel) -> ModelView:
    names = model_names(model)
    controlled = model.control_factors
    steps = named_steps(model.num_policies, model.policy_len, len(controlled))
    labels = [names.controls[f] for f in controlled]
    plans = (
        [
            [[labels[j][u] for j, u in enumerate(step)] for step in policy]
            for policy in model.policies[:, :steps, list(controlled)].tolist()
        ]
        if steps
        else []
    )
    return ModelView(
        factors=list(names.factors),
        states=[list(s) for s in names.states],
        policies={
            "factors": [names.factors[f] for f in controlled],
            "horizon": model.policy_len,
            "steps": steps,
            "plans": plans,
        },
    )
