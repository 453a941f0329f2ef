"""Policy evaluation for single-factor models whose A and B all agents share.

The predicted outcome of a policy's step ``t`` is linear in today's beliefs:
``qo = A_m B_{a_t} ... B_{a_1} qs``. Policies that begin alike share those
products, so each distinct action prefix is composed once per cohort and the
predictions of every agent for every prefix are rows of one matrix
``M ((O + M) * K, S)`` applied to ``qs`` (outcome-major, prefixes within); a fused
kernel turns them into ``G`` and ``q_pi`` without storing the predictions.
The numbers are those of :func:`~freeagentics.inference.expected_free_energy` with
factorised information gain.
"""

from __future__ import annotations

import numpy as np

from freeagentics.inference._blas_threads import single_threaded_blas
from freeagentics.inference._kernels import KernelSet, for_size, scoring_terms
from freeagentics.inference._maths import entropy
from freeagentics.inference._worker_threads import worker_count, worker_pool

__all__ = ["BLAS_MIN_AGENTS", "BLAS_ROWS", "THREADS_FROM", "PrefixPlan", "PrefixTree"]

#: prediction rows from which cohorts get their predictions from BLAS (measured: at
#: 246 rows, deep-10's, BLAS takes half the time of numba's per-agent products; at 30,
#: explorer-10's, the two are level and numba's fuse with the posterior)
BLAS_ROWS = 64
#: agents from which one BLAS call beats numba's per-agent products (measured on
#: deep-10: 3x faster at 1 000 agents, slower for a single agent)
BLAS_MIN_AGENTS = 16
#: agents from which worker threads may share the BLAS pipeline (a few microseconds
#: of work per agent: a millisecond per call at this size)
THREADS_FROM = 512


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

    Prefixes whose predictions are equal share them (explorer-10 with ``policy_len``
    3: 155 prefixes, 41 distinct predictions; 4: 780 and 91).

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
        self.num_obs = tuple(a.shape[0] for a in A)
        self.obs_offsets = np.cumsum([0, *self.num_obs]).astype(np.int64)
        # per prefix: outcome rows (all modalities side by side), one ambiguity row per
        # modality
        ambiguity = [entropy(a, axis=0) for a in A]  # (S,) per modality
        rows = np.concatenate([*A, *(h[None, :] for h in ambiguity)])  # (width, S)
        self.width = rows.shape[0]
        blocks = np.stack([rows @ tr for tr in transitions]).astype(dtype)  # (K, width, S)
        # Prefixes with equal predictions (moves that commute, a wall that stops one of
        # them) share one block: the same numbers, computed once. Blocks keep the order
        # of their first prefix; steps point at blocks.
        _, first, inverse = np.unique(
            blocks.reshape(len(blocks), -1), axis=0, return_index=True, return_inverse=True
        )
        order = np.argsort(first)
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        self.steps = np.ascontiguousarray(rank[inverse.ravel()][tree.steps].T)  # (T, P)
        kept = blocks[first[order]]  # (K', width, S)
        self.num_prefixes = kept.shape[0]
        # row r * K' + k: row r of block k
        self.matrix = np.ascontiguousarray(
            kept.transpose(1, 0, 2).reshape(-1, kept.shape[-1])
        )  # (width * K', S)
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
        per_prefix = self.per_prefix(ws, n, qs.dtype)
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
        if not self.fused_for(n):
            with single_threaded_blas():
                self._through_blas(kernels, ws, *args)
        else:
            self._fused(kernels, ws, *args)

    def fused_for(self, n: int) -> bool:
        """Whether ``n`` agents are scored by numba's own products (:meth:`scoring`
        and :attr:`matrix` then feed a fused kernel), not through BLAS."""
        return not (self.uses_blas and n >= BLAS_MIN_AGENTS)

    def per_prefix(self, workspace: dict[str, np.ndarray], n: int, dtype) -> np.ndarray:
        """The ``(N, K)`` scratch of the scoring kernels, kept in ``workspace``."""
        return _buffer(workspace, "per_prefix", (n, self.num_prefixes), dtype)

    def scoring(self, scores, use_states_info_gain, gamma, log_E, dtype) -> tuple:
        """:func:`scoring_terms` for :meth:`evaluate`'s arguments (``scores`` None:
        no utility)."""
        use_utility = scores is not None
        if scores is None:
            scores = np.zeros((1, self.obs_offsets[-1]), dtype=dtype)
        return self._scoring(scores, use_utility, use_states_info_gain, gamma, log_E)

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
        in cache), then the scores from them by the serial scoring kernel. From
        :data:`THREADS_FROM` agents, the caller's kernel set also measures the same
        pipeline run by worker threads on contiguous shares of the agents (both BLAS
        and the kernel release the GIL) and keeps the faster; the numbers do not
        change, each agent's arithmetic being the same."""
        args = (ws, qs, scores, use_utility, info_gain, gamma, log_E, per_prefix, G, q_pi)
        score = kernels.serial("policy_scores_predicted")
        n = qs.shape[0]
        if n < THREADS_FROM or worker_count() < 2:
            self._pipeline(score, 0, *args)
            return
        kernels.choice("prefix_plan_pipeline", self._pipeline, self._threaded_pipeline)(
            score, 0, *args
        )

    def _threaded_pipeline(self, score, _, ws, qs, *rest) -> None:
        """:meth:`_pipeline` on one contiguous share of the agents per worker thread."""
        n, workers = qs.shape[0], worker_count()
        bounds = np.linspace(0, n, workers + 1).astype(int)
        jobs = [
            worker_pool().submit(
                self._pipeline, score, w, ws, qs, *rest, start=bounds[w], stop=bounds[w + 1]
            )
            for w in range(workers)
        ]
        for job in jobs:
            job.result()

    def _pipeline(
        self,
        score,
        worker,
        ws,
        qs,
        scores,
        use_utility,
        info_gain,
        gamma,
        log_E,
        per_prefix,
        G,
        q_pi,
        start=0,
        stop=None,
    ) -> None:
        """BLAS predictions and their scores for agents ``start:stop``, block by block,
        into worker ``worker``'s scratch rows."""
        stop = qs.shape[0] if stop is None else stop
        rows = self.matrix.shape[0]
        block = max(256, (1 << 21) // (rows * qs.itemsize))
        buf = _buffer(ws, f"predicted{worker}", (min(block, stop - start), rows), qs.dtype)
        per_agent = scores.shape[0] > 1
        for lo in range(start, stop, block):
            hi = min(stop, lo + block)
            predicted = np.matmul(qs[lo:hi], self.matrix.T, out=buf[: hi - lo])
            scoring = self._scoring(
                scores[lo:hi] if per_agent else scores, use_utility, info_gain, gamma[lo:hi], log_E
            )
            score(predicted, scoring, per_prefix[lo:hi], G[lo:hi], q_pi[lo:hi])


def _buffer(
    workspace: dict[str, np.ndarray], name: str, shape: tuple[int, ...], dtype
) -> np.ndarray:
    """A scratch array reused across ticks: fresh large arrays cost page faults each time."""
    buf = workspace.get(name)
    if buf is None or buf.shape != shape or buf.dtype != dtype:
        buf = workspace[name] = np.empty(shape, dtype=dtype)
    return buf
