"""Slot bookkeeping for a population that grows and shrinks while it runs.

Agents live in slots of fixed index. Freed slots are reused lowest first and the slot
axis only grows by as many slots as a request cannot fill, so callers can predict
``n_slots`` and keep their own per-agent arrays aligned with the world's.
"""

from __future__ import annotations

import numpy as np

from freeagentics.errors import ConfigurationError

__all__ = ["allocate_slots", "check_free_cells"]


def allocate_slots(active: np.ndarray, n: int) -> tuple[np.ndarray, int]:
    """Choose slots for ``n`` new agents.

    Args:
        active: (C,) bool, slots in use.
        n: number of agents to place.

    Returns:
        (n,) int64 slot indices (free slots ascending, then ``C, C + 1, ...``) and the
        number of slots to append.
    """
    free = np.flatnonzero(~active)[:n]
    n_new = n - free.size
    c = active.shape[0]
    slots = np.concatenate([free, np.arange(c, c + n_new)]).astype(np.int64)
    return slots, n_new


def check_free_cells(positions: np.ndarray, walls: np.ndarray, occupancy: np.ndarray) -> np.ndarray:
    """Flat cell indices of ``positions`` after checking the cells can take new agents.

    Args:
        positions: (n, 2) integer (row, col).
        walls: (H, W) bool.
        occupancy: (H, W) int32 slot index per cell or -1.

    Returns:
        (n,) int64 ``row * W + col``.
    """
    h, w = walls.shape
    if positions.ndim != 2 or positions.shape[1] != 2:
        raise ConfigurationError(f"positions must have shape (n, 2), got {positions.shape}")
    if not np.issubdtype(positions.dtype, np.integer):
        raise ConfigurationError(f"positions must be integers, got {positions.dtype}")
    r, c = positions[:, 0].astype(np.int64), positions[:, 1].astype(np.int64)
    if np.any((r < 0) | (r >= h) | (c < 0) | (c >= w)):
        raise ConfigurationError(f"positions must lie in [0, {h}) x [0, {w})")
    if np.any(walls[r, c]):
        raise ConfigurationError("positions must not be on walls")
    if np.any(occupancy[r, c] >= 0):
        raise ConfigurationError("positions must not be occupied by another agent")
    cells = r * w + c
    if np.unique(cells).size != cells.size:
        raise ConfigurationError("positions must be pairwise distinct")
    return cells
