"""Fused numba kernels for the hot loop of single-factor models with shared parameters.

Each kernel makes one pass over agents and allocates nothing per agent. Every kernel
exists twice: parallel over agents for large populations, and serial for small ones,
where waking threads would cost more than the work (:func:`for_size` picks).
"""

from __future__ import annotations

import time

import numba
import numpy as np

from freeagentics.inference._fastmath import EPS, exp_shifted_into, plogp_into

__all__ = [
    "KERNELS",
    "KernelSet",
    "column_transitions",
    "for_size",
    "register_table",
    "scoring_terms",
    "sparse_transitions",
]

#: below this many agents the serial kernels win
PARALLEL_THRESHOLD = 4096


def column_transitions(B: np.ndarray, dtype) -> tuple[np.ndarray, np.ndarray]:
    """``B[:, :, u]`` by columns, padded to the densest column ("ELL" layout), for
    :func:`predict_prior`: one prediction per agent scatters each state to where it
    moves (measured faster there than the gathers of :func:`sparse_transitions`).

    Args:
        B: ``(S, S, U)``.

    Returns:
        ``rows`` ``(U, width, S)`` int64 and ``values`` ``(U, width, S)``: state ``j``
        moves to ``rows[u, k, j]`` with probability ``values[u, k, j]`` (padding has
        probability 0).
    """
    num_states, _, num_controls = B.shape
    width = max(1, int((B != 0).sum(axis=0).max()))
    rows = np.zeros((num_controls, width, num_states), dtype=np.int64)
    values = np.zeros((num_controls, width, num_states), dtype=dtype)
    for u in range(num_controls):
        for j in range(num_states):
            nonzero = np.flatnonzero(B[:, j, u])
            rows[u, : nonzero.size, j] = nonzero
            values[u, : nonzero.size, j] = B[nonzero, j, u]
    return rows, values


def sparse_transitions(B: np.ndarray, dtype) -> tuple[np.ndarray, ...]:
    """``B[:, :, u]`` by rows: one gathered source per state, the rest listed apart.

    For :func:`predict_into`, a policy tree's many predictions per agent. Moves on a
    grid reach most states from one state (a wall state also from itself), so a
    prediction is one gather per state — a fixed-length loop the compiler vectorises
    — plus a short list of further sources.

    Args:
        B: ``(S, S, U)``.

    Returns:
        ``(sources, weights, extra_start, extra_rows, extra_sources, extra_weights)``:
        state ``i`` receives ``weights[u, i] * q[sources[u, i]]`` (``sources`` ``(U, S)``
        int32, its first source; weight 0 from state 0 where it has none), then
        ``extra_weights[e] * q[extra_sources[e]]`` into ``extra_rows[e]`` for
        ``e`` in ``extra_start[u]:extra_start[u + 1]`` (int64 ``(U + 1,)``; int32 and
        ``dtype`` ``(E,)``), a state's sources in increasing order.
    """
    num_states, _, num_controls = B.shape
    sources = np.zeros((num_controls, num_states), dtype=np.int32)
    weights = np.zeros((num_controls, num_states), dtype=dtype)
    extra_start = np.zeros(num_controls + 1, dtype=np.int64)
    extras: list[tuple[int, int, float]] = []
    for u in range(num_controls):
        for i in range(num_states):
            nonzero = np.flatnonzero(B[i, :, u])
            if nonzero.size:
                sources[u, i], weights[u, i] = nonzero[0], B[i, nonzero[0], u]
            extras.extend((i, int(j), float(B[i, j, u])) for j in nonzero[1:])
        extra_start[u + 1] = len(extras)
    table = np.array(extras, dtype=np.float64).reshape(-1, 3)
    return (
        sources,
        weights,
        extra_start,
        table[:, 0].astype(np.int32),
        table[:, 1].astype(np.int32),
        table[:, 2].astype(dtype),
    )


def _single_factor_posterior(
    qs_prev, actions, D, next_rows, next_values, A_rows, obs_rows, qs_out, free_energy_out
):  # pragma: no cover - compiled
    """Posterior over states after one observation, for every agent.

    ``q(s) ∝ (p(o|s) + ε)(prior(s) + ε)`` — the same numbers as
    ``softmax(ln(p(o|s) + ε) + ln(prior(s) + ε))`` without a logarithm per state — and
    the variational free energy at that posterior is ``-ln Z``, Z the normaliser.

    Args:
        qs_prev: ``(N, S)`` beliefs at the previous step.
        actions: ``(N,)`` control taken since, or -1 to use the prior ``D`` instead.
        D: ``(S,)``.
        next_rows, next_values: :func:`column_transitions` of B.
        A_rows: ``(sum_m O_m, S)`` the A matrices of all modalities stacked by outcome.
        obs_rows: ``(N, M)`` row of ``A_rows`` observed per modality (offset + outcome).
        qs_out: ``(N, S)`` posterior (written).
        free_energy_out: ``(N,)`` variational free energy (written).
    """
    n_agents, n_states = qs_out.shape
    for block in numba.prange((n_agents + _BLOCK - 1) // _BLOCK):
        lik = np.empty(n_states, dtype=qs_out.dtype)
        for n in range(block * _BLOCK, min(n_agents, (block + 1) * _BLOCK)):
            predict_prior(qs_out[n], qs_prev[n], actions[n], D, next_rows, next_values)
            _condition_of(n, A_rows, obs_rows, qs_out, free_energy_out, lik)


@numba.njit(inline="always")
def _condition_of(n, A_rows, obs_rows, qs_out, free_energy_out, lik):  # pragma: no cover
    """Agent ``n``'s prior in ``qs_out[n]`` conditioned on its observations;
    ``lik`` ``(S,)`` scratch."""
    lik[:] = A_rows[obs_rows[n, 0]]
    for m in range(1, obs_rows.shape[1]):
        other = A_rows[obs_rows[n, m]]
        for i in range(lik.shape[0]):
            lik[i] *= other[i]
    free_energy_out[n] = condition_on(qs_out[n], lik)


@numba.njit(inline="always")
def predict_into(row, previous, action, transitions):  # pragma: no cover - compiled
    """``row = B[:, :, action] @ previous``, B as :func:`sparse_transitions` gives it."""
    sources, weights, extra_start, extra_rows, extra_sources, extra_weights = transitions
    first_sources = sources[action]
    first_weights = weights[action]
    for i in range(row.shape[0]):
        row[i] = first_weights[i] * previous[first_sources[i]]
    for e in range(extra_start[action], extra_start[action + 1]):
        row[extra_rows[e]] += extra_weights[e] * previous[extra_sources[e]]


@numba.njit(inline="always")
def predict_prior(row, previous, action, D, next_rows, next_values):  # pragma: no cover
    """``row = B[:, :, action] @ previous`` (:func:`column_transitions`), or ``D`` when
    ``action < 0``."""
    if action < 0:
        row[:] = D
        return
    row[:] = 0.0
    for k in range(next_rows.shape[1]):
        targets = next_rows[action, k]
        weights = next_values[action, k]
        for j in range(row.shape[0]):
            row[targets[j]] += weights[j] * previous[j]


@numba.njit(inline="always")
def condition_on(row, likelihood):  # pragma: no cover - compiled
    """``row ∝ (row + ε)(likelihood + ε)`` in place, normalised; returns ``-ln Z``, the
    variational free energy at that posterior (Z the normaliser)."""
    eps = row.dtype.type(EPS)
    total = row.dtype.type(0.0)
    for i in range(row.shape[0]):
        joint = (row[i] + eps) * (likelihood[i] + eps)
        row[i] = joint
        total += joint
    inverse = row.dtype.type(1.0) / total
    for i in range(row.shape[0]):
        row[i] *= inverse
    return -np.log(total)


@numba.njit(inline="always")
def _score_agent(n, predicted, terms, scoring, per_prefix, G_out, q_pi_out):  # pragma: no cover
    """G and q_pi of agent ``n`` from its predictions ``(width * K,)``: what
    :func:`prefix_values` scores each prefix, summed along policies by
    :func:`policy_rows`."""
    prefix_values(n, predicted, terms, scoring, per_prefix)
    policy_rows(n, scoring, per_prefix, G_out, q_pi_out)


@numba.njit(inline="always")
def prefix_values(n, predicted, terms, scoring, per_prefix):  # pragma: no cover - compiled
    """Expected utility plus state information gain of each prefix for agent ``n``,
    into ``per_prefix[n]`` ``(K,)``.

    ``predicted[o * K + k]`` is outcome ``o`` (all modalities side by side) after
    prefix ``k``, ``predicted[(O_total + m) * K + k]`` the expected ambiguity of
    modality ``m`` after it: prefixes are the fastest axis, so each step below is a
    loop over prefixes that the compiler vectorises. ``scoring`` is the tuple
    :func:`scoring_terms` builds; ``terms`` (as long as ``predicted``) is scratch.
    """
    _, obs_offsets, scores, score_stride, use_utility, use_info_gain, _, _, _ = scoring
    score_row = n * score_stride
    values = per_prefix[n]
    n_prefixes = values.shape[0]
    n_modalities = obs_offsets.shape[0] - 1
    total_obs = obs_offsets[n_modalities]
    outcome_entries = total_obs * n_prefixes
    values[:] = predicted.dtype.type(0.0)
    if use_utility:
        for o in range(total_obs):
            score = scores[score_row, o]
            row = predicted[o * n_prefixes : (o + 1) * n_prefixes]
            for k in range(n_prefixes):
                values[k] += row[k] * score
    if use_info_gain:
        plogp_into(predicted[:outcome_entries], terms[:outcome_entries])
        for r in range(total_obs + n_modalities):
            source = terms if r < total_obs else predicted
            row = source[r * n_prefixes : (r + 1) * n_prefixes]
            for k in range(n_prefixes):
                values[k] -= row[k]


@numba.njit(inline="always")
def policy_rows(n, scoring, per_prefix, G_out, q_pi_out):  # pragma: no cover - compiled
    """Row ``n`` of ``G_out`` and ``q_pi_out`` ``(N, P)``: each policy's ``G`` the sum of
    ``per_prefix[n]`` over the prefixes it passes through, ``q_pi = softmax(gamma * G
    + ln E)``."""
    steps, gamma, log_E = scoring[6], scoring[7], scoring[8]
    values = per_prefix[n]
    horizon, n_policies = steps.shape
    zero = values.dtype.type(0.0)
    G = G_out[n]
    G[:] = zero
    for t in range(horizon):
        at_step = steps[t]
        for p in range(n_policies):
            G[p] += values[at_step[p]]
    row = q_pi_out[n]
    best = -np.inf
    for p in range(n_policies):
        logit = gamma[n] * G[p] + log_E[p]
        row[p] = logit
        best = max(best, logit)
    exp_shifted_into(row, best)
    total = zero
    for p in range(n_policies):
        total += row[p]
    for p in range(n_policies):
        row[p] /= total


def scoring_terms(
    width: int,
    obs_offsets: np.ndarray,
    scores: np.ndarray,
    use_utility: bool,
    use_info_gain: bool,
    steps: np.ndarray,
    gamma: np.ndarray,
    log_E: np.ndarray,
) -> tuple:
    """What the policy kernels need to turn predictions into ``G`` and ``q_pi``.

    Args:
        width: prediction rows per prefix: ``O_total`` outcome rows and one
            expected-ambiguity row per modality (see :func:`prefix_values` for the order).
        obs_offsets: ``(M + 1,)`` start of each modality's outcomes, and ``O_total``.
        scores: ``(N or 1, O_total)`` outcome scores (``ln softmax(C)`` or ``C``); one
            row is shared by every agent.
        steps: ``(T, P)`` prefix index of each policy step (time-major).
        gamma: ``(N,)`` policy precision; log_E: ``(P,)``.
    """
    stride = int(scores.shape[0] > 1)
    return (width, obs_offsets, scores, stride, use_utility, use_info_gain, steps, gamma, log_E)


#: agents per block of the fused policy kernels (one set of scratch rows per block)
_BLOCK = 64


def _policy_scores(qs, predictions, scoring, per_prefix, G_out, q_pi_out):  # pragma: no cover
    """Negative expected free energy and posterior of every policy, for every agent.

    Per action prefix ``k``: the predicted outcomes ``qo = predictions[k] @ qs`` and
    ambiguity, then expected utility plus information gain; per policy: the sum over
    the prefixes it passes through; then ``q_pi = softmax(gamma * G + ln E)``. The
    matrix-vector products run here, one agent at a time into a small scratch row, so
    one thread pool does all the work and no ``(N, K, O)`` array is stored.

    Args:
        qs: ``(N, S)`` beliefs.
        predictions: ``(width * K, S)``, rows in the order of :func:`prefix_values`'s
            ``predicted``: outcome-major, prefixes within.
        scoring: :func:`scoring_terms`.
        per_prefix: ``(N, K)`` scratch; G_out, q_pi_out: ``(N, P)`` (written).
    """
    n_agents = qs.shape[0]
    n_rows = predictions.shape[0]
    for block in numba.prange((n_agents + _BLOCK - 1) // _BLOCK):
        dots = np.empty(n_rows, dtype=qs.dtype)
        terms = np.empty(n_rows, dtype=qs.dtype)
        for n in range(block * _BLOCK, min(n_agents, (block + 1) * _BLOCK)):
            _policies_of(n, qs[n], predictions, scoring, per_prefix, G_out, q_pi_out, dots, terms)


@numba.njit(inline="always")
def _policies_of(
    n, belief, predictions, scoring, per_prefix, G_out, q_pi_out, dots, terms
):  # pragma: no cover - compiled
    """Agent ``n``'s rows of :func:`_policy_scores` from its beliefs ``belief`` ``(S,)``;
    ``dots`` and ``terms`` are scratch as long as ``predictions``."""
    zero = belief.dtype.type(0.0)
    for r in range(predictions.shape[0]):
        row = predictions[r]
        acc = zero
        for s in range(belief.shape[0]):
            acc += row[s] * belief[s]
        dots[r] = acc
    _score_agent(n, dots, terms, scoring, per_prefix, G_out, q_pi_out)


def _policy_scores_predicted(predicted, scoring, per_prefix, G_out, q_pi_out):  # pragma: no cover
    """:func:`_policy_scores` from predictions already computed: ``predicted`` is
    ``(N, K * width)``, ``qs @ predictions.T`` (e.g. by BLAS)."""
    n_agents, n_rows = predicted.shape
    for block in numba.prange((n_agents + _BLOCK - 1) // _BLOCK):
        terms = np.empty(n_rows, dtype=predicted.dtype)
        for n in range(block * _BLOCK, min(n_agents, (block + 1) * _BLOCK)):
            _score_agent(n, predicted[n], terms, scoring, per_prefix, G_out, q_pi_out)


def _marginal_argmax(q_pi, policy_actions, num_controls, tolerance, out):  # pragma: no cover
    """Most probable control of one factor, summing ``q_pi`` over policies that share it.

    Args:
        q_pi: ``(N, P)``; policy_actions: ``(P,)`` control of this factor per policy.
        tolerance: controls whose mass is within this of the largest count as tied.
        out: ``(N,)`` int64 (written); ties go to the lowest control, as
            :func:`~freeagentics.inference.select_actions` breaks them.

    One pass over policies per agent; each control's mass is summed over its policies
    in order, in float64.
    """
    for block in numba.prange((q_pi.shape[0] + _BLOCK - 1) // _BLOCK):
        mass = np.empty(num_controls, dtype=np.float64)
        for n in range(block * _BLOCK, min(q_pi.shape[0], (block + 1) * _BLOCK)):
            mass[:] = 0.0
            row = q_pi[n]
            for p in range(row.shape[0]):
                mass[policy_actions[p]] += row[p]
            best_mass = -1.0
            for u in range(num_controls):
                best_mass = max(best_mass, mass[u])
            chosen = 0
            for u in range(num_controls):
                if mass[u] >= best_mass - tolerance:
                    chosen = u
                    break
            out[n] = chosen


def _compile(function, fastmath=frozenset({"reassoc", "contract", "nsz"})):
    """Serial and parallel variants of a kernel.

    Reassociation lets LLVM vectorise the dot products (error stays at rounding
    level). numpy's error model: a float division by zero gives inf or nan as in
    numpy instead of a check that raises, and without that branch loops that divide
    vectorise. nogil: the kernels touch only arrays, so a server's event loop and request
    threads keep running while a large cohort steps.
    """
    options = dict(cache=True, nogil=True, fastmath=set(fastmath), error_model="numpy")
    return numba.njit(**options)(function), numba.njit(parallel=True, **options)(function)


def _row_entropy(p, out):  # pragma: no cover - compiled
    """Shannon entropy of each row of ``p`` ``(N, K)`` into ``out`` ``(N,)`` (nats)."""
    eps = p.dtype.type(EPS)
    for n in numba.prange(p.shape[0]):
        row = p[n]
        total = p.dtype.type(0.0)
        for k in range(row.shape[0]):
            total -= row[k] * np.log(row[k] + eps)
        out[n] = total


_LN2 = float(np.log(2.0))


def _row_entropy_approx(p, out):  # pragma: no cover - compiled
    """:func:`_row_entropy` for float32 rows, with a vectorisable logarithm.

    ``ln x`` from the float's exponent and ``2·atanh(s)``, ``s = (m-1)/(m+1)`` for its
    mantissa ``m`` in [1, 2), to the s⁷ term: absolute error below 2e-5 per logarithm,
    far below what an entropy reported as a metric needs, and the loop vectorises
    where a call to ``log`` per element does not.
    """
    bits = p.view(np.uint32)
    for n in numba.prange(p.shape[0]):
        row, raw = p[n], bits[n]
        total = np.float32(0.0)
        for k in range(row.shape[0]):
            b = raw[k]
            exponent = np.float32(np.int32((b >> np.uint32(23)) & np.uint32(0xFF)) - np.int32(127))
            mantissa = np.float32(1.0) + np.float32(b & np.uint32(0x7FFFFF)) * np.float32(
                1.0 / 8388608.0
            )
            s = (mantissa - np.float32(1.0)) / (mantissa + np.float32(1.0))
            s2 = s * s
            series = s * (
                np.float32(2.0)
                + s2 * (np.float32(2.0 / 3.0) + s2 * (np.float32(0.4) + s2 * np.float32(2.0 / 7.0)))
            )
            total -= row[k] * (exponent * np.float32(_LN2) + series)
        out[n] = total


#: name -> (serial, parallel) compiled kernel
KERNELS = {
    "single_factor_posterior": _compile(_single_factor_posterior),
    "policy_scores": _compile(_policy_scores),
    "policy_scores_predicted": _compile(_policy_scores_predicted),
    "marginal_argmax": _compile(_marginal_argmax),
    "row_entropy": _compile(_row_entropy),
    "row_entropy_approx": _compile(_row_entropy_approx),
}


class _Choice:
    """Serial or parallel for one kernel at large sizes, chosen by measuring both.

    Threads pay off on an idle machine and lose when the other core is busy (a
    parallel pass then waits for the slowest thread), so neither choice is right
    everywhere: each variant runs ``TRIALS`` times, the faster median wins, and the
    contest is held again every ``RECHECK`` calls.
    """

    TRIALS = 3
    RECHECK = 500

    def __init__(self, serial, parallel):
        self.variants = (serial, parallel)
        self.samples: tuple[list[float], list[float]] = ([], [])
        self.winner: int | None = None
        self.calls = 0

    def __call__(self, *args):
        self.calls += 1
        if self.winner is not None and self.calls % self.RECHECK == 0:
            self.winner, self.samples = None, ([], [])
        if self.winner is not None:
            return self.variants[self.winner](*args)
        which = 0 if len(self.samples[0]) <= len(self.samples[1]) else 1
        start = time.perf_counter()
        result = self.variants[which](*args)
        self.samples[which].append(time.perf_counter() - start)
        if min(len(x) for x in self.samples) >= self.TRIALS:
            serial, parallel = (sorted(x)[len(x) // 2] for x in self.samples)
            self.winner = 1 if parallel < serial else 0
        return result


class KernelSet:
    """Kernels for one caller (e.g. one cohort): serial for small populations; for large
    ones, whichever of serial and parallel measures faster for this caller's size.

    Args:
        table: name -> (serial, parallel) kernels to choose from (default :data:`KERNELS`).
    """

    def __init__(self, table: dict | None = None) -> None:
        self._table = KERNELS if table is None else table
        self._choices: dict[str, _Choice] = {}

    # what was learned belongs to this process and machine: a restored copy measures anew
    def __getstate__(self) -> dict:
        return {"table": None if self._table is KERNELS else sorted(self._table)}

    def __setstate__(self, state: dict) -> None:
        names = state.get("table")
        self._table = KERNELS if names is None else _registered(names)
        self._choices = {}

    def serial(self, name: str):
        """The serial variant of kernel ``name`` (e.g. for a caller's own threads)."""
        return self._table[name][0]

    def choice(self, name: str, serial, parallel) -> _Choice:
        """This set's measured choice between two callables doing the same work,
        kept under ``name`` (made on first use from ``serial`` and ``parallel``)."""
        choice = self._choices.get(name)
        if choice is None:
            choice = self._choices[name] = _Choice(serial, parallel)
        return choice

    def __call__(self, name: str, n_agents: int):
        if n_agents < _PARALLEL_FROM.get(name, PARALLEL_THRESHOLD):
            return self._table[name][0]
        choice = self._choices.get(name)
        if choice is None:
            choice = self._choices[name] = _Choice(*self._table[name])
        return choice


#: every table a KernelSet may hold, so a pickled set finds its kernels again
_TABLES: list[dict] = [KERNELS]
#: kernel name -> population from which its parallel variant is tried, where that is
#: not PARALLEL_THRESHOLD (kernels with microseconds of work per agent pay for
#: waking threads from a few hundred agents up)
_PARALLEL_FROM: dict[str, int] = {}


def register_table(table: dict, parallel_from: int | None = None) -> dict:
    """Make ``table``'s kernels restorable by name when a pickled KernelSet is loaded;
    ``parallel_from``: population from which their parallel variants are tried."""
    _TABLES.append(table)
    if parallel_from is not None:
        _PARALLEL_FROM.update(dict.fromkeys(table, parallel_from))
    return table


def _registered(names: list[str]) -> dict:
    merged = {k: v for t in _TABLES for k, v in t.items()}
    return {name: merged[name] for name in names}


#: for callers without a set of their own
for_size = KernelSet()
