"""Policy evaluation for single-factor models whose A and B all agents share.

The predicted outcome of a policy's step ``t`` is linear in today's beliefs:
``qo = A_m B_{a_t} ... B_{a_1} qs``. Policies that begin alike share those
products, so each distinct action prefix is composed once per cohort and the
predictions of every agent for every prefix are rows of one matrix
``M (K * (O + M), S)`` applied to ``qs``; a fused kernel turns them into ``G`` and
``q_pi`` without storing the predictions.
The numbers are those of :func:`~freeagentics.inference.expected_free_energy` with
factorised information gain.
"""

from __future__ import annotations

import numpy as np

from freeagentics.inference._blas_threads import single_threaded_blas
from freeagentics.inference._kernels import KernelSet, for_size, scoring_terms
from freeagentics.inference._maths import entropy

__all__ = ["BLAS_MIN_AGENTS", "BLAS_ROWS", "PrefixPlan", "PrefixTree"]

#: prediction rows from which cohorts get their predictions from BLAS
BLAS_ROWS = 256
#: agents from which one BLAS call beats numba's per-agent products (measured on
#: deep-10: 3x faster at 1 000 agents, slower for a single agent)
BLAS_MIN_AGENTS = 16


class PrefixTree:
    """The distinct action prefixes of a single-factor policy set, parents first.

    Args:
        policies: ``(P, T, 1)``.

    Attributes:
        parent: ``(K,)`` int64, the prefix one step shorter (-1 for first steps).
        action: ``(K,)`` int64, the prefix's last action.
        steps: ``(P, T)`` int64, the prefix each policy has reached after step ``t``.
    """

    def __init__(self, policies: np.ndarray):
        num_policies, horizon, _ = policies.shape
        index: dict[tuple[int, ...], int] = {}
        parent: list[int] = []
        action: list[int] = []
        self.steps = np.empty((num_policies, horizon), dtype=np.int64)
        for p in range(num_policies):
            for t in range(horizon):
                key = tuple(int(a) for a in policies[p, : t + 1, 0])
                if key not in index:
                    index[key] = len(parent)
                    parent.append(index[key[:-1]] if t else -1)
                    action.append(key[-1])
                self.steps[p, t] = index[key]
        self.parent = np.array(parent, dtype=np.int64)
        self.action = np.array(action, dtype=np.int64)

    @property
    def size(self) -> int:
        return int(self.parent.size)


class PrefixPlan:
    """Precomposed predictions for every distinct action prefix of a policy set.

    Args:
        A: per modality ``(O_m, S)``.
        B: ``(S, S, U)``.
        policies: ``(P, T, 1)``.
        dtype: float dtype of the products.
    """

    def __init__(self, A: tuple[np.ndarray, ...], B: np.ndarray, policies: np.ndarray, dtype):
        tree = PrefixTree(policies)
        transitions: list[np.ndarray] = []  # B_{a_t} ... B_{a_1}: (S, S) per prefix
        for parent, action in zip(tree.parent, tree.action, strict=True):
            before = transitions[parent] if parent >= 0 else np.eye(B.shape[0])
            transitions.append(B[:, :, action] @ before)
        self.steps = tree.steps
        self.num_prefixes = len(transitions)
        self.num_obs = tuple(a.shape[0] for a in A)
        self.obs_offsets = np.cumsum([0, *self.num_obs]).astype(np.int64)
        # per prefix: every modality's outcome rows, then each modality's ambiguity row
        ambiguity = [entropy(a, axis=0) for a in A]  # (S,) per modality
        blocks = [
            np.concatenate([a @ tr for a in A] + [(h @ tr)[None, :] for h in ambiguity])
            for tr in transitions
        ]  # each (O_total + M, S)
        stacked = np.stack(blocks)  # (K, width, S)
        self.width = stacked.shape[1]
        self.matrix = np.ascontiguousarray(stacked.reshape(-1, stacked.shape[-1]), dtype=dtype)
        # Many prediction rows (long horizons): BLAS computes them several times faster than
        # numba's loops. The choice is fixed by the model and the population size (from
        # BLAS_MIN_AGENTS), never by timing, because the two sum in different orders: same
        # seed, same trajectory needs the same arithmetic.
        self.uses_blas = self.matrix.shape[0] >= BLAS_ROWS

    def evaluate(
        self,
        qs: np.ndarray,
        scores: np.ndarray | None,
        use_states_info_gain: bool,
        gamma: np.ndarray,
        log_E: np.ndarray,
        G_out: np.ndarray,
        q_pi_out: np.ndarray,
        workspace: dict[str, np.ndarray] | None = None,
        kernels: KernelSet = for_size,
    ) -> None:
        """Write ``G`` and ``q_pi`` (``(N, P)`` each) for beliefs ``qs`` ``(N, S)``.

        Args:
            scores: ``(1, O_total)`` shared or ``(N, O_total)`` per-agent outcome scores,
                None to leave utility out.
            gamma: ``(N,)``; log_E: ``(P,)``.
            workspace: reusable scratch buffers (kept between calls by the caller).
            kernels: the caller's kernel set (it learns serial vs parallel per caller).
        """
        n = qs.shape[0]
        ws = workspace if workspace is not None else {}
        per_prefix = _buffer(ws, "per_prefix", (n, self.num_prefixes), qs.dtype)
        use_utility = scores is not None
        if scores is None:
            scores = np.zeros((1, self.obs_offsets[-1]), dtype=qs.dtype)
        args = (
            qs,
            scores,
            use_utility,
            use_states_info_gain,
            gamma,
            log_E,
            per_prefix,
            G_out,
            q_pi_out,
        )
        if self.uses_blas and n >= BLAS_MIN_AGENTS:
            with single_threaded_blas():
                self._through_blas(kernels, ws, *args)
        else:
            self._fused(kernels, ws, *args)

    def _fused(
        self, kernels, ws, qs, scores, use_utility, info_gain, gamma, log_E, per_prefix, G, q_pi
    ):
        """Predictions and scores in one numba pass over agents."""
        scoring = self._scoring(scores, use_utility, info_gain, gamma, log_E)
        kernels("policy_scores", qs.shape[0])(qs, self.matrix, scoring, per_prefix, G, q_pi)

    def _scoring(self, scores, use_utility, info_gain, gamma, log_E) -> tuple:
        return scoring_terms(
            self.width, self.obs_offsets, scores, use_utility, info_gain, self.steps, gamma, log_E
        )

    def _through_blas(
        self, kernels, ws, qs, scores, use_utility, info_gain, gamma, log_E, per_prefix, G, q_pi
    ):
        """Predictions by BLAS, a block of agents at a time (the block's predictions stay
        in cache), then the scores from them, by the kernel variant (serial or parallel)
        the caller's kernel set chose for the whole population: a block is small, its
        scoring is not (several microseconds an agent)."""
        n, rows = qs.shape[0], self.matrix.shape[0]
        block = max(256, (1 << 21) // (rows * qs.itemsize))
        buf = _buffer(ws, "predicted", (min(block, n), rows), qs.dtype)
        per_agent = scores.shape[0] > 1
        for start in range(0, n, block):
            stop = min(n, start + block)
            predicted = np.matmul(qs[start:stop], self.matrix.T, out=buf[: stop - start])
            scoring = self._scoring(
                scores[start:stop] if per_agent else scores,
                use_utility,
                info_gain,
                gamma[start:stop],
                log_E,
            )
            kernels("policy_scores_predicted", n)(
                predicted, scoring, per_prefix[start:stop], G[start:stop], q_pi[start:stop]
            )


def _buffer(
    workspace: dict[str, np.ndarray], name: str, shape: tuple[int, ...], dtype
) -> np.ndarray:
    """A scratch array reused across ticks: fresh large arrays cost page faults each time."""
    buf = workspace.get(name)
    if buf is None or buf.shape != shape or buf.dtype != dtype:
        buf = workspace[name] = np.empty(shape, dtype=dtype)
    return buf
