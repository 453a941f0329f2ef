"""Fused numba kernel for single-factor cohorts whose agents learn their likelihood (A),
their transitions (B), or both.

Each agent carries its own Dirichlet concentrations, ``pA[m]`` ``(N, O_m, S)`` and
``pB`` ``(N, S, S, U)``; the learned parameters are their normalisations over outcomes
and over next states. One kernel runs any of the three stages of a step for every
agent, in the order the general path runs them — the posterior from the current
parameters, the Dirichlet update from that posterior, then policies from the updated
parameters — while that agent's concentrations are in cache: one pass over them per
step instead of three. Running the stages in separate calls gives the same numbers
bit for bit (each stage's arithmetic does not depend on which others run with it).

Learning changes every column's normaliser ``Z = sum_o p_o`` (beliefs are seldom
exactly zero), so each step normalises the whole of an agent's ``pA`` and takes the
ambiguity ``H = -sum_o A_o ln(A_o + ε)`` of every column again: ``O · S`` logarithms,
vectorised (:func:`~freeagentics.inference._fastmath.plogp_into`). Keeping ``ln pA``
per agent to take only ``2 S`` of them measured no faster: it doubles the memory a
step reads. Sums over outcomes run in outcome order; the normalised likelihood is the
product with the reciprocal of ``Z`` (one division per state, not per entry).

Per-agent B cannot use the shared B's precomputed sparse columns and rows: each
agent's transitions are its own. The kernel works on the ``E`` entries of ``pB`` that
can be nonzero (:mod:`~freeagentics.inference._transition_pattern`; on a grid
``E = S · U`` of ``S² · U``), read from the engine's compact ``(N, E)`` copy,
normalises them into a scratch row of ``E`` values while the agent is processed, and
predicts from that row. Per agent and step:

- posterior: the ``E / U`` entries of the action taken, summed by columns and divided,
  then one scatter (the prior);
- update of B: the same entries, one product and sum each, written to the compact
  copy and to the dense ``pB`` (``E / U`` scattered writes: the only touch of it);
- policies: all ``E`` entries summed by columns and divided; each prefix's prediction
  ``E / U`` multiply-adds gathered by rows (a shared B costs the same);
- parameter information gain: ``E`` more divisions (B's novelty weights) and ``E / U``
  multiply-adds per prefix; for A, ``O · S`` divisions and multiply-adds per prefix.

Measured on explorer-10 (``S = 100``, ``U = 5``, ``E = 500``; serial kernel, CPU time,
shared machine at load 6-7): 7.2 µs per agent learning A and B at 1 000 agents (4 µs
at 20, whose concentrations stay in cache), against 1.6 µs learning A only. Reading
the dense ``pB`` instead of the compact copy took 12 µs: an agent's ``(S, S, U)``
layout puts the entries of one column ``S · U`` apart, a cache line each.
"""

from __future__ import annotations

import numba
import numpy as np

from freeagentics.inference._fastmath import EPS, plogp_into
from freeagentics.inference._kernels import (
    _BLOCK,
    _compile,
    condition_on,
    policy_rows,
    predict_into,
    predict_prior,
    prefix_values,
    register_table,
)
from freeagentics.inference._transition_pattern import (
    learn_control,
    learned_predict,
    learned_prior,
    normalise_entries,
    novelty_weights,
    transition_novelty,
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
    """One modality of one agent (``p`` ``(O, S)``, ``inverse`` ``(S,)`` the reciprocal
    of its column sums, or ones for a likelihood used as given): ``A = p * inverse``
    into ``likelihood[offset:]`` and ``H = -sum_o A_o ln(A_o + ε)`` into ``ambiguity``
    ``(S,)``; ``terms`` ``(S,)`` is scratch."""
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
    lr_A,
    pB,
    pB_dense,
    lr_B,
    pattern,
    novelty,
    obs,
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
    - ``LEARN``: ``pA[m][n, obs[n, m], s] += lr_A * qs[n, s]`` where that concentration
      is positive (a zero is a structural zero); product then sum, the two roundings
      of :func:`~freeagentics.inference.update_pA`. With per-agent B, and where the
      agent has acted (``actions[n] >= 0``), ``pB[n, i, j, actions[n]] += lr_B *
      (qs[n, i] * qs_prev[n, j])`` as :func:`~freeagentics.inference.update_pB`, in
      the compact row and in the dense concentrations.
    - ``POLICIES``: ``G`` and ``q_pi`` from each agent's normalised ``pA`` (and ``pB``):
      per action prefix ``k`` (parents first) the predicted state ``B_{a_k}`` applied
      to the parent's (or to ``qs``), its outcomes ``A · s_k`` and expected ambiguity
      ``H · s_k``, scored as :func:`~freeagentics.inference._kernels._policy_scores`;
      with ``novelty``, less each prefix's expected novelty ``sum_o qo_o (W_A s_k)_o +
      s_k · W_B[:, :, a_k] s_parent`` (the ``_novelty_weights`` of
      :mod:`~freeagentics.inference.policies`, of the learned parameters).

    What each agent learns is told by arguments that are None or not: numba compiles
    one variant per combination, without the branches of the others.

    Args:
        stages: bit set of POSTERIOR, LEARN, POLICIES.
        qs_prev: ``(N, S)`` beliefs before ``obs`` (read by POSTERIOR and by LEARN of B).
        actions: ``(N,)`` control since ``qs_prev`` (-1: prior ``D``, nothing to learn
            of B); D: ``(S,)``.
        next_rows, next_values: shared ``B`` by columns (:func:`column_transitions`),
            for the prior; transitions: by rows (:func:`sparse_transitions`), for the
            policy tree (both unread with per-agent B).
        pA: per modality ``(N, O_m, S)`` concentrations (a tuple), or ``(1, O_m, S)``
            the shared A where ``lr_A`` is None (used as given).
        lr_A, lr_B: learning rates in ``qs``' dtype.
        pB: ``(N, E)`` each agent's concentrations at the pattern's entries, or None
            (B shared); pB_dense: ``(N, S * S * U)`` the same flattened, where updates
            are written too; pattern: the entries (:func:`~freeagentics.inference.
            _transition_pattern.transition_pattern`).
        novelty: None, or anything to score the parameter information gain.
        obs: ``(N, M)`` outcome per modality; obs_offsets: ``(M + 1,)``.
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
    n_entries = pattern[0].shape[0]
    n_columns = pattern[5].size  # U * S
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
        values = np.zeros(n_entries + 1, dtype=dtype)  # values[E] stays 0
        totals = np.empty(n_columns, dtype=dtype)
        zeros = np.empty(n_columns, dtype=np.int64)
        weights_B = np.empty(n_entries, dtype=dtype)
        weights_A = np.empty((total_obs, n_states), dtype=dtype)
        expected_novelty = np.empty(n_prefixes, dtype=dtype)
        if lr_A is None:  # the shared A, as given: 1 / Z = 1
            inverse[:] = 1.0
            if policies:
                for m in range(n_modalities):
                    _likelihood_and_ambiguity(
                        pA[m][0], inverse[m], terms, likelihood, obs_offsets[m], ambiguity[m]
                    )
        for n in range(block * _BLOCK, min(n_agents, (block + 1) * _BLOCK)):
            belief = qs[n]
            if posterior:
                if pB is None:
                    predict_prior(belief, qs_prev[n], actions[n], D, next_rows, next_values)
                else:
                    learned_prior(belief, qs_prev[n], actions[n], D, pB[n], pattern, totals, values)
                for m in range(n_modalities):
                    if lr_A is None:
                        row = pA[m][0, obs[n, m]]
                    else:
                        _inverse_column_sums(pA[m][n], inverse[m])
                        row = pA[m][n, obs[n, m]]
                    scale = inverse[m]
                    for s in range(n_states):
                        value = row[s] * scale[s]
                        lik[s] = value if m == 0 else lik[s] * value
                free_energy_out[n] = condition_on(belief, lik)
            if learn:
                if lr_A is not None:
                    for m in range(n_modalities):
                        row = pA[m][n, obs[n, m]]
                        for s in range(n_states):
                            if row[s] > 0:
                                row[s] = row[s] + lr_A * belief[s]
                if pB is not None:
                    if actions[n] >= 0:
                        learn_control(
                            pB[n], pB_dense[n], pattern, actions[n], belief, qs_prev[n], lr_B
                        )
            if policies:
                if lr_A is not None:
                    for m in range(n_modalities):
                        _inverse_column_sums(pA[m][n], inverse[m])
                        _likelihood_and_ambiguity(
                            pA[m][n], inverse[m], terms, likelihood, obs_offsets[m], ambiguity[m]
                        )
                        if novelty is not None:
                            _likelihood_novelty(pA[m][n], weights_A, obs_offsets[m])
                if pB is not None:
                    normalise_entries(pB[n], pattern, 0, n_entries, totals, values)
                    if novelty is not None:
                        novelty_weights(pB[n], pattern, n_states, totals, zeros, weights_B)
                for k in range(n_prefixes):
                    parent = prefix_parent[k]
                    target = states[k]
                    previous = belief if parent < 0 else states[parent]
                    if pB is None:
                        predict_into(target, previous, prefix_action[k], transitions)
                    else:
                        learned_predict(target, previous, prefix_action[k], values, pattern)
                    for r in range(total_obs):
                        dots[r * n_prefixes + k] = _dot(likelihood[r], target, zero)
                    for m in range(n_modalities):
                        dots[(total_obs + m) * n_prefixes + k] = _dot(ambiguity[m], target, zero)
                    if novelty is not None:
                        gain = zero
                        if lr_A is not None:
                            for r in range(total_obs):
                                expected = dots[r * n_prefixes + k]
                                gain += expected * _dot(weights_A[r], target, zero)
                        if pB is not None:
                            gain += transition_novelty(
                                target, previous, prefix_action[k], weights_B, pattern
                            )
                        expected_novelty[k] = gain
                prefix_values(n, dots, dot_terms, scoring, per_prefix)
                if novelty is not None:
                    row = per_prefix[n]
                    for k in range(n_prefixes):
                        row[k] -= expected_novelty[k]
                policy_rows(n, scoring, per_prefix, G_out, q_pi_out)


@numba.njit(inline="always")
def _likelihood_novelty(p, weights, offset):  # pragma: no cover - compiled
    """Novelty weights ``1 / sum_o (p_o + ε) - 1 / (p + ε)`` of one modality's
    concentrations ``p`` ``(O, S)`` where ``p > 0`` (else 0), into ``weights[offset:]``:
    :func:`~freeagentics.inference.policies._novelty_weights`, outcomes summed in order."""
    n_outcomes, n_states = p.shape
    eps = p.dtype.type(EPS)
    one = p.dtype.type(1.0)
    total = weights[offset]  # scratch for the column sums: the first row is written last
    for s in range(n_states):
        total[s] = p[0, s] + eps
    for o in range(1, n_outcomes):
        for s in range(n_states):
            total[s] += p[o, s] + eps
    for s in range(n_states):
        total[s] = one / total[s]
    for o in range(n_outcomes - 1, -1, -1):
        source, target = p[o], weights[offset + o]
        for s in range(n_states):
            value = source[s]
            target[s] = total[s] - one / (value + eps) if value > 0 else p.dtype.type(0.0)


#: name -> (serial, parallel) compiled kernel; no fused multiply-add ("contract"), so
#: the Dirichlet update rounds its product and its sum as numpy does
LEARNER_KERNELS = register_table(
    {"learner_step": _compile(_learner_step, fastmath=frozenset({"reassoc", "nsz"}))},
    parallel_from=PARALLEL_FROM,
)
