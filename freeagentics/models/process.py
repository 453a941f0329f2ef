"""A generative process: the world as the model itself describes it.

Each agent has a true hidden state; observations are sampled from ``A`` at that
state and the state moves by sampling ``B`` under the agent's actions. Useful to
drive a cohort without a separate world (benchmarks, demos, tests).
"""

from __future__ import annotations

import numpy as np

from freeagentics.models._model import GenerativeModel

__all__ = ["GenerativeProcess"]


def _sample_columns(table: np.ndarray, columns: tuple[np.ndarray, ...], rng) -> np.ndarray:
    """One draw per agent from ``table[:, c_0[n], c_1[n], ...]`` → ``(N,)`` int64.

    Args:
        table: ``(K, ...)`` conditional distributions over axis 0.
        columns: per conditioning axis, ``(N,)`` int indices.
    """
    probs = table[(slice(None), *columns)].T  # (N, K)
    cdf = np.cumsum(probs, axis=1)
    u = rng.random(probs.shape[0]) * cdf[:, -1]
    return np.minimum((cdf < u[:, None]).sum(1), probs.shape[1] - 1).astype(np.int64)


class GenerativeProcess:
    """True states of ``n`` agents under ``model``, sampled with ``rng``.

    Attributes:
        states: ``(N, F)`` int64 true state per factor.
    """

    def __init__(self, model: GenerativeModel, n: int, rng: np.random.Generator):
        self.model = model
        self.rng = rng
        self.states = (
            np.stack(
                [_sample_columns(d[:, None], (np.zeros(n, np.int64),), rng) for d in model.D],
                axis=1,
            )
            if n
            else np.zeros((0, model.num_factors), np.int64)
        )

    def observe(self) -> np.ndarray:
        """Sample one outcome per agent and modality: ``(N, M)`` int64."""
        m = self.model
        return np.stack(
            [
                _sample_columns(a, tuple(self.states[:, f] for f in deps), self.rng)
                for a, deps in zip(m.A, m.A_deps, strict=True)
            ],
            axis=1,
        )

    def advance(self, actions: np.ndarray) -> None:
        """Move every agent's true state by its actions ``(N, F)``."""
        m = self.model
        self.states = np.stack(
            [
                _sample_columns(b, (*(self.states[:, g] for g in deps), actions[:, f]), self.rng)
                for f, (b, deps) in enumerate(zip(m.B, m.B_deps, strict=True))
            ],
            axis=1,
        )
