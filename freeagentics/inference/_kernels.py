"""Fused numba kernels for the hot loop of single-factor models with shared parameters.

Each kernel makes one pass over agents and allocates nothing per agent. Every kernel
exists twice: parallel over agents for large populations, and serial for small ones,
where waking threads would cost more than the work (:func:`for_size` picks).
"""

from __future__ import annotations

import time

import numba
import numpy as np

__all__ = ["KERNELS", "KernelSet", "for_size", "sparse_transitions"]

#: below this many agents the serial kernels win
PARALLEL_THRESHOLD = 4096

EPS = 1e-16


def sparse_transitions(B: np.ndarray, dtype) -> tuple[np.ndarray, np.ndarray]:
    """``B[:, :, u]`` by columns, padded to the densest column ("ELL" layout).

    Moves on a grid have one next state per state, so the prediction of the next
    state is a scatter of ``width = 1`` entry per state: a fixed-length loop the
    compiler vectorises, rather than rows of varying length.

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
        next_rows, next_values: :func:`sparse_transitions` of B.
        A_rows: ``(sum_m O_m, S)`` the A matrices of all modalities stacked by outcome.
        obs_rows: ``(N, M)`` row of ``A_rows`` observed per modality (offset + outcome).
        qs_out: ``(N, S)`` posterior (written).
        free_energy_out: ``(N,)`` variational free energy (written).
    """
    n_agents, n_states = qs_out.shape
    n_modalities = obs_rows.shape[1]
    width = next_rows.shape[1]
    eps = qs_out.dtype.type(EPS)
    zero = qs_out.dtype.type(0.0)
    for n in numba.prange(n_agents):
        a = actions[n]
        row = qs_out[n]
        if a >= 0:
            previous = qs_prev[n]
            row[:] = zero
            for k in range(width):
                targets = next_rows[a, k]
                weights = next_values[a, k]
                for j in range(n_states):
                    row[targets[j]] += weights[j] * previous[j]
        else:
            for i in range(n_states):
                row[i] = D[i]
        likelihood = A_rows[obs_rows[n, 0]]
        total = zero
        for i in range(n_states):
            lik = likelihood[i]
            for m in range(1, n_modalities):
                lik *= A_rows[obs_rows[n, m], i]
            joint = (row[i] + eps) * (lik + eps)
            row[i] = joint
            total += joint
        inverse = qs_out.dtype.type(1.0) / total
        for i in range(n_states):
            row[i] *= inverse
        free_energy_out[n] = -np.log(total)


@numba.njit(inline="always")
def _score_agent(
    n,
    predicted,
    width,
    obs_offsets,
    scores,
    score_row,
    use_utility,
    use_info_gain,
    steps,
    gamma,
    log_E,
    per_prefix,
    G_out,
    q_pi_out,
):  # pragma: no cover - compiled
    """G and q_pi of agent ``n`` from its predictions ``(K * width,)`` (see below)."""
    n_prefixes = per_prefix.shape[1]
    n_policies, horizon = steps.shape
    n_modalities = obs_offsets.shape[0] - 1
    total_obs = obs_offsets[n_modalities]
    eps = predicted.dtype.type(EPS)
    zero = predicted.dtype.type(0.0)
    for k in range(n_prefixes):
        base = k * width
        value = zero
        for m in range(n_modalities):
            for o in range(obs_offsets[m], obs_offsets[m + 1]):
                q = predicted[base + o]
                if use_utility:
                    value += q * scores[score_row, o]
                if use_info_gain:
                    value -= q * np.log(q + eps)
            if use_info_gain:
                value -= predicted[base + total_obs + m]
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


#: agents per block of the fused policy kernel (one scratch row per block)
_BLOCK = 64


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
    matrix-vector products run here, one agent at a time into a small scratch row, so
    one thread pool does all the work and no ``(N, K, O)`` array is stored.

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
    n_rows = predictions.shape[0]
    zero = qs.dtype.type(0.0)
    for block in numba.prange((n_agents + _BLOCK - 1) // _BLOCK):
        dots = np.empty(n_rows, dtype=qs.dtype)
        for n in range(block * _BLOCK, min(n_agents, (block + 1) * _BLOCK)):
            belief = qs[n]
            for r in range(n_rows):
                row = predictions[r]
                acc = zero
                for s in range(n_states):
                    acc += row[s] * belief[s]
                dots[r] = acc
            _score_agent(
                n,
                dots,
                width,
                obs_offsets,
                scores,
                n * score_stride,
                use_utility,
                use_info_gain,
                steps,
                gamma,
                log_E,
                per_prefix,
                G_out,
                q_pi_out,
            )


def _policy_scores_predicted(
    predicted,
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
    """:func:`_policy_scores` from predictions already computed: ``predicted`` is
    ``(N, K * width)``, ``qs @ predictions.T`` (e.g. by BLAS)."""
    for n in numba.prange(predicted.shape[0]):
        _score_agent(
            n,
            predicted[n],
            width,
            obs_offsets,
            scores,
            n * score_stride,
            use_utility,
            use_info_gain,
            steps,
            gamma,
            log_E,
            per_prefix,
            G_out,
            q_pi_out,
        )


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
    # reassociation lets LLVM vectorise the dot products; error stays at rounding level.
    # nogil: the kernels touch only arrays, so a server's event loop and request threads
    # keep running while a large cohort steps
    fastmath = {"reassoc", "contract", "nsz"}
    return (
        numba.njit(cache=True, nogil=True, fastmath=fastmath)(function),
        numba.njit(parallel=True, cache=True, nogil=True, fastmath=fastmath)(function),
    )


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
    ones, whichever of serial and parallel measures faster for this caller's size."""

    def __init__(self) -> None:
        self._choices: dict[str, _Choice] = {}

    # what was learned belongs to this process and machine: a restored copy measures anew
    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self._choices = {}

    def __call__(self, name: str, n_agents: int):
        if n_agents < PARALLEL_THRESHOLD:
            return KERNELS[name][0]
        choice = self._choices.get(name)
        if choice is None:
            choice = self._choices[name] = _Choice(*KERNELS[name])
        return choice


#: for callers without a set of their own
for_size = KernelSet()
