"""Action and cell-type codes shared by the grid world, its observations and adapters."""

from __future__ import annotations

from enum import IntEnum

import numpy as np

from freeagentics._checks import whole_number_at_least

__all__ = [
    "MOVE_DELTAS",
    "Cell",
    "Move",
    "n_cell_codes",
    "neighbourhood_offsets",
    "resource_code",
]


class Move(IntEnum):
    """Action codes; ``MOVE_DELTAS[code]`` is the (row, col) displacement."""

    UP = 0
    DOWN = 1
    LEFT = 2
    RIGHT = 3
    STAY = 4


MOVE_DELTAS = np.array([[-1, 0], [1, 0], [0, -1], [0, 1], [0, 0]], dtype=np.int32)
"""(5, 2) int32: (d_row, d_col) of each :class:`Move`."""
MOVE_DELTAS.flags.writeable = False


class Cell(IntEnum):
    """Cell-type codes reported by observations.

    The first five follow the outcome order of the benchmark "explorer" model.
    Resource type ``k`` is reported as ``RESOURCE + k`` (see :func:`resource_code`).
    """

    EMPTY = 0
    OBSTACLE = 1
    GOAL = 2
    AGENT = 3
    OUT_OF_BOUNDS = 4
    HAZARD = 5
    RESOURCE = 6


def resource_code(k: int) -> int:
    """Observation code of resource type ``k`` (``Cell.RESOURCE + k``)."""
    return int(Cell.RESOURCE) + int(k)


def n_cell_codes(n_resource_types: int) -> int:
    """Number of distinct observation codes in a world with ``n_resource_types`` resources."""
    return int(Cell.RESOURCE) + int(n_resource_types)


def neighbourhood_offsets(radius: int) -> np.ndarray:
    """Offsets of the von Neumann neighbourhood of ``radius``.

    Returns:
        (n_cells, 2) int32 (d_row, d_col), ``n_cells = 2 * radius * (radius + 1) + 1``.
        The centre comes first, then rings of increasing Manhattan distance ``d``;
        each ring lists its axis cells up, down, left, right, then its off-axis
        cells in (d_row, d_col) order. Radius 1 gives centre, up, down, left, right.
    """
    radius = whole_number_at_least("radius", radius, 0)
    offsets = [(0, 0)]
    for d in range(1, radius + 1):
        offsets += [(-d, 0), (d, 0), (0, -d), (0, d)]
        offsets += sorted(
            (dr, dc) for dr in range(-d + 1, d) if dr != 0 for dc in (-(d - abs(dr)), d - abs(dr))
        )
    return np.array(offsets, dtype=np.int32)
