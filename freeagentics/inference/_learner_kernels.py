"""Fused numba kernels for single-factor cohorts that learn their likelihood (A).

Each agent carries its own Dirichlet concentrations ``pA[m]`` ``(N, O_m, S)``; the
learned likelihood is their normalisation over outcomes. The kernels read the
concentrations directly, one agent at a time, so the normalised ``(N, O, S)``
likelihood is never stored, and the transitions ``B`` stay shared (sparse, see
:func:`~freeagentics.inference._kernels.sparse_transitions`).

Stages, as the general path orders them: the posterior from the current parameters,
the Dirichlet update from that posterior, then policies from the updated parameters.
"""

from __future__ import annotations

import numba
import numpy as np

from freeagentics.inference._fastmath import plogp_into
from freeagentics.inference._kernels import (
    _BLOCK,
    _compile,
    _score_agent,
    condition_on,
    predict_prior,
    register_table,
)

__all__ = ["LEARNER_KERNELS"]


@numba.njit(inline="always")
def _likelihood_and_ambiguity(p, column, terms, likelihood, offset, ambiguity):  # pragma: no cover
    """One modality of one agent: ``A = p / sum_o p`` into ``likelihood[offset:]`` and
    its entropy per state ``H[A] = -sum_o A ln(A + ε)`` into ``ambiguity`` ``(S,)``.

    Sums run over outcomes in order, as numpy's reductions over that axis do; the
    division is a product with the reciprocal (one rounding more, one division per
    state instead of per entry). ``column`` and ``terms`` are ``(S,)`` scratch.
    """
    n_outcomes, n_states = p.shape
    first = p[0]
    for s in range(n_states):
        column[s] = first[s]
    for o in range(1, n_outcomes):
        row = p[o]
        for s in range(n_states):
            column[s] += row[s]
    for s in range(n_states):
        column[s] = 1.0 / column[s]
        ambiguity[s] = 0.0
    for o in range(n_outcomes):
        source = p[o]
        target = likelihood[offset + o]
        for s in range(n_states):
            target[s] = source[s] * column[s]
        plogp_into(target, terms)
        for s in range(n_states):
            ambiguity[s] -= terms[s]


@numba.njit(inline="always")
def _dot(a, b, zero):  # pragma: no cover - compiled
    acc = zero
    for s in range(a.shape[0]):
        acc += a[s] * b[s]
    return acc


def _learner_posterior(
    qs_prev, actions, D, next_rows, next_values, pA, obs, qs_out, free_energy_out
):  # pragma: no cover - compiled
    """Posterior over states after one observation, each agent with its own ``A``.

    As :func:`~freeagentics.inference._kernels._single_factor_posterior`, with the
    likelihood of outcome ``o`` in modality ``m`` read as ``pA[m][n, o] / sum_o pA[m][n]``.

    Args:
        qs_prev: ``(N, S)``; actions: ``(N,)`` (-1: use ``D``); D: ``(S,)``.
        next_rows, next_values: sparse shared ``B``.
        pA: per modality ``(N, O_m, S)`` concentrations (a tuple).
        obs: ``(N, M)`` outcome per modality.
        qs_out: ``(N, S)``; free_energy_out: ``(N,)`` (written).
    """
    n_agents, n_states = qs_out.shape
    n_modalities = obs.shape[1]
    for block in numba.prange((n_agents + _BLOCK - 1) // _BLOCK):
        column = np.empty(n_states, dtype=qs_out.dtype)
        lik = np.empty(n_states, dtype=qs_out.dtype)
        for n in range(block * _BLOCK, min(n_agents, (block + 1) * _BLOCK)):
            predict_prior(qs_out[n], qs_prev[n], actions[n], D, next_rows, next_values)
            for m in range(n_modalities):
                p = pA[m][n]
                o = obs[n, m]
                column[:] = p[0]
                for other in range(1, p.shape[0]):
                    column += p[other]
                for s in range(n_states):
                    value = p[o, s] / column[s]
                    lik[s] = value if m == 0 else lik[s] * value
            free_energy_out[n] = condition_on(qs_out[n], lik)


def _learn_likelihood(p, obs, qs, lr):  # pragma: no cover - compiled
    """Dirichlet update of one modality, in place: ``p[n, obs[n], s] += lr * qs[n, s]``
    where ``p[n, obs[n], s] > 0`` (a zero concentration is a structural zero).

    The same two roundings as :func:`~freeagentics.inference.update_pA` (product, then
    sum), so the concentrations equal the general path's for equal beliefs.

    Args:
        p: ``(N, O, S)``; obs: ``(N,)``; qs: ``(N, S)``; lr: scalar of ``p``'s dtype.
    """
    n_agents, n_states = qs.shape
    for n in numba.prange(n_agents):
        row = p[n, obs[n]]
        belief = qs[n]
        for s in range(n_states):
            if row[s] > 0:
                row[s] = row[s] + lr * belief[s]


def _learner_policy_scores(
    qs,
    pA,
    obs_offsets,
    next_rows,
    next_values,
    prefix_parent,
    prefix_action,
    scoring,
    per_prefix,
    G_out,
    q_pi_out,
):  # pragma: no cover - compiled
    """``G`` and ``q_pi`` of every agent from its own normalised ``pA``.

    Per agent: the likelihood ``A`` ``(O_total, S)`` and the ambiguity ``H[A]`` per
    state and modality, into scratch; per action prefix ``k`` (parents first): the
    predicted state ``B_{a_k}`` applied to the parent's (or to ``qs``), then its
    outcomes ``A · s_k`` and expected ambiguity ``H · s_k``; then the scores of
    :func:`~freeagentics.inference._kernels._policy_scores`.

    Args:
        qs: ``(N, S)``; pA: per modality ``(N, O_m, S)`` (a tuple).
        obs_offsets: ``(M + 1,)``.
        next_rows, next_values: sparse shared ``B``.
        prefix_parent, prefix_action: ``(K,)`` the prefix tree (parent -1: from ``qs``).
        scoring: :func:`~freeagentics.inference._kernels.scoring_terms`.
        per_prefix: ``(N, K)`` scratch; G_out, q_pi_out: ``(N, P)`` (written).
    """
    n_agents, n_states = qs.shape
    n_modalities = obs_offsets.shape[0] - 1
    total_obs = obs_offsets[n_modalities]
    n_prefixes = prefix_parent.shape[0]
    row_width = total_obs + n_modalities
    width = next_rows.shape[1]
    dtype = qs.dtype
    zero = dtype.type(0.0)
    for block in numba.prange((n_agents + _BLOCK - 1) // _BLOCK):
        column = np.empty(n_states, dtype=dtype)
        likelihood = np.empty((total_obs, n_states), dtype=dtype)
        terms = np.empty(n_states, dtype=dtype)
        ambiguity = np.empty((n_modalities, n_states), dtype=dtype)
        states = np.empty((n_prefixes, n_states), dtype=dtype)
        dots = np.empty(n_prefixes * row_width, dtype=dtype)
        dot_terms = np.empty(n_prefixes * row_width, dtype=dtype)
        for n in range(block * _BLOCK, min(n_agents, (block + 1) * _BLOCK)):
            for m in range(n_modalities):
                _likelihood_and_ambiguity(
                    pA[m][n], column, terms, likelihood, obs_offsets[m], ambiguity[m]
                )
            for k in range(n_prefixes):
                parent = prefix_parent[k]
                source = qs[n] if parent < 0 else states[parent]
                target = states[k]
                target[:] = zero
                u = prefix_action[k]
                for w in range(width):
                    rows = next_rows[u, w]
                    weights = next_values[u, w]
                    for j in range(n_states):
                        target[rows[j]] += weights[j] * source[j]
                base = k * row_width
                for r in range(total_obs):
                    dots[base + r] = _dot(likelihood[r], target, zero)
                for m in range(n_modalities):
                    dots[base + total_obs + m] = _dot(ambiguity[m], target, zero)
            _score_agent(n, dots, dot_terms, scoring, per_prefix, G_out, q_pi_out)


#: name -> (serial, parallel) compiled kernel
LEARNER_KERNELS = register_table(
    {
        "learner_posterior": _compile(_learner_posterior),
        # no fast-math: no fused multiply-add, so the roundings are numpy's
        "learn_likelihood": _compile(_learn_likelihood, fastmath=frozenset()),
        "learner_policy_scores": _compile(_learner_policy_scores),
    }
)
