"""Per-agent learned transitions (B) in fused kernels: their sparsity pattern, and the
operations one agent's concentrations ``pB[n]`` go through while that agent is in cache.

A Dirichlet update only adds to positive concentrations, so the entries of ``pB`` that
are not zero never grow beyond those of the model's B and of whatever was written
into ``pB`` (:func:`transition_pattern` takes their union over agents). A kernel reads
only those entries of an agent's dense ``(S, S, U)`` concentrations: on a grid, one
per state and control (``S · U``) instead of ``S² · U``. Entries of the pattern that
are zero for an agent contribute exact zeros, so the numbers are those of the dense
arrays.

Entries are listed by columns (control, source state, then target state, increasing):
``column_start[u * S + j]`` to ``column_start[u * S + j + 1]`` are column ``j`` of
``B[:, :, u]``, ``offset[e]`` where entry ``e`` lies in an agent's flattened ``pB``
(``(i * S + j) * U + u``) and ``target[e]`` its row ``i``. For the predictions of a
policy tree they are also listed by rows, as :func:`~freeagentics.inference._kernels.
sparse_transitions` lists a shared B: state ``i`` of control ``u`` receives entry
``first[u, i]`` applied to state ``first_source[u, i]`` (entry ``E``, a zero, where it
has no source), then the entries ``extra_entry[x]`` for ``x`` in ``extra_start[u]:
extra_start[u + 1]``.
"""

from __future__ import annotations

import numba
import numpy as np

from freeagentics.inference._fastmath import EPS

__all__ = ["PATTERN_CHUNK", "pattern_of_concentrations", "transition_pattern"]

#: concentrations read per chunk when the union of nonzero entries is taken (bounds
#: the temporary boolean array at 16 MB whatever the population)
PATTERN_CHUNK = 1 << 24


def pattern_of_concentrations(B: np.ndarray, pB: np.ndarray | None) -> np.ndarray:
    """Where ``B`` ``(S, S, U)`` or any agent's ``pB`` ``(N, S, S, U)`` is not zero."""
    mask = B != 0
    if pB is not None and pB.shape[0]:
        per_agent = max(1, PATTERN_CHUNK // max(1, mask.size))
        for start in range(0, pB.shape[0], per_agent):
            mask |= (pB[start : start + per_agent] != 0).any(axis=0)
    return mask


def transition_pattern(mask: np.ndarray) -> tuple[np.ndarray, ...]:
    """The entries of ``mask`` ``(S, S, U)`` by columns and by rows (module docstring).

    Returns:
        ``(offset, target, column_start, first, first_source, extra_start,
        extra_source, extra_target, extra_entry)``, all int64: ``(E,)``, ``(E,)``,
        ``(U * S + 1,)``, ``(U, S)``, ``(U, S)``, ``(U + 1,)`` and ``(X,)`` thrice.
    """
    num_states, _, num_controls = mask.shape
    u, j, i = np.nonzero(mask.transpose(2, 1, 0))  # by control, source, target
    offset = (i * num_states + j) * num_controls + u
    column_start = np.zeros(num_controls * num_states + 1, dtype=np.int64)
    per_column = np.bincount(u * num_states + j, minlength=num_controls * num_states)
    np.cumsum(per_column, out=column_start[1:])
    entries = i.size
    first = np.full((num_controls, num_states), entries, dtype=np.int64)
    first_source = np.zeros((num_controls, num_states), dtype=np.int64)
    by_rows = np.lexsort((j, i, u))  # by control, target, source
    is_first = np.ones(entries, dtype=bool)
    is_first[1:] = (u[by_rows][1:] != u[by_rows][:-1]) | (i[by_rows][1:] != i[by_rows][:-1])
    leading = by_rows[is_first]
    first[u[leading], i[leading]] = leading
    first_source[u[leading], i[leading]] = j[leading]
    extra = by_rows[~is_first]  # by control, then target and source
    extra_start = np.zeros(num_controls + 1, dtype=np.int64)
    np.cumsum(np.bincount(u[extra], minlength=num_controls), out=extra_start[1:])
    as_int = lambda x: np.ascontiguousarray(x, dtype=np.int64)  # noqa: E731
    return (
        as_int(offset),
        as_int(i),
        column_start,
        first,
        first_source,
        extra_start,
        as_int(j[extra]),
        as_int(i[extra]),
        as_int(extra),
    )


@numba.njit(inline="always")
def normalise_control(p, pattern, control, n_states, values):  # pragma: no cover - compiled
    """``values[e] = p[offset[e]] / Z`` for the entries of ``B[:, :, control]``, ``Z`` the
    sum of the entry's column (target states in order); ``p`` one agent's flattened
    concentrations."""
    offset, column_start = pattern[0], pattern[2]
    for c in range(control * n_states, (control + 1) * n_states):
        start, end = column_start[c], column_start[c + 1]
        total = p.dtype.type(0.0)
        for e in range(start, end):
            total += p[offset[e]]
        for e in range(start, end):
            values[e] = p[offset[e]] / total


@numba.njit(inline="always")
def novelty_of_control(p, pattern, control, n_states, weights):  # pragma: no cover - compiled
    """``weights[e] = 1 / sum_i (p_i + ε) - 1 / (p_e + ε)`` where ``p_e > 0``, else 0: the
    novelty weights of :func:`~freeagentics.inference.policies._novelty_weights` for the
    entries of ``B[:, :, control]``.

    The sum runs over the column's nonzero entries, target states in order, then adds
    ``ε`` once per zero: whatever the pattern (shards of a cohort take their own), the
    same numbers.
    """
    offset, column_start = pattern[0], pattern[2]
    eps = p.dtype.type(EPS)
    one = p.dtype.type(1.0)
    for c in range(control * n_states, (control + 1) * n_states):
        start, end = column_start[c], column_start[c + 1]
        total = p.dtype.type(0.0)
        zeros = n_states
        for e in range(start, end):
            value = p[offset[e]]
            if value != 0:
                total += value + eps
                zeros -= 1
        inverse = one / (total + eps * p.dtype.type(zeros))
        for e in range(start, end):
            value = p[offset[e]]
            weights[e] = inverse - one / (value + eps) if value > 0 else p.dtype.type(0.0)


@numba.njit(inline="always")
def learned_prior(row, previous, action, D, p, pattern, values):  # pragma: no cover - compiled
    """``row = B_n[:, :, action] @ previous`` from one agent's concentrations ``p``, or
    ``D`` when ``action < 0``; ``values`` ``(E + 1,)`` scratch."""
    if action < 0:
        row[:] = D
        return
    n_states = row.shape[0]
    normalise_control(p, pattern, action, n_states, values)
    target, column_start = pattern[1], pattern[2]
    row[:] = 0.0
    for j in range(n_states):
        c = action * n_states + j
        source = previous[j]
        for e in range(column_start[c], column_start[c + 1]):
            row[target[e]] += values[e] * source


@numba.njit(inline="always")
def learned_predict(row, previous, control, values, pattern):  # pragma: no cover - compiled
    """``row = B_n[:, :, control] @ previous``, ``values`` the normalised entries
    (:func:`normalise_control`) with ``values[E] = 0``."""
    first, first_source = pattern[3][control], pattern[4][control]
    extra_start, extra_source, extra_target, extra_entry = pattern[5:9]
    for i in range(row.shape[0]):
        row[i] = values[first[i]] * previous[first_source[i]]
    for x in range(extra_start[control], extra_start[control + 1]):
        row[extra_target[x]] += values[extra_entry[x]] * previous[extra_source[x]]


@numba.njit(inline="always")
def learn_control(p, pattern, action, q, q_prev, lr):  # pragma: no cover - compiled
    """``p[i, j, action] += lr * (q[i] * q_prev[j])`` where that concentration is
    positive: :func:`~freeagentics.inference.update_pB`'s roundings (product, scaling,
    sum)."""
    n_states = q.shape[0]
    offset, target, column_start = pattern[0], pattern[1], pattern[2]
    for j in range(n_states):
        c = action * n_states + j
        source = q_prev[j]
        for e in range(column_start[c], column_start[c + 1]):
            k = offset[e]
            if p[k] > 0:
                p[k] = p[k] + lr * (q[target[e]] * source)


@numba.njit(inline="always")
def transition_novelty(state, previous, control, weights, pattern):  # pragma: no cover
    """``sum_i state[i] sum_j W[i, j, control] previous[j]`` over the pattern's entries,
    ``weights`` from :func:`novelty_of_control`."""
    target, column_start = pattern[1], pattern[2]
    n_states = state.shape[0]
    total = state.dtype.type(0.0)
    for j in range(n_states):
        c = control * n_states + j
        source = previous[j]
        for e in range(column_start[c], column_start[c + 1]):
            total += state[target[e]] * (weights[e] * source)
    return total
