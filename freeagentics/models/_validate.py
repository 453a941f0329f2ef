"""Checks that turn a malformed model into an error naming the array, index and expectation."""

from __future__ import annotations

import numpy as np

from freeagentics.errors import ModelError

__all__ = ["check_distribution_columns", "check_finite", "check_nonnegative", "check_shape"]

#: Columns may deviate this much from summing to one (inputs are often typed-in decimals).
SUM_TOLERANCE = 1e-6


def check_finite(name: str, array: np.ndarray) -> None:
    """Raise if ``array`` holds NaN or infinity, naming the first offending index."""
    bad = ~np.isfinite(array)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ModelError(
            f"{name} holds {float(array[index])!r} at index {index}; every entry must be finite",
            array=name,
            index=index,
        )


def check_nonnegative(name: str, array: np.ndarray) -> None:
    """Raise if ``array`` has a negative entry, naming the first one."""
    bad = array < 0
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ModelError(
            f"{name} holds {float(array[index])!r} at index {index}; probabilities "
            "cannot be negative",
            array=name,
            index=index,
        )


def check_shape(name: str, array: np.ndarray, expected: tuple[int, ...], meaning: str) -> None:
    """Raise unless ``array.shape == expected``; ``meaning`` spells out the axes."""
    if tuple(array.shape) != tuple(expected):
        raise ModelError(
            f"{name} has shape {tuple(array.shape)}, expected {tuple(expected)} ({meaning})",
            array=name,
        )


def check_distribution_columns(name: str, array: np.ndarray) -> None:
    """Raise unless ``array`` is finite, non-negative, and sums to one along axis 0.

    ``array``: ``(K, ...)``; each slice ``array[:, i, j, ...]`` is one distribution.
    """
    check_finite(name, array)
    check_nonnegative(name, array)
    sums = array.sum(axis=0)
    bad = np.abs(sums - 1.0) > SUM_TOLERANCE
    if np.any(bad):
        column = tuple(int(i) for i in np.argwhere(np.atleast_1d(bad))[0]) if sums.ndim else ()
        total = float(sums[column]) if sums.ndim else float(sums)
        where = f"{name}[:, {', '.join(map(str, column))}]" if column else name
        raise ModelError(
            f"{where} sums to {total:.6g}; each distribution over axis 0 must sum to 1",
            array=name,
            index=column,
        )
