"""State inference: the posterior over hidden states given one observation per agent.

One factor: a single exact step, ``qs = softmax(ln p(o|s) + ln prior)``.
Several factors: mean-field fixed-point iteration in which every factor is updated
from the same previous beliefs, stopping per agent after ``num_iter`` sweeps or when
the variational free energy changes by less than ``tolerance`` (pymdp's defaults:
10 and 0.001). Agents that have converged keep their beliefs while others iterate,
so a batched call gives exactly what calls agent by agent give.
"""

from __future__ import annotations

import numpy as np

from freeagentics.inference._maths import contract, log_stable, softmax

__all__ = [
    "empirical_prior",
    "infer_states",
    "joint_log_likelihood",
    "variational_free_energy",
]


def joint_log_likelihood(
    A: tuple[np.ndarray, ...],
    A_deps: tuple[tuple[int, ...], ...],
    num_states: tuple[int, ...],
    obs: np.ndarray,
    A_batched: bool = False,
) -> np.ndarray:
    """``ln prod_m p(o_m | s)`` over the joint hidden state, per agent.

    Args:
        A: per modality ``(O_m, *S[A_deps[m]])``, or ``(N, O_m, ...)`` when ``A_batched``.
        obs: ``(N, M)`` int outcome index per agent and modality.

    Returns:
        ``(N, S_0, ..., S_{F-1})``.
    """
    n = obs.shape[0]
    dtype = A[0].dtype
    joint = np.ones((n, *num_states), dtype=dtype)
    agents = np.arange(n)
    for m, (a, deps) in enumerate(zip(A, A_deps, strict=True)):
        rows = a[agents, obs[:, m]] if A_batched else a[obs[:, m]]  # (N, *S[deps])
        # lay the dependency axes out in factor order, with size-1 axes elsewhere
        order = np.argsort(deps)
        rows = np.transpose(rows, (0, *(1 + order)))
        shape = [n] + [num_states[f] if f in deps else 1 for f in range(len(num_states))]
        joint *= rows.reshape(shape)
    return log_stable(joint)


def variational_free_energy(
    qs: list[np.ndarray], log_prior: list[np.ndarray], log_lik: np.ndarray | None
) -> np.ndarray:
    """``F = sum_f E_q[ln q_f - ln prior_f] - E_q[ln p(o|s)]`` per agent.

    Args:
        qs, log_prior: per factor ``(N, S_f)``.
        log_lik: ``(N, *S)`` or None to leave out the accuracy term.

    Returns:
        ``(N,)``.
    """
    free_energy = sum(
        (q * (log_stable(q) - lp)).sum(-1) for q, lp in zip(qs, log_prior, strict=True)
    )
    if log_lik is not None:
        free_energy = free_energy - _expect_joint(log_lik, qs)
    return free_energy


def _expect_joint(joint: np.ndarray, qs: list[np.ndarray]) -> np.ndarray:
    """``sum_s joint[n, s] * prod_f qs_f[n, s_f]`` → ``(N,)``."""
    f_axes = list(range(1, len(qs) + 1))
    operands: list = [joint, [0, *f_axes]]
    for f, q in enumerate(qs):
        operands += [q, [0, f + 1]]
    return np.einsum(*operands, [0], optimize=len(qs) > 1)


def infer_states(
    log_lik: np.ndarray,
    prior: list[np.ndarray],
    num_iter: int = 10,
    tolerance: float = 0.001,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Posterior over each hidden-state factor.

    Args:
        log_lik: ``(N, S_0, ..., S_{F-1})`` from :func:`joint_log_likelihood`.
        prior: per factor ``(N, S_f)`` (or ``(S_f,)``, shared by all agents).

    Returns:
        ``(qs, F)``: per factor ``(N, S_f)`` posteriors and ``(N,)`` variational free
        energy at the returned posteriors.
    """
    n = log_lik.shape[0]
    num_states = log_lik.shape[1:]
    log_prior = [
        np.broadcast_to(log_stable(p), (n, s)) for p, s in zip(prior, num_states, strict=True)
    ]
    if len(num_states) == 1:
        qs = [softmax(log_lik + log_prior[0])]
        return qs, variational_free_energy(qs, log_prior, log_lik)

    dtype = log_lik.dtype
    qs = [np.full((n, s), 1.0 / s, dtype=dtype) for s in num_states]
    previous = variational_free_energy(qs, log_prior, None)
    change = np.full(n, np.inf, dtype=dtype)
    free_energy = previous
    for _ in range(num_iter):
        active = change >= tolerance
        if not active.any():
            break
        updated = [softmax(_message(log_lik, qs, f) + log_prior[f]) for f in range(len(num_states))]
        free_energy = variational_free_energy(updated, log_prior, log_lik)
        for f in range(len(num_states)):
            qs[f] = np.where(active[:, None], updated[f], qs[f])
        change = np.where(active, np.abs(previous - free_energy), change)
        previous = np.where(active, free_energy, previous)
    return qs, previous


def _message(log_lik: np.ndarray, qs: list[np.ndarray], factor: int) -> np.ndarray:
    """Expected log-likelihood of factor ``factor``'s states under the other factors."""
    f_axes = list(range(1, len(qs) + 1))
    operands: list = [log_lik, [0, *f_axes]]
    for f, q in enumerate(qs):
        if f != factor:
            operands += [q, [0, f + 1]]
    return np.einsum(*operands, [0, factor + 1], optimize=len(qs) > 2)


def empirical_prior(
    qs: list[np.ndarray],
    B: tuple[np.ndarray, ...],
    B_deps: tuple[tuple[int, ...], ...],
    actions: np.ndarray,
    B_batched: bool = False,
) -> list[np.ndarray]:
    """Predicted state for the next step: ``B_f[..., a_f]`` applied to the current beliefs.

    Args:
        qs: per factor ``(N, S_f)``.
        B: per factor ``(S_f, *S[B_deps[f]], U_f)``, or ``(N, ...)`` when ``B_batched``.
        actions: ``(N, F)`` int, the control each agent just took per factor.

    Returns:
        per factor ``(N, S_f)``.
    """
    n = actions.shape[0]
    out = []
    for f, (b, deps) in enumerate(zip(B, B_deps, strict=True)):
        act = actions[:, f]
        if B_batched:
            selected = b[np.arange(n), ..., act]  # (N, S_f, *S[deps])
            out.append(contract(selected, True, deps, qs))
            continue
        prior = np.empty((n, b.shape[0]), dtype=qs[f].dtype)
        # group agents by action: a handful of shared-matrix products instead of N gathers
        for u in np.unique(act):
            rows = act == u
            prior[rows] = contract(b[..., u], False, deps, [q[rows] for q in qs])
        out.append(prior)
    return out
