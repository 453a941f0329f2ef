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

__all__ = ["action_marginals", "sample_categorical", "select_actions"]

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
) -> np.ndarray:
    """Choose one control per factor for every agent.

    Args:
        q_pi: ``(N, P)``; policies: ``(P, T, F)``.
        step: which step of the plan the action is for (0 right after planning).

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
            chosen = np.argmax(q_pi, axis=-1)
        else:
            chosen = sample_categorical(softmax(alpha * log_stable(q_pi)), rng)
        return policies[chosen, step, :].astype(np.int64)
    marginals = action_marginals(q_pi, policies, num_controls, step)
    actions = np.empty((q_pi.shape[0], len(num_controls)), dtype=np.int64)
    for f, marginal in enumerate(marginals):
        if selection == "deterministic":
            actions[:, f] = np.argmax(marginal, axis=-1)
        else:
            actions[:, f] = sample_categorical(softmax(alpha * log_stable(marginal)), rng)
    return actions
