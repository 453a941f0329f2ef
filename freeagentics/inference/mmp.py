"""Marginal message passing: beliefs over a window of past and future steps, per policy.

The scheme of SPM's ``spm_MDP_VB_X`` as pymdp 0.0.7.1's ``run_mmp`` implements it
(gradient descent on the free energy, ``tau`` the step size), for ONE agent and every
policy at once: the leading axis of every belief is the policy, ``P``.

For each iteration, each step ``t`` of the window and each factor ``f`` in order, the
belief ``q_t,f`` moves along the prediction error built from

* the likelihood message ``ln E_{q_t, other factors}[p(o_t | s)]`` for observed steps,
* the past message ``ln B_f[a_{t-1}] q_{t-1,f}`` (the prior at ``t = 0``),
* the future message ``ln normalised(B_f[a_t]^T) q_{t+1,f}`` (none for the last two
  steps, as in pymdp),

and the free energy of each policy accumulates along the way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from freeagentics.inference._maths import EPS, log_stable, softmax

__all__ = ["MMPResult", "marginal_message_passing"]


@dataclass
class MMPResult:
    """Output of :func:`marginal_message_passing`.

    ``qs[t][f]``: ``(P, S_f)`` for each step of the window; ``free_energy``: ``(P,)``.
    With ``record``: ``beliefs[f]`` and ``errors[f]`` ``(num_iter, P, S_f, T)``, the
    belief after each update and its centred prediction error, per iteration.
    """

    qs: list[list[np.ndarray]]
    free_energy: np.ndarray
    beliefs: list[np.ndarray] | None = None
    errors: list[np.ndarray] | None = None


def _likelihood_message(lik: np.ndarray, qs_t: list[np.ndarray], factor: int) -> np.ndarray:
    """``E[lik]`` over every factor but ``factor`` under per-policy beliefs → ``(P, S_f)``."""
    n_f = lik.ndim
    operands: list = [lik, list(range(1, n_f + 1))]
    for g, q in enumerate(qs_t):
        if g != factor:
            operands += [q, [0, g + 1]]
    if len(operands) == 2:  # one factor: the likelihood itself, for every policy
        return np.broadcast_to(lik, (qs_t[0].shape[0], lik.shape[0]))
    return np.einsum(*operands, [0, factor + 1])


def marginal_message_passing(
    lik_seq: list[np.ndarray],
    B: list[np.ndarray],
    actions: np.ndarray,
    prior: list[np.ndarray],
    plan_len: int,
    *,
    num_iter: int = 10,
    tau: float = 0.25,
    record: bool = False,
) -> MMPResult:
    """Posterior beliefs over the window ``len(lik_seq) + plan_len`` under each policy.

    Args:
        lik_seq: per observed step, the joint likelihood ``p(o_t | s)`` ``(S_0, ..., S_{F-1})``
            (not its logarithm).
        B: per factor ``(S_f, S_f, U_f)``.
        actions: ``(P, L, F)`` int, each policy's controls from the first step of the
            window on (past actions, then the plan); step ``t`` reads row ``t - 1``
            (past message) and ``t`` (future message).
        prior: per factor ``(S_f,)`` shared, or ``(P, S_f)`` per policy, the belief
            before the window's first step.
        plan_len: future steps in the window.

    Returns:
        :class:`MMPResult`.
    """
    past_len = len(lik_seq)
    num_policies = actions.shape[0]
    num_factors = len(B)
    num_states = [b.shape[0] for b in B]
    infer_len = past_len + plan_len
    future_cutoff = past_len + plan_len - 2

    backward = [(np.swapaxes(b, 0, 1) + EPS) for b in B]
    backward = [b / b.sum(axis=0) for b in backward]
    # per step and factor, each policy's transition matrix: (P, S_f, S_f)
    forward_at = {}
    backward_at = {}
    for t in range(infer_len):
        for f in range(num_factors):
            if t > 0:
                forward_at[t, f] = np.moveaxis(B[f][:, :, actions[:, t - 1, f]], -1, 0)
            if t < future_cutoff:
                backward_at[t, f] = np.moveaxis(backward[f][:, :, actions[:, t, f]], -1, 0)
    log_prior = [
        np.broadcast_to(log_stable(np.asarray(p)), (num_policies, s))
        for p, s in zip(prior, num_states, strict=True)
    ]

    qs = [[np.full((num_policies, s), 1.0 / s) for s in num_states] for _ in range(infer_len)]
    beliefs = (
        [np.zeros((num_iter, num_policies, s, infer_len)) for s in num_states] if record else None
    )
    errors = (
        [np.zeros((num_iter, num_policies, s, infer_len)) for s in num_states] if record else None
    )
    free_energy = np.zeros(num_policies)
    for itr in range(num_iter):
        free_energy = np.zeros(num_policies)
        for t in range(infer_len):
            for f in range(num_factors):
                if t < past_len:
                    ln_a = log_stable(_likelihood_message(lik_seq[t], qs[t], f))
                else:
                    ln_a = np.zeros((num_policies, num_states[f]))
                if t == 0:
                    ln_past = log_prior[f]
                else:
                    ln_past = log_stable(np.einsum("psr,pr->ps", forward_at[t, f], qs[t - 1][f]))
                if t >= future_cutoff:
                    ln_future = 0.0
                else:
                    ln_future = log_stable(np.einsum("psr,pr->ps", backward_at[t, f], qs[t + 1][f]))
                sx = qs[t][f]
                ln_q = log_stable(sx)
                coeff = 1 if t >= future_cutoff else 2
                err = (coeff * ln_a + ln_past + ln_future) - coeff * ln_q
                centred = err - err.mean(axis=-1, keepdims=True)
                qs[t][f] = softmax(ln_q + tau * centred, axis=-1)
                if t == 0 or t == infer_len - 1:
                    free_energy = free_energy + (sx * (0.5 * err)).sum(-1)
                else:
                    # SPM's correction for counting the likelihood once per factor
                    corrected = err - (num_factors - 1) * ln_a / num_factors
                    free_energy = free_energy + (sx * (0.5 * corrected)).sum(-1)
                if record:
                    beliefs[f][itr, :, :, t] = qs[t][f]
                    errors[f][itr, :, :, t] = centred
    return MMPResult(qs, free_energy, beliefs, errors)
