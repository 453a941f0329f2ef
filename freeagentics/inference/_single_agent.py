"""Compiled kernels for ONE agent on the joint hidden state, with pymdp 0.0.7.1's maths.

A small agent driven one call at a time (the pymdp-compatible ``Agent``) spends its time
in Python glue, not arithmetic: a step of the T-maze is a few hundred multiply-adds. These
kernels do a whole stage (state inference, policy scoring, action choice) in one
compiled call on arrays laid out once per model (:class:`JointLayout`).

Layout. ``F`` factors with ``S_f`` states (padded to ``Smax``), joint index ``j`` over
``S = prod S_f`` in C order (factor 0 slowest), ``idx[j, f] = s_f``. ``M`` modalities
with ``O_m`` outcomes (padded to ``Omax``); ``A[m, o, j]`` is ``A_m`` over the joint.
``B[f, s', s, u]`` padded with zeros. Policies ``(P, T, F)`` int.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = [
    "empirical_prior_into",
    "fpi_states",
    "joint_loglik_from_dists",
    "joint_loglik_from_indices",
    "policy_scores",
    "posterior_over_policies",
    "project_states",
    "select_controls",
]

EPS = 1e-16
#: pymdp ignores joint states less probable than this in the information gain
JOINT_STATE_THRESHOLD = float(np.exp(-16))

_jit = numba.njit(cache=True, nogil=True)


@_jit
def joint_loglik_from_indices(A, obs):
    """``ln(prod_m A_m[o_m, j] + EPS)`` → ``(S,)``; ``obs``: ``(M,)`` int."""
    num_joint = A.shape[2]
    out = np.ones(num_joint)
    for m in range(A.shape[0]):
        for j in range(num_joint):
            out[j] *= A[m, obs[m], j]
    for j in range(num_joint):
        out[j] = np.log(out[j] + EPS)
    return out


@_jit
def joint_loglik_from_dists(A, dists, num_obs):
    """``ln(prod_m sum_o p_m(o) A_m[o, j] + EPS)`` → ``(S,)``; ``dists``: ``(M, Omax)``."""
    num_joint = A.shape[2]
    out = np.ones(num_joint)
    for m in range(A.shape[0]):
        for j in range(num_joint):
            acc = 0.0
            for o in range(num_obs[m]):
                acc += dists[m, o] * A[m, o, j]
            out[j] *= acc
    for j in range(num_joint):
        out[j] = np.log(out[j] + EPS)
    return out


@_jit
def _softmax_into(x, n, out):
    top = x[0]
    for i in range(1, n):
        top = max(top, x[i])
    total = 0.0
    for i in range(n):
        out[i] = np.exp(x[i] - top)
        total += out[i]
    for i in range(n):
        out[i] /= total


@_jit
def _joint_of(qs, idx):
    num_joint, num_factors = idx.shape
    qx = np.empty(num_joint)
    for j in range(num_joint):
        p = 1.0
        for f in range(num_factors):
            p *= qs[f, idx[j, f]]
        qx[j] = p
    return qx


@_jit
def _free_energy(qs, log_prior, num_states, loglik, idx):
    """pymdp's ``calc_free_energy``: ``sum_f q(ln q - ln prior) - E_q[ln p(o|s)]``."""
    total = 0.0
    for f in range(num_states.shape[0]):
        for s in range(num_states[f]):
            q = qs[f, s]
            total += q * np.log(q + EPS) - q * log_prior[f, s]
    if loglik.shape[0] > 0:
        qx = _joint_of(qs, idx)
        for j in range(qx.shape[0]):
            total -= loglik[j] * qx[j]
    return total


@_jit
def fpi_states(loglik, prior, num_states, idx, num_iter, dF, dF_tol):
    """Mean-field fixed-point iteration as pymdp 0.0.7.1's ``run_vanilla_fpi``.

    One factor: ``softmax(ln p(o|s) + ln prior)``. Several: every factor updated from
    the previous sweep's beliefs, until ``num_iter`` sweeps or the free energy changes
    by less than ``dF_tol``.

    Args:
        loglik: ``(S,)``; prior: ``(F, Smax)``.

    Returns:
        ``(qs (F, Smax), F)``: posteriors (zero padded) and the free energy at them.
    """
    num_factors, smax = prior.shape
    log_prior = np.zeros((num_factors, smax))
    for f in range(num_factors):
        for s in range(num_states[f]):
            log_prior[f, s] = np.log(prior[f, s] + EPS)
    qs = np.zeros((num_factors, smax))
    if num_factors == 1:
        x = loglik + log_prior[0, : num_states[0]]
        _softmax_into(x, num_states[0], qs[0])
        return qs, _free_energy(qs, log_prior, num_states, loglik, idx)
    for f in range(num_factors):
        for s in range(num_states[f]):
            qs[f, s] = 1.0 / num_states[f]
    empty = np.zeros(0)
    previous = _free_energy(qs, log_prior, num_states, empty, idx)
    message = np.zeros((num_factors, smax))
    it = 0
    while it < num_iter and dF >= dF_tol:
        message[:] = 0.0
        for j in range(idx.shape[0]):
            for f in range(num_factors):
                p = loglik[j]
                for g in range(num_factors):
                    if g != f:
                        p *= qs[g, idx[j, g]]
                message[f, idx[j, f]] += p
        for f in range(num_factors):
            x = message[f, : num_states[f]] + log_prior[f, : num_states[f]]
            _softmax_into(x, num_states[f], qs[f])
        vfe = _free_energy(qs, log_prior, num_states, loglik, idx)
        dF = abs(previous - vfe)
        previous = vfe
        it += 1
    return qs, previous


@_jit
def empirical_prior_into(B, qs, num_states, action, out):
    """``out[f] = B_f[:, :, a_f] @ qs_f`` for every factor (``out``: ``(F, Smax)``)."""
    for f in range(num_states.shape[0]):
        n = num_states[f]
        u = action[f]
        for s in range(n):
            acc = 0.0
            for r in range(n):
                acc += B[f, s, r, u] * qs[f, r]
            out[f, s] = acc


@_jit
def project_states(qs, B, num_states, policies):
    """Predicted beliefs after each step of each policy → ``(P, T, F, Smax)``."""
    num_policies, horizon, num_factors = policies.shape
    out = np.zeros((num_policies, horizon, num_factors, qs.shape[1]))
    for p in range(num_policies):
        for t in range(horizon):
            for f in range(num_factors):
                prev = qs[f] if t == 0 else out[p, t - 1, f]
                u = policies[p, t, f]
                for s in range(num_states[f]):
                    acc = 0.0
                    for r in range(num_states[f]):
                        acc += B[f, s, r, u] * prev[r]
                    out[p, t, f, s] = acc
    return out


@_jit
def policy_scores(
    qs_seq,
    A,
    num_obs,
    idx,
    log_C,
    po,
    neg_entropy,
    wA,
    wB,
    qs_first,
    policies,
    num_states,
):
    """Negative expected free energy ``G`` of each policy (pymdp 0.0.7.1's terms).

    Args:
        qs_seq: ``(P, T, F, Smax)`` beliefs at each scored step of each policy.
        log_C: ``(M, T, Omax)`` ``ln softmax(C)`` per step, or ``(0, 0, 0)`` for no utility.
        po, neg_entropy: ``(S, O_joint)`` and ``(S,)`` outcome distribution over the
            joint of all modalities per joint state, or empty for no information gain.
        wA: ``(M, Omax, S)`` novelty weights of ``pA`` or ``(0, 0, 0)``.
        wB: ``(F, Smax, Smax, Umax)`` novelty weights of ``pB`` or ``(0, 0, 0, 0)``;
            with ``qs_first`` ``(F, Smax)`` the beliefs before the first step.
        policies: ``(P, T, F)``, the actions that ``wB`` reads.

    Returns:
        ``(P,)``.
    """
    num_policies, horizon = qs_seq.shape[0], qs_seq.shape[1]
    num_modalities, omax = A.shape[0], A.shape[1]
    num_joint = idx.shape[0]
    G = np.zeros(num_policies)
    use_utility = log_C.shape[0] > 0
    use_info = po.shape[0] > 0
    use_wA = wA.shape[0] > 0
    use_wB = wB.shape[0] > 0
    qo = np.zeros(omax)
    qo_joint = np.zeros(po.shape[1])
    for p in range(num_policies):
        total = 0.0
        for t in range(horizon):
            qx = _joint_of(qs_seq[p, t], idx)
            if use_utility or use_wA:
                for m in range(num_modalities):
                    for o in range(num_obs[m]):
                        acc = 0.0
                        for j in range(num_joint):
                            acc += A[m, o, j] * qx[j]
                        qo[o] = acc
                    if use_utility:
                        for o in range(num_obs[m]):
                            total += qo[o] * log_C[m, t, o]
                    if use_wA:
                        for o in range(num_obs[m]):
                            acc = 0.0
                            for j in range(num_joint):
                                acc += wA[m, o, j] * qx[j]
                            total -= qo[o] * acc
            if use_info:
                qo_joint[:] = 0.0
                expected_neg_h = 0.0
                for j in range(num_joint):
                    if qx[j] > JOINT_STATE_THRESHOLD:
                        w = qx[j]
                        expected_neg_h += w * neg_entropy[j]
                        for o in range(po.shape[1]):
                            qo_joint[o] += w * po[j, o]
                h = 0.0
                for o in range(po.shape[1]):
                    h += qo_joint[o] * np.log(qo_joint[o] + EPS)
                total += expected_neg_h - h
            if use_wB:
                for f in range(num_states.shape[0]):
                    u = policies[p, t, f]
                    prev = qs_first[f] if t == 0 else qs_seq[p, t - 1, f]
                    for s in range(num_states[f]):
                        acc = 0.0
                        for r in range(num_states[f]):
                            acc += wB[f, s, r, u] * prev[r]
                        total -= qs_seq[p, t, f, s] * acc
        G[p] = total
    return G


@_jit
def posterior_over_policies(G, gamma, log_E, free_energy):
    """``softmax(gamma * G - F + ln E)`` → ``(P,)`` (``free_energy`` may be empty)."""
    x = gamma * G + log_E
    if free_energy.shape[0] > 0:
        x = x - free_energy
    out = np.empty(x.shape[0])
    _softmax_into(x, x.shape[0], out)
    return out


@_jit
def select_controls(q_pi, first_actions, num_controls, alpha, stochastic, full):
    """pymdp 0.0.7.1's choice from ``q_pi``, up to the random draw.

    ``full`` False: action marginals per factor (``(F, Umax)``, normalised); the
    deterministic choice is their argmax (first on ties), and ``probs`` is
    ``softmax(alpha * ln marginal)`` to draw from when ``stochastic``.
    ``full`` True: ``probs`` ``(1, P)`` is ``softmax(alpha * ln q_pi)`` (or ``q_pi``),
    the deterministic choice the argmax policy's first action.

    Returns:
        ``(action (F,) float64, probs)``.
    """
    num_policies, num_factors = first_actions.shape
    action = np.zeros(num_factors)
    if full:
        probs = np.zeros((1, num_policies))
        if stochastic:
            x = alpha * np.log(q_pi + EPS)
            _softmax_into(x, num_policies, probs[0])
        else:
            probs[0] = q_pi
            best = np.argmax(q_pi)
            for f in range(num_factors):
                action[f] = first_actions[best, f]
        return action, probs
    umax = num_controls.max()
    probs = np.zeros((num_factors, umax))
    marginal = np.zeros((num_factors, umax))
    for p in range(num_policies):
        for f in range(num_factors):
            marginal[f, first_actions[p, f]] += q_pi[p]
    for f in range(num_factors):
        n = num_controls[f]
        total = 0.0
        for u in range(n):
            total += marginal[f, u]
        for u in range(n):
            marginal[f, u] /= total
        if stochastic:
            x = alpha * np.log(marginal[f, :n] + EPS)
            _softmax_into(x, n, probs[f])
        else:
            best = 0
            for u in range(1, n):
                if marginal[f, u] > marginal[f, best]:
                    best = u
            action[f] = best
    return action, probs
