"""Where each agent's compass points: waypoints, nearest resources, coalition centres."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

__all__ = ["ResourceIndex", "coalition_centres", "redraw_waypoints"]


class ResourceIndex:
    """Cells holding resources, searchable for the nearest one (rebuilt on demand).

    Args:
        resources: ``(K, H, W)`` amounts; a cell counts when any type holds at least
            ``threshold`` (a bite: a patch grazed below it is left until it regrows).
        occupied: ``(n, 2)`` cells agents stand on: food under another agent is not
            available (an agent on food eats it because it stands there, not by target).
    """

    def __init__(
        self,
        resources: np.ndarray,
        threshold: float = 0.25,
        occupied: np.ndarray | None = None,
    ):
        available = resources.sum(axis=0) >= threshold
        if occupied is not None:
            available[occupied[:, 0], occupied[:, 1]] = False
        cells = np.argwhere(available)
        self.cells = cells.astype(np.int32)
        self._tree = cKDTree(cells) if len(cells) else None

    @classmethod
    def from_cells(cls, cells: np.ndarray) -> ResourceIndex:
        """The index over ``cells`` ``(k, 2)`` (as :attr:`cells` of another index)."""
        index = cls.__new__(cls)
        index.cells = np.asarray(cells, dtype=np.int32).reshape(-1, 2)
        index._tree = cKDTree(index.cells) if len(index.cells) else None
        return index

    def nearest(self, positions: np.ndarray) -> np.ndarray:
        """Nearest resource cell to each position ``(n, 2)``; own cell when there is none."""
        if self._tree is None or not len(positions):
            return positions.copy()
        _, idx = self._tree.query(positions, k=1, workers=1)
        return self.cells[idx]


def redraw_waypoints(
    waypoints: np.ndarray,
    positions: np.ndarray,
    shape: tuple[int, int],
    reach: int,
    rng: np.random.Generator,
    walls: np.ndarray | None = None,
) -> np.ndarray:
    """New random destinations within ``reach`` for agents next to or on theirs.

    A waypoint on a wall can never be reached: it is drawn again (next call, if the
    new one is a wall too).

    Args:
        waypoints, positions: ``(n, 2)`` int.
        walls: ``(H, W)`` bool, or None for a world without walls.

    Returns:
        ``(n, 2)`` int32 waypoints.
    """
    arrived = np.abs(waypoints - positions).sum(axis=1) <= 1
    if walls is not None:
        arrived |= walls[waypoints[:, 0], waypoints[:, 1]]
    out = waypoints.astype(np.int32, copy=True)
    k = int(arrived.sum())
    if k:
        jump = rng.integers(-reach, reach + 1, size=(k, 2))
        fresh = positions[arrived] + jump
        out[arrived, 0] = np.clip(fresh[:, 0], 0, shape[0] - 1)
        out[arrived, 1] = np.clip(fresh[:, 1], 0, shape[1] - 1)
    return out


def coalition_centres(membership: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Mean position of each agent's coalition (own position when not a member).

    Args:
        membership: ``(N,)`` coalition id or -1; positions: ``(N, 2)``.

    Returns:
        ``(N, 2)`` int32.
    """
    out = positions.astype(np.int32, copy=True)
    member = membership >= 0
    if not member.any():
        return out
    ids, inverse = np.unique(membership[member], return_inverse=True)
    counts = np.bincount(inverse, minlength=ids.size)
    for axis in (0, 1):
        sums = np.bincount(inverse, weights=positions[member, axis], minlength=ids.size)
        out[member, axis] = np.rint(sums / counts)[inverse].astype(np.int32)
    return out
