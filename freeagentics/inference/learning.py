"""Dirichlet learning of the likelihood (A) and transition (B) parameters.

Concentrations grow by the expected counts of what was observed; only entries whose
concentration is positive are ever updated (a zero stays a structural zero). The
learned parameters are the normalised concentrations. Learning is per agent, so
every tensor here carries a leading agent axis ``N``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["normalise", "update_pA", "update_pB"]


def normalise(p: np.ndarray) -> np.ndarray:
    """Expected parameters of Dirichlet concentrations ``(N, K, ...)`` over axis 1."""
    return p / p.sum(axis=1, keepdims=True)


def _outer(vectors: list[np.ndarray]) -> np.ndarray:
    """Per-agent outer product of ``(N, K_i)`` vectors → ``(N, K_0, K_1, ...)``."""
    out = vectors[0]
    for v in vectors[1:]:
        out = out[..., None] * v.reshape(v.shape[0], *([1] * (out.ndim - 1)), v.shape[1])
    return out


def update_pA(
    pA: list[np.ndarray],
    A_deps: tuple[tuple[int, ...], ...],
    obs: np.ndarray,
    qs: list[np.ndarray],
    lr: float | np.ndarray = 1.0,
    modalities: tuple[int, ...] | None = None,
    masks: list[np.ndarray] | None = None,
) -> None:
    """Add ``lr * onehot(o_m) ⊗ q(s_deps)`` to each learned ``pA[m]``, in place.

    Args:
        pA: per modality ``(N, O_m, *S[A_deps[m]])``.
        obs: ``(N, M)`` int.
        qs: per factor ``(N, S_f)`` — the posterior given these observations.
        lr: scalar or ``(N,)`` learning rate.
        modalities: which modalities learn (default all).
        masks: per modality, shaped like ``pA[m]``: where counts may be added
            (default ``pA[m] > 0``).
    """
    n = obs.shape[0]
    agents = np.arange(n)
    lr = np.asarray(lr, dtype=pA[0].dtype)
    for m in range(len(pA)) if modalities is None else modalities:
        deps = A_deps[m]
        counts = _outer([qs[f] for f in deps])  # (N, *S[deps])
        rows = pA[m][agents, obs[:, m]]
        allowed = rows > 0 if masks is None else masks[m][agents, obs[:, m]]
        scale = lr.reshape(-1, *([1] * (counts.ndim - 1))) if lr.ndim else lr
        pA[m][agents, obs[:, m]] = rows + scale * counts * allowed


def update_pB(
    pB: list[np.ndarray],
    B_deps: tuple[tuple[int, ...], ...],
    actions: np.ndarray,
    qs: list[np.ndarray],
    qs_prev: list[np.ndarray],
    lr: float | np.ndarray = 1.0,
    factors: tuple[int, ...] | None = None,
    masks: list[np.ndarray] | None = None,
) -> None:
    """Add ``lr * q(s_f') ⊗ q_prev(s_deps)`` to the slice of the action taken, in place.

    Args:
        pB: per factor ``(N, S_f, *S[B_deps[f]], U_f)``.
        actions: ``(N, F)`` int, the controls that led from ``qs_prev`` to ``qs``.
        qs, qs_prev: per factor ``(N, S_f)``.
        lr: scalar or ``(N,)``.
        masks: per factor, shaped like ``pB[f]``: where counts may be added
            (default ``pB[f] > 0``).
    """
    n = actions.shape[0]
    agents = np.arange(n)
    lr = np.asarray(lr, dtype=pB[0].dtype)
    for f in range(len(pB)) if factors is None else factors:
        counts = _outer([qs[f]] + [qs_prev[g] for g in B_deps[f]])  # (N, S_f, *S[deps])
        slices = pB[f][agents, ..., actions[:, f]]
        allowed = slices > 0 if masks is None else masks[f][agents, ..., actions[:, f]]
        scale = lr.reshape(-1, *([1] * (counts.ndim - 1))) if lr.ndim else lr
        pB[f][agents, ..., actions[:, f]] = slices + scale * counts * allowed
