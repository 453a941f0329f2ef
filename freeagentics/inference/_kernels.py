"""Fused numba kernels for the hot loop of single-factor models with shared parameters.

Each kernel makes one pass over agents and allocates nothing per agent. Every kernel
exists twice: parallel over agents for large populations, and serial for small ones,
where waking threads would cost more than the work (:func:`for_size` picks).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["KERNELS", "for_size", "sparse_transitions"]

#: below this many agents the serial kernels win
PARALLEL_THRESHOLD = 4096

EPS = 1e-16


def sparse_transitions(B: np.ndarray, dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row-compressed ``B[:, :, u]`` for every control ``u``.

    Args:
        B: ``(S, S, U)``.

    Returns:
        ``indptr`` ``(U, S + 1)``, ``indices`` ``(nnz,)``, ``data`` ``(nnz,)`` where the
        nonzeros of row ``i`` of control ``u`` are ``indptr[u, i]:indptr[u, i + 1]``.
    """
    num_states, _, num_controls = B.shape
    indptr = np.zeros((num_controls, num_states + 1), dtype=np.int64)
    indices, data = [], []
    offset = 0
    for u in range(num_controls):
        rows, cols = np.nonzero(B[:, :, u])  # row-major order: sorted by row
        indptr[u, 0] = offset
        indptr[u, 1:] = offset + np.cumsum(np.bincount(rows, minlength=num_states))
        indices.append(cols)
        data.append(B[rows, cols, u])
        offset += len(rows)
    return (
        indptr,
        np.concatenate(indices).astype(np.int64),
        np.concatenate(data).astype(dtype),
    )


def _single_factor_posterior(
    qs_prev, actions, D, indptr, indices, data, A_rows, obs_rows, qs_out, free_energy_out
):  # pragma: no cover - compiled
    """Posterior over states after one observation, for every agent.

    ``q(s) ∝ (p(o|s) + ε)(prior(s) + ε)`` — the same numbers as
    ``softmax(ln(p(o|s) + ε) + ln(prior(s) + ε))`` without a logarithm per state — and
    the variational free energy at that posterior is ``-ln Z``, Z the normaliser.

    Args:
        qs_prev: ``(N, S)`` beliefs at the previous step.
        actions: ``(N,)`` control taken since, or -1 to use the prior ``D`` instead.
        D: ``(S,)``.
        indptr, indices, data: :func:`sparse_transitions` of B.
        A_rows: ``(sum_m O_m, S)`` the A matrices of all modalities stacked by outcome.
        obs_rows: ``(N, M)`` row of ``A_rows`` observed per modality (offset + outcome).
        qs_out: ``(N, S)`` posterior (written).
        free_energy_out: ``(N,)`` variational free energy (written).
    """
    n_agents, n_states = qs_out.shape
    n_modalities = obs_rows.shape[1]
    eps = qs_out.dtype.type(EPS)
    zero = qs_out.dtype.type(0.0)
    for n in numba.prange(n_agents):
        a = actions[n]
        if a >= 0:
            row_start = indptr[a]
            for i in range(n_states):
                prior = zero
                for k in range(row_start[i], row_start[i + 1]):
                    prior += data[k] * qs_prev[n, indices[k]]
                qs_out[n, i] = prior + eps
        else:
            for i in range(n_states):
                qs_out[n, i] = D[i] + eps
        total = zero
        for i in range(n_states):
            lik = A_rows[obs_rows[n, 0], i]
            for m in range(1, n_modalities):
                lik *= A_rows[obs_rows[n, m], i]
            joint = qs_out[n, i] * (lik + eps)
            qs_out[n, i] = joint
            total += joint
        inverse = qs_out.dtype.type(1.0) / total
        for i in range(n_states):
            qs_out[n, i] *= inverse
        free_energy_out[n] = -np.log(total)


def _policy_scores(
    qs,
    predictions,
    width,
    obs_offsets,
    scores,
    score_stride,
    use_utility,
    use_info_gain,
    steps,
    gamma,
    log_E,
    per_prefix,
    G_out,
    q_pi_out,
):  # pragma: no cover - compiled
    """Negative expected free energy and posterior of every policy, for every agent.

    Per action prefix ``k``: the predicted outcomes ``qo = predictions[k] @ qs`` and
    ambiguity, then expected utility plus information gain; per policy: the sum over
    the prefixes it passes through; then ``q_pi = softmax(gamma * G + ln E)``. The
    matrix-vector products run here rather than in BLAS so that one thread pool does
    all the work and no ``(N, K, O)`` intermediate is ever stored.

    Args:
        qs: ``(N, S)`` beliefs.
        predictions: ``(K * width, S)``; rows ``k * width + o`` predict outcome ``o``
            (all modalities side by side) after prefix ``k``, rows
            ``k * width + O_total + m`` the expected ambiguity of modality ``m``.
        obs_offsets: ``(M + 1,)`` start of each modality's outcomes, and ``O_total``.
        scores: ``(N or 1, O_total)`` outcome scores (``ln softmax(C)`` or ``C``).
        score_stride: 1 when ``scores`` has one row per agent, 0 when all share row 0.
        steps: ``(P, T)`` prefix index of each policy step.
        gamma: ``(N,)`` policy precision; log_E: ``(P,)``.
        per_prefix: ``(N, K)`` scratch; G_out, q_pi_out: ``(N, P)`` (written).
    """
    n_agents, n_states = qs.shape
    n_prefixes = per_prefix.shape[1]
    n_policies, horizon = steps.shape
    n_modalities = obs_offsets.shape[0] - 1
    total_obs = obs_offsets[n_modalities]
    eps = qs.dtype.type(EPS)
    zero = qs.dtype.type(0.0)
    for n in numba.prange(n_agents):
        row = n * score_stride
        for k in range(n_prefixes):
            base = k * width
            value = zero
            for m in range(n_modalities):
                for o in range(obs_offsets[m], obs_offsets[m + 1]):
                    q = zero
                    for s in range(n_states):
                        q += predictions[base + o, s] * qs[n, s]
                    if use_utility:
                        value += q * scores[row, o]
                    if use_info_gain:
                        value -= q * np.log(q + eps)
                if use_info_gain:
                    ambiguity = zero
                    for s in range(n_states):
                        ambiguity += predictions[base + total_obs + m, s] * qs[n, s]
                    value -= ambiguity
            per_prefix[n, k] = value
        best = -np.inf
        for p in range(n_policies):
            g = zero
            for t in range(horizon):
                g += per_prefix[n, steps[p, t]]
            G_out[n, p] = g
            logit = gamma[n] * g + log_E[p]
            q_pi_out[n, p] = logit
            if logit > best:
                best = logit
        total = zero
        for p in range(n_policies):
            e = np.exp(q_pi_out[n, p] - best)
            q_pi_out[n, p] = e
            total += e
        for p in range(n_policies):
            q_pi_out[n, p] /= total


def _marginal_argmax(q_pi, policy_actions, num_controls, out):  # pragma: no cover - compiled
    """Most probable control of one factor, summing ``q_pi`` over policies that share it.

    Args:
        q_pi: ``(N, P)``; policy_actions: ``(P,)`` control of this factor per policy.
        out: ``(N,)`` int64 (written); ties go to the lowest control, as ``argmax``.
    """
    n_agents, n_policies = q_pi.shape
    for n in numba.prange(n_agents):
        best, best_mass = 0, -1.0
        for u in range(num_controls):
            mass = 0.0
            for p in range(n_policies):
                if policy_actions[p] == u:
                    mass += q_pi[n, p]
            if mass > best_mass:
                best, best_mass = u, mass
        out[n] = best


def _compile(function):
    # reassociation lets LLVM vectorise the dot products; error stays at rounding level
    fastmath = {"reassoc", "contract", "nsz"}
    return (
        numba.njit(cache=True, fastmath=fastmath)(function),
        numba.njit(parallel=True, cache=True, fastmath=fastmath)(function),
    )


#: name -> (serial, parallel) compiled kernel
KERNELS = {
    "single_factor_posterior": _compile(_single_factor_posterior),
    "policy_scores": _compile(_policy_scores),
    "marginal_argmax": _compile(_marginal_argmax),
}


def for_size(name: str, n_agents: int):
    """The compiled kernel ``name`` suited to ``n_agents`` agents."""
    serial, parallel = KERNELS[name]
    return parallel if n_agents >= PARALLEL_THRESHOLD else serial
