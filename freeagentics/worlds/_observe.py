"""Local observations: the cell codes of each agent's von Neumann neighbourhood."""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["observe_cells"]

# Mirrors of Cell codes for the kernel (numba reads plain module ints as constants).
_EMPTY = 0
_AGENT = 3
_OUT_OF_BOUNDS = 4
_RESOURCE = 6


@numba.njit(cache=True, nogil=True)
def observe_cells(positions, active, static_codes, occupancy, resources, offsets, least):
    """Cell codes around each agent.

    Args:
        positions: (C, 2) int32 (row, col); rows of inactive slots are never read.
        active: (C,) bool.
        static_codes: (H, W) int8 code of each cell with resources full and no agents.
        occupancy: (H, W) int32 slot index per cell or -1.
        resources: (K, H, W) float32 amounts; an exhausted resource cell reads as empty.
        offsets: (n_cells, 2) int32 neighbourhood offsets, centre first.
        least: (K,) float32 amount below which a resource cell reads as empty (0: only
            exhausted cells do).

    Returns:
        (C, n_cells) int32 codes. The centre reports what lies under the agent; other
        cells report ``AGENT`` when occupied. Inactive rows are all ``OUT_OF_BOUNDS``.
    """
    n = positions.shape[0]
    height, width = static_codes.shape
    n_cells = offsets.shape[0]
    out = np.full((n, n_cells), _OUT_OF_BOUNDS, dtype=np.int32)
    for i in range(n):
        if not active[i]:
            continue
        for m in range(n_cells):
            r = positions[i, 0] + offsets[m, 0]
            c = positions[i, 1] + offsets[m, 1]
            if r < 0 or r >= height or c < 0 or c >= width:
                continue
            code = static_codes[r, c]
            if m > 0 and occupancy[r, c] >= 0:
                code = _AGENT
            elif code >= _RESOURCE:
                amount = resources[code - _RESOURCE, r, c]
                if amount <= 0.0 or amount < least[code - _RESOURCE]:
                    code = _EMPTY
            out[i, m] = code
    return out
