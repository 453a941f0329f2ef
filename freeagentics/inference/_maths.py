"""Numerically safe building blocks shared by the inference kernels.

All functions are pure and work on any leading batch axes.
"""

from __future__ import annotations

import numpy as np

__all__ = ["EPS", "contract", "entropy", "log_preferences", "log_stable", "softmax"]

#: Added inside logarithms so that zero probabilities give a large finite penalty
#: instead of -inf (the same guard pymdp uses, which keeps results comparable).
EPS = 1e-16


def log_stable(x: np.ndarray) -> np.ndarray:
    """``log(x + EPS)``, elementwise, in ``x``'s dtype."""
    return np.log(x + x.dtype.type(EPS))


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Normalised exponential along ``axis``, shifted by the maximum for stability."""
    z = np.exp(x - x.max(axis=axis, keepdims=True))
    z /= z.sum(axis=axis, keepdims=True)
    return z


def log_preferences(C: tuple[np.ndarray, ...] | list[np.ndarray], mode: str) -> list[np.ndarray]:
    """Scores of outcomes per modality: ``ln softmax(C_m)`` (``mode="log_softmax"``) or
    ``C_m`` as given (``"raw"``); each ``(O_m,)`` or ``(N, O_m)``."""
    if mode == "raw":
        return list(C)
    return [log_stable(softmax(c, axis=-1)) for c in C]


def entropy(p: np.ndarray, axis: int = -1) -> np.ndarray:
    """Shannon entropy ``-sum p log(p + EPS)`` along ``axis`` (nats)."""
    return -(p * log_stable(p)).sum(axis=axis)


def contract(
    tensor: np.ndarray,
    tensor_batched: bool,
    deps: tuple[int, ...],
    beliefs: list[np.ndarray],
    keep_first: bool = True,
) -> np.ndarray:
    """Contract the factor axes of a parameter tensor with factorised beliefs.

    Args:
        tensor: ``(K, *S[deps])`` shared, or ``(N, K, *S[deps])`` when ``tensor_batched``.
        deps: the factor of each trailing axis of ``tensor``.
        beliefs: per factor ``(*batch, S_f)``; ``batch`` starts with the agent axis
            when ``tensor_batched``.
        keep_first: keep the leading ``K`` axis (outcomes or next states); when False
            the tensor has no such axis (``(*S[deps])``) and a scalar per batch results.

    Returns:
        ``(*batch, K)`` (or ``(*batch,)`` when ``keep_first`` is False).
    """
    first = [len(beliefs)] if keep_first else []
    batch_ell = [Ellipsis]
    if tensor_batched:
        # the agent axis of the tensor must line up with the first batch axis of beliefs
        agent = len(beliefs) + 1
        operands: list = [tensor, [agent, *first, *deps]]
        for f in deps:
            operands += [beliefs[f], [agent, Ellipsis, f]]
        operands.append([agent, Ellipsis, *first])
    else:
        operands = [tensor, [*first, *deps]]
        for f in deps:
            operands += [beliefs[f], [*batch_ell, f]]
        operands.append([*batch_ell, *first])
    return np.einsum(*operands, optimize=len(deps) > 1)
