"""Coalition objectives turned into per-agent log-preference vectors."""

from __future__ import annotations

import math

import numpy as np

from freeagentics.errors import ConfigurationError

__all__ = ["apply_objective_preferences"]


def apply_objective_preferences(
    C_base: np.ndarray,
    membership: np.ndarray,
    objective_of_coalition: np.ndarray,
    objective_bias: np.ndarray,
    strength: float,
) -> np.ndarray:
    """Per-agent log-preferences with each member biased towards its coalition's objective.

    ``out[i] = C_base[i] + strength * objective_bias[objective_of_coalition[membership[i]]]``
    for members of a coalition that has an objective; every other row is ``C_base[i]``
    unchanged. The result is not renormalised: ``C`` is a log-preference, so a constant
    shift does not change the softmax the engine takes of it. Pure: inputs are not modified.

    Args:
        C_base: ``(O,)`` shared log-preferences or ``(N, O)`` one row per agent.
        membership: ``(N,)`` integer coalition *row* per agent in ``[0, J)``, ``-1`` = none.
        objective_of_coalition: ``(J,)`` integer objective row per coalition in
            ``[0, n_objectives)``, ``-1`` = coalition without objective (no bias).
        objective_bias: ``(n_objectives, O)`` additive log-preference bias per objective.
        strength: finite scale of the bias.

    Returns:
        ``(N, O)`` float64, a new array.
    """
    membership = np.asarray(membership)
    objective_of_coalition = np.asarray(objective_of_coalition)
    bias = np.asarray(objective_bias, dtype=np.float64)
    base = np.asarray(C_base, dtype=np.float64)
    if membership.ndim != 1 or not np.issubdtype(membership.dtype, np.integer):
        raise ConfigurationError(
            f"membership must be a 1-D integer array (N,), got shape {membership.shape} "
            f"dtype {membership.dtype}"
        )
    n = membership.shape[0]
    if objective_of_coalition.ndim != 1 or not (
        objective_of_coalition.size == 0 or np.issubdtype(objective_of_coalition.dtype, np.integer)
    ):
        raise ConfigurationError(
            "objective_of_coalition must be a 1-D integer array (J,), got shape "
            f"{objective_of_coalition.shape} dtype {objective_of_coalition.dtype}"
        )
    if bias.ndim != 2:
        raise ConfigurationError(
            f"objective_bias must have shape (n_objectives, O), got {bias.shape}"
        )
    num_outcomes = bias.shape[1]
    if base.shape not in ((num_outcomes,), (n, num_outcomes)):
        raise ConfigurationError(
            f"C_base must have shape ({num_outcomes},) or ({n}, {num_outcomes}), got {base.shape}"
        )
    if not math.isfinite(float(strength)):
        raise ConfigurationError(f"strength must be a finite float, got {strength!r}")
    num_coalitions = objective_of_coalition.shape[0]
    if n and (membership.min() < -1 or membership.max() >= num_coalitions):
        raise ConfigurationError(
            f"membership entries must lie in [-1, {num_coalitions}) (J={num_coalitions})"
        )
    if num_coalitions and (
        objective_of_coalition.min() < -1 or objective_of_coalition.max() >= bias.shape[0]
    ):
        raise ConfigurationError(
            f"objective_of_coalition entries must lie in [-1, {bias.shape[0]}) "
            f"(n_objectives={bias.shape[0]})"
        )

    out = np.array(np.broadcast_to(base, (n, num_outcomes)), dtype=np.float64)
    members = np.flatnonzero(membership >= 0)
    objective = objective_of_coalition[membership[members]]
    biased = objective >= 0
    out[members[biased]] += float(strength) * bias[objective[biased]]
    return out
