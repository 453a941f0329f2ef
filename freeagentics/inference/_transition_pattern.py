"""Per-agent learned transitions (B) in fused kernels: the entries that can be nonzero,
and the operations one agent's concentrations go through while it is in cache.

A Dirichlet update only adds to positive concentrations, so the entries of ``pB`` that
are not zero never grow beyond those of the model's B and of whatever was written
into ``pB`` (:func:`pattern_of_concentrations` takes their union over agents). A
kernel works on those ``E`` entries only: on a grid, one per state and control
(``S · U``) of the ``S² · U``. The engine keeps them per agent in a compact row
``(N, E)`` (:func:`entries_of`): an agent's dense ``(S, S, U)`` concentrations put the
entries of one column ``S · U`` apart, a cache line each, where the compact row reads
them in a few. Entries of the pattern that are zero for an agent contribute exact
zeros, so the numbers are those of the dense arrays, whatever the pattern.

Entries are listed by control, source state, then target state: those of control ``u``
are ``control_start[u]`` to ``control_start[u + 1]``; ``offset[e]`` is where entry ``e``
lies in an agent's flattened ``pB`` (``(i * S + j) * U + u``), ``target[e]`` its row
``i``, ``source[e]`` its column ``j`` and ``column[e]`` ``u * S + j``. For the
predictions of a policy tree they are also listed by rows, as
:func:`~freeagentics.inference._kernels.sparse_transitions` lists a shared B: state
``i`` of control ``u`` receives entry ``first[u, i]`` applied to state
``first_source[u, i]`` (entry ``E``, a zero, where it has no source), then the entries
``extra_entry[x]`` for ``x`` in ``extra_start[u]:extra_start[u + 1]``.
"""

from __future__ import annotations

import numba
import numpy as np

from freeagentics.inference._fastmath import EPS

__all__ = ["PATTERN_CHUNK", "entries_of", "pattern_of_concentrations", "transition_pattern"]

#: concentrations read per chunk when the union of nonzero entries is taken or the
#: entries are gathered (bounds the temporaries at 16 M values whatever the population)
PATTERN_CHUNK = 1 << 24


def pattern_of_concentrations(B: np.ndarray, pB: np.ndarray | None) -> np.ndarray:
    """Where ``B`` ``(S, S, U)`` or any agent's ``pB`` ``(N, S, S, U)`` is not zero."""
    mask = B != 0
    if pB is not None and pB.shape[0]:
        per_chunk = max(1, PATTERN_CHUNK // max(1, mask.size))
        for start in range(0, pB.shape[0], per_chunk):
            mask |= (pB[start : start + per_chunk] != 0).any(axis=0)
    return mask


def entries_of(pB: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Each agent's concentrations at the pattern's entries: ``(N, E)`` from ``pB``
    ``(N, S, S, U)`` and the entries' ``offset`` ``(E,)``."""
    flat = pB.reshape(pB.shape[0], int(np.prod(pB.shape[1:])))
    out = np.empty((pB.shape[0], offset.size), dtype=pB.dtype)
    per_chunk = max(1, PATTERN_CHUNK // max(1, offset.size))
    for start in range(0, pB.shape[0], per_chunk):
        out[start : start + per_chunk] = flat[start : start + per_chunk, offset]
    return out


def transition_pattern(mask: np.ndarray) -> tuple[np.ndarray, ...]:
    """The entries of ``mask`` ``(S, S, U)`` by columns and by rows (module docstring).

    Returns:
        ``(offset, target, source, column, control_start, first, first_source,
        extra_start, extra_source, extra_target, extra_entry)``, all int64: ``(E,)``
        four times, ``(U + 1,)``, ``(U, S)`` twice, ``(U + 1,)`` and ``(X,)`` thrice.
    """
    num_states, _, num_controls = mask.shape
    u, j, i = np.nonzero(mask.transpose(2, 1, 0))  # by control, source, target
    offset = (i * num_states + j) * num_controls + u
    control_start = np.zeros(num_controls + 1, dtype=np.int64)
    np.cumsum(np.bincount(u, minlength=num_controls), out=control_start[1:])
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
        as_int(j),
        as_int(u * num_states + j),
        control_start,
        first,
        first_source,
        extra_start,
        as_int(j[extra]),
        as_int(i[extra]),
        as_int(extra),
    )


@numba.njit(inline="always")
def normalise_entries(raw, pattern, start, end, totals, values):  # pragma: no cover
    """``values[e] = raw[e] / Z`` for entries ``start:end`` (whole controls), ``Z`` the
    sum of the entry's column (target states in order); ``raw`` one agent's compact
    concentrations, ``totals`` ``(U * S,)`` scratch."""
    column = pattern[3]
    for e in range(start, end):
        totals[column[e]] = 0.0
    for e in range(start, end):
        totals[column[e]] += raw[e]
    for e in range(start, end):
        values[e] = raw[e] / totals[column[e]]


@numba.njit(inline="always")
def novelty_weights(raw, pattern, n_states, totals, zeros, weights):  # pragma: no cover
    """``weights[e] = 1 / sum_i (p_i + ε) - 1 / (p_e + ε)`` where ``p_e > 0``, else 0:
    :func:`~freeagentics.inference.policies._novelty_weights` for every entry.

    Each column's sum runs over its nonzero entries, target states in order, then adds
    ``ε`` once per zero: whatever the pattern (shards of a cohort take their own), the
    same numbers. ``totals`` and ``zeros`` ``(U * S,)`` are scratch.
    """
    column = pattern[3]
    eps = raw.dtype.type(EPS)
    one = raw.dtype.type(1.0)
    totals[:] = 0.0
    zeros[:] = n_states
    for e in range(raw.shape[0]):
        value = raw[e]
        if value != 0:
            totals[column[e]] += value + eps
            zeros[column[e]] -= 1
    for c in range(totals.shape[0]):
        totals[c] = one / (totals[c] + eps * raw.dtype.type(zeros[c]))
    for e in range(raw.shape[0]):
        value = raw[e]
        weight = totals[column[e]] - one / (value + eps)
        weights[e] = weight if value > 0 else raw.dtype.type(0.0)


@numba.njit(inline="always")
def learned_prior(row, previous, action, D, raw, pattern, totals, values):  # pragma: no cover
    """``row = B_n[:, :, action] @ previous`` from one agent's compact concentrations
    ``raw``, or ``D`` when ``action < 0``; ``totals`` and ``values`` scratch."""
    if action < 0:
        row[:] = D
        return
    start, end = pattern[4][action], pattern[4][action + 1]
    normalise_entries(raw, pattern, start, end, totals, values)
    target, source = pattern[1], pattern[2]
    row[:] = 0.0
    for e in range(start, end):
        row[target[e]] += values[e] * previous[source[e]]


@numba.njit(inline="always")
def learned_predict(row, previous, control, values, pattern):  # pragma: no cover - compiled
    """``row = B_n[:, :, control] @ previous``, ``values`` the normalised entries
    (:func:`normalise_entries`) with ``values[E] = 0``."""
    first, first_source = pattern[5][control], pattern[6][control]
    extra_start, extra_source, extra_target, extra_entry = pattern[7:11]
    for i in range(row.shape[0]):
        row[i] = values[first[i]] * previous[first_source[i]]
    for x in range(extra_start[control], extra_start[control + 1]):
        row[extra_target[x]] += values[extra_entry[x]] * previous[extra_source[x]]


@numba.njit(inline="always")
def learn_control(raw, dense, pattern, action, q, q_prev, lr):  # pragma: no cover
    """``p[i, j, action] += lr * (q[i] * q_prev[j])`` where that concentration is
    positive, in the compact row ``raw`` and in the agent's flattened ``pB`` ``dense``:
    :func:`~freeagentics.inference.update_pB`'s roundings (product, scaling, sum)."""
    offset, target, source = pattern[0], pattern[1], pattern[2]
    for e in range(pattern[4][action], pattern[4][action + 1]):
        value = raw[e]
        if value > 0:
            value = value + lr * (q[target[e]] * q_prev[source[e]])
            raw[e] = value
            dense[offset[e]] = value


@numba.njit(inline="always")
def transition_novelty(state, previous, control, weights, pattern):  # pragma: no cover
    """``sum_i state[i] sum_j W[i, j, control] previous[j]`` over the pattern's entries,
    ``weights`` from :func:`novelty_weights`."""
    target, source = pattern[1], pattern[2]
    total = state.dtype.type(0.0)
    for e in range(pattern[4][control], pattern[4][control + 1]):
        total += state[target[e]] * (weights[e] * previous[source[e]])
    return total
