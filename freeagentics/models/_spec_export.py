"""A model written back as a named specification: the inverse of :func:`compile_spec`.

Names come from the model's :class:`Labels`; where a label set is missing, of the
wrong length or not unique, names are generated (``f0``, ``s0``, ``m0``, ``o0``,
``u0``, …). Tables are written as nested mappings with zero entries left out and
shorthands (``"identity"``, ``"uniform"``) where they reproduce the array exactly, so
``compile_spec(spec_to_dict(model))`` gives bit-identical arrays.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from freeagentics.errors import SpecError
from freeagentics.models._model import GenerativeModel
from freeagentics.models._names import model_names
from freeagentics.models._policies import enumerate_policies
from freeagentics.models._spec_tables import identity_matrix

__all__ = ["spec_to_dict"]


def spec_to_dict(model: GenerativeModel) -> dict[str, Any]:
    """The named specification of ``model`` (plain dicts, lists, strings and floats).

    Raises :class:`SpecError` for a model whose ``control_factors`` leave out a factor
    with several controls: a specification derives controllability from the controls.
    """
    F = model.num_factors
    names = model_names(model)
    factor_names, states, modality_names, outcomes = (
        names.factors,
        names.states,
        names.modalities,
        names.outcomes,
    )
    # an unnamed single control (an uncontrolled factor) is written without controls
    given = model.labels.controls
    controls = [
        () if u == 1 and (f >= len(given) or not given[f]) else names.controls[f]
        for f, u in enumerate(model.num_controls)
    ]

    derived = tuple(f for f, u in enumerate(model.num_controls) if u > 1)
    hidden = [factor_names[f] for f in derived if f not in model.control_factors]
    if hidden:
        raise SpecError(
            f"factor(s) {hidden} have several controls but are not controllable; a "
            "specification makes every factor with more than one control controllable",
            path="control_factors",
        )

    factors = []
    for f in range(F):
        entry: dict[str, Any] = {"name": factor_names[f], "states": list(states[f])}
        if controls[f]:
            entry["controls"] = list(controls[f])
        entry["initial"] = _initial(model.D[f], states[f])
        entry["transitions"] = _transitions(model, f, factor_names, states, controls[f])
        factors.append(entry)

    modalities = []
    for m in range(model.num_modalities):
        deps = model.A_deps[m]
        entry = {"name": modality_names[m], "outcomes": list(outcomes[m])}
        if deps != tuple(range(F)):
            entry["depends_on"] = [factor_names[f] for f in deps]
        entry.update(_likelihood(model.A[m], outcomes[m], [states[f] for f in deps]))
        prefs = {o: float(c) for o, c in zip(outcomes[m], model.C[m], strict=True) if c != 0}
        if prefs:
            entry["preferences"] = prefs
        modalities.append(entry)

    spec: dict[str, Any] = {
        "factors": factors,
        "modalities": modalities,
        "policy_len": model.policy_len,
    }
    default = enumerate_policies(model.num_controls, model.policy_len, derived)
    if not np.array_equal(model.policies, default):
        spec["policies"] = [
            [{factor_names[f]: controls[f][int(step[f])] for f in derived} for step in policy]
            for policy in model.policies
        ]
    uniform = np.full(model.num_policies, 1.0 / model.num_policies)
    if not np.array_equal(model.E, uniform):
        spec["habits"] = {str(p): float(e) for p, e in enumerate(model.E)}
    return spec


def _initial(D: np.ndarray, names: Sequence[str]) -> str | dict[str, float]:
    if np.array_equal(D, np.full(D.shape, 1.0 / D.size)):
        return "uniform"
    return {n: float(p) for n, p in zip(names, D, strict=True) if p != 0}


def _leaf(column: np.ndarray, rows: Sequence[str]) -> dict[str, float]:
    return {r: float(p) for r, p in zip(rows, column, strict=True) if p != 0}


def _nested(table: np.ndarray, rows: Sequence[str], axes: Sequence[Sequence[str]]) -> dict:
    """``table``: ``(R, *axis sizes)`` as ``{label: {label: ... {row: p}}}``."""
    out: dict = {}
    for index in itertools.product(*(range(len(a)) for a in axes)):
        node = out
        for axis, i in zip(axes[:-1], index[:-1], strict=True):
            node = node.setdefault(axis[i], {})
        node[axes[-1][index[-1]]] = _leaf(table[(slice(None), *index)], rows)
    return out


def _likelihood(A: np.ndarray, outcomes: Sequence[str], axes: list[Sequence[str]]) -> dict:
    if np.array_equal(A, np.full(A.shape, 1.0 / A.shape[0])):
        return {"likelihood": "uniform"}
    if A.ndim == 2 and A.shape[0] == A.shape[1]:
        noise = 0.0 if A.shape[0] == 1 else float(1.0 - A[0, 0])
        # the typed-in noise (0.1) rather than what the diagonal gives back (0.0999...98)
        for candidate in (float(f"{noise:.12g}"), noise):
            if np.array_equal(A, identity_matrix(A.shape[0], candidate)):
                return {"likelihood": "identity", **({"noise": candidate} if candidate else {})}
    return {"likelihood": _nested(A, outcomes, axes)}


def _transitions(
    model: GenerativeModel,
    f: int,
    factor_names: Sequence[str],
    states: Sequence[Sequence[str]],
    controls: Sequence[str],
) -> str | dict:
    B = model.B[f]
    deps = model.B_deps[f]
    S, U = B.shape[0], B.shape[-1]
    if deps == (f,):
        if np.array_equal(B, np.repeat(np.eye(S)[:, :, None], U, axis=2)):
            return "identity"
        if np.array_equal(B, np.full(B.shape, 1.0 / S)):
            return "uniform"
    out: dict[str, Any] = {}
    if deps != (f,):
        out["depends_on"] = [factor_names[g] for g in deps]
    axes = [states[g] for g in deps]
    if controls:  # nested by control first: move the control axis next to the rows
        out["table"] = _nested(np.moveaxis(B, -1, 1), states[f], [controls, *axes])
    else:
        out["table"] = _nested(B[..., 0], states[f], axes)
    return out
