"""Fused numba kernel for single-factor cohorts that learn their likelihood (A).

Each agent carries its own Dirichlet concentrations ``pA[m]`` ``(N, O_m, S)``; the
learned likelihood is their normalisation over outcomes. One kernel runs any of the
three stages of a step for every agent, in the order the general path runs them —
the posterior from the current parameters, the Dirichlet update from that posterior,
then policies from the updated parameters — while that agent's concentrations are in
cache: one pass over the ``(N, O, S)`` tensor per step instead of three. Running the
stages in separate calls gives the same numbers bit for bit (each stage's arithmetic
does not depend on which others run with it).

Learning changes every column's normaliser ``Z = sum_o p_o`` (beliefs are seldom
exactly zero), so each step normalises the whole of an agent's ``pA`` and takes the
ambiguity ``H = -sum_o A_o ln(A_o + ε)`` of every column again: ``O · S`` logarithms,
vectorised (:func:`~freeagentics.inference._fastmath.plogp_into`). Keeping ``ln pA``
per agent to take only ``2 S`` of them measured no faster: it doubles the memory a
step reads.

Sums over outcomes run in outcome order; the normalised likelihood is the product
with the reciprocal of ``Z`` (one division per state, not per entry).
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
    predict_into,
    predict_prior,
    register_table,
)

__all__ = ["LEARN", "LEARNER_KERNELS", "POLICIES", "POSTERIOR"]

#: agents from which the parallel variant is tried (about a microsecond of work each)
PARALLEL_FROM = 512

#: stage bits of :func:`_learner_step`
POSTERIOR, LEARN, POLICIES = 1, 2, 4


@numba.njit(inline="always")
def _column_sums(p, out):  # pragma: no cover - compiled
    """``out[s] = sum_o p[o, s]``, outcomes in order; ``p`` ``(O, S)``."""
    out[:] = p[0]
    for o in range(1, p.shape[0]):
        row = p[o]
        for s in range(out.shape[0]):
            out[s] += row[s]


@numba.njit(inline="always")
def _inverse_column_sums(p, out):  # pragma: no cover - compiled
    """``out[s] = 1 / sum_o p[o, s]``, outcomes in order; ``p`` ``(O, S)``."""
    _column_sums(p, out)
    one = out.dtype.type(1.0)
    for s in range(out.shape[0]):
        out[s] = one / out[s]


@numba.njit(inline="always")
def _dot(a, b, zero):  # pragma: no cover - compiled
    acc = zero
    for s in range(a.shape[0]):
        acc += a[s] * b[s]
    return acc


@numba.njit(inline="always")
def _likelihood_and_ambiguity(  # pragma: no cover - compiled
    p, inverse, terms, likelihood, offset, ambiguity
):
    """One modality of one agent (``p`` ``(O, S)``): ``1 / Z`` into ``inverse`` ``(S,)``,
    ``A = p / Z`` into ``likelihood[offset:]`` and ``H = -sum_o A_o ln(A_o + ε)`` into
    ``ambiguity`` ``(S,)``; ``terms`` ``(S,)`` is scratch."""
    _inverse_column_sums(p, inverse)
    ambiguity[:] = 0.0
    for o in range(p.shape[0]):
        source = p[o]
        target = likelihood[offset + o]
        for s in range(p.shape[1]):
            target[s] = source[s] * inverse[s]
        plogp_into(target, terms)
        for s in range(p.shape[1]):
            ambiguity[s] -= terms[s]


def _learner_step(
    stages,
    qs_prev,
    actions,
    D,
    next_rows,
    next_values,
    transitions,
    pA,
    obs,
    lr,
    obs_offsets,
    prefix_parent,
    prefix_action,
    scoring,
    per_prefix,
    qs,
    free_energy_out,
    G_out,
    q_pi_out,
):  # pragma: no cover - compiled
    """The stages of one step (bits of ``stages``) for every agent, each agent in turn.

    - ``POSTERIOR``: beliefs after ``obs``, from the prior ``B_{action} qs_prev`` (or
      ``D``) and the likelihood ``pA[m][n, o] / sum_o pA[m][n]`` of every modality,
      as :func:`~freeagentics.inference._kernels._single_factor_posterior`; into ``qs``
      and ``free_energy_out``.
    - ``LEARN``: ``pA[m][n, obs[n, m], s] += lr * qs[n, s]`` where that concentration
      is positive (a zero is a structural zero); product then sum, the two roundings
      of :func:`~freeagentics.inference.update_pA`.
    - ``POLICIES``: ``G`` and ``q_pi`` from each agent's normalised ``pA``: per action
      prefix ``k`` (parents first) the predicted state ``B_{a_k}`` applied to the
      parent's (or to ``qs``), its outcomes ``A · s_k`` and expected ambiguity
      ``H · s_k``, scored as :func:`~freeagentics.inference._kernels._policy_scores`.

    Args:
        stages: bit set of POSTERIOR, LEARN, POLICIES.
        qs_prev: ``(N, S)`` beliefs before ``obs`` (read by POSTERIOR only).
        actions: ``(N,)`` control since ``qs_prev`` (-1: prior ``D``); D: ``(S,)``.
        next_rows, next_values: shared ``B`` by columns (:func:`column_transitions`),
            for the prior; transitions: by rows (:func:`sparse_transitions`), for the
            policy tree.
        pA: per modality ``(N, O_m, S)`` concentrations (a tuple).
        obs: ``(N, M)`` outcome per modality; lr: learning rate in ``qs``' dtype.
        obs_offsets: ``(M + 1,)``.
        prefix_parent, prefix_action: ``(K,)`` the prefix tree (parent -1: from ``qs``).
        scoring: :func:`~freeagentics.inference._kernels.scoring_terms`.
        per_prefix: ``(N, K)`` scratch.
        qs: ``(N, S)`` beliefs: written by POSTERIOR, read by LEARN and POLICIES.
        free_energy_out: ``(N,)``; G_out, q_pi_out: ``(N, P)`` (written by their stages).
    """
    n_agents, n_states = qs.shape
    n_modalities = obs_offsets.shape[0] - 1
    total_obs = obs_offsets[n_modalities]
    n_prefixes = prefix_parent.shape[0]
    row_width = total_obs + n_modalities
    dtype = qs.dtype
    zero = dtype.type(0.0)
    posterior, learn, policies = stages & POSTERIOR, stages & LEARN, stages & POLICIES
    for block in numba.prange((n_agents + _BLOCK - 1) // _BLOCK):
        terms = np.empty(n_states, dtype=dtype)
        inverse = np.empty((n_modalities, n_states), dtype=dtype)
        lik = np.empty(n_states, dtype=dtype)
        likelihood = np.empty((total_obs, n_states), dtype=dtype)
        ambiguity = np.empty((n_modalities, n_states), dtype=dtype)
        states = np.empty((n_prefixes, n_states), dtype=dtype)
        dots = np.empty(n_prefixes * row_width, dtype=dtype)
        dot_terms = np.empty(n_prefixes * row_width, dtype=dtype)
        for n in range(block * _BLOCK, min(n_agents, (block + 1) * _BLOCK)):
            belief = qs[n]
            if posterior:
                predict_prior(belief, qs_prev[n], actions[n], D, next_rows, next_values)
                for m in range(n_modalities):
                    _inverse_column_sums(pA[m][n], inverse[m])
                    row = pA[m][n, obs[n, m]]
                    scale = inverse[m]
                    for s in range(n_states):
                        value = row[s] * scale[s]
                        lik[s] = value if m == 0 else lik[s] * value
                free_energy_out[n] = condition_on(belief, lik)
            if learn:
                for m in range(n_modalities):
                    o = obs[n, m]
                    row = pA[m][n, o]
                    for s in range(n_states):
                        if row[s] > 0:
                            row[s] = row[s] + lr * belief[s]
            if policies:
                for m in range(n_modalities):
                    _likelihood_and_ambiguity(
                        pA[m][n],
                        inverse[m],
                        terms,
                        likelihood,
                        obs_offsets[m],
                        ambiguity[m],
                    )
                for k in range(n_prefixes):
                    parent = prefix_parent[k]
                    target = states[k]
                    predict_into(
                        target,
                        belief if parent < 0 else states[parent],
                        prefix_action[k],
                        transitions,
                    )
                    for r in range(total_obs):
                        dots[r * n_prefixes + k] = _dot(likelihood[r], target, zero)
                    for m in range(n_modalities):
                        dots[(total_obs + m) * n_prefixes + k] = _dot(ambiguity[m], target, zero)
                _score_agent(n, dots, dot_terms, scoring, per_prefix, G_out, q_pi_out)


#: name -> (serial, parallel) compiled kernel; no fused multiply-add ("contract"), so
#: the Dirichlet update rounds its product and its sum as numpy does
LEARNER_KERNELS = register_table(
    {"learner_step": _compile(_learner_step, fastmath=frozenset({"reassoc", "nsz"}))},
    parallel_from=PARALLEL_FROM,
)
