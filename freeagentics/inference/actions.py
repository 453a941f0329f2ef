"""Action selection from the posterior over policies.

``"marginal"`` sampling sums ``q_pi`` over policies that share an action per factor
(at a given step of the plan) and picks from those marginals; ``"full"`` picks one
policy and takes its action. ``"deterministic"`` takes the most probable (the first
one on ties, as ``numpy.argmax``); ``"stochastic"`` samples from
``softmax(alpha * ln p)`` with an explicit ``numpy.random.Generator``.
"""

from __future__ import annotations

import numpy as np

from freeagentics.errors import ConfigurationError
from freeagentics.inference._maths import log_stable, softmax

__all__ = ["action_marginals", "action_probabilities", "sample_categorical", "select_actions"]

SELECTION_MODES = ("deterministic", "stochastic")
SAMPLING_MODES = ("marginal", "full")


def action_marginals(
    q_pi: np.ndarray, policies: np.ndarray, num_controls: tuple[int, ...], step: int = 0
) -> list[np.ndarray]:
    """Probability of each control per factor at plan step ``step``.

    Args:
        q_pi: ``(N, P)``.
        policies: ``(P, T, F)``.

    Returns:
        per factor ``(N, U_f)``, each row normalised.
    """
    out = []
    for f, u in enumerate(num_controls):
        one_hot = np.zeros((policies.shape[0], u), dtype=q_pi.dtype)
        one_hot[np.arange(policies.shape[0]), policies[:, step, f]] = 1
        marginal = q_pi @ one_hot
        marginal /= marginal.sum(-1, keepdims=True)
        out.append(marginal)
    return out


def sample_categorical(p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw per row of ``p`` (``(N, K)``, rows summing to one) → ``(N,)`` int64."""
    u = rng.random(p.shape[0])
    cdf = np.cumsum(p, axis=-1)
    draws = (cdf < (u * cdf[:, -1])[:, None]).sum(-1)
    return np.minimum(draws, p.shape[-1] - 1).astype(np.int64)


def action_probabilities(
    q_pi: np.ndarray,
    policies: np.ndarray,
    num_controls: tuple[int, ...],
    *,
    sampling: str = "marginal",
    alpha: float = 16.0,
    step: int = 0,
) -> list[np.ndarray]:
    """The distribution stochastic selection draws from.

    Returns:
        ``"marginal"``: per factor ``(N, U_f)`` = ``softmax(alpha * ln marginal)``;
        ``"full"``: a one-element list holding ``(N, P)`` = ``softmax(alpha * ln q_pi)``.
    """
    if sampling == "full":
        return [softmax(alpha * log_stable(q_pi))]
    return [
        softmax(alpha * log_stable(m)) for m in action_marginals(q_pi, policies, num_controls, step)
    ]


def select_actions(
    q_pi: np.ndarray,
    policies: np.ndarray,
    num_controls: tuple[int, ...],
    *,
    selection: str = "deterministic",
    sampling: str = "marginal",
    alpha: float = 16.0,
    rng: np.random.Generator | None = None,
    step: int = 0,
    tie_tolerance: float = 0.0,
) -> np.ndarray:
    """Choose one control per factor for every agent.

    Args:
        q_pi: ``(N, P)``; policies: ``(P, T, F)``.
        step: which step of the plan the action is for (0 right after planning).
        tie_tolerance: deterministic selection takes the lowest-numbered choice whose
            probability is within this of the largest (0: ``argmax``, pymdp's rule).
            Above rounding noise, it makes a choice between equally good options
            independent of the order in which the probabilities were summed.

    Returns:
        ``(N, F)`` int64.
    """
    if selection not in SELECTION_MODES:
        raise ConfigurationError(
            f"action selection must be one of {SELECTION_MODES}, got {selection!r}"
        )
    if sampling not in SAMPLING_MODES:
        raise ConfigurationError(f"sampling mode must be one of {SAMPLING_MODES}, got {sampling!r}")
    if selection == "stochastic" and rng is None:
        raise ConfigurationError("stochastic action selection needs a numpy.random.Generator (rng)")
    if sampling == "full":
        if selection == "deterministic":
            chosen = _first_best(q_pi, tie_tolerance)
        else:
            probs = action_probabilities(q_pi, policies, num_controls, sampling="full", alpha=alpha)
            chosen = sample_categorical(probs[0], rng)
        return policies[chosen, step, :].astype(np.int64)
    if selection == "deterministic":
        marginals = action_marginals(q_pi, policies, num_controls, step)
        return np.stack([_first_best(m, tie_tolerance) for m in marginals], axis=1).astype(np.int64)
    probs = action_probabilities(q_pi, policies, num_controls, alpha=alpha, step=step)
    return np.stack([sample_categorical(p, rng) for p in probs], axis=1)


def _first_best(p: np.ndarray, tolerance: float) -> np.ndarray:
    """Per row of ``(N, K)``: the first column within ``tolerance`` of the row's maximum."""
    if tolerance == 0:
        return np.argmax(p, axis=-1)
    return np.argmax(p >= p.max(axis=-1, keepdims=True) - tolerance, axis=-1)
