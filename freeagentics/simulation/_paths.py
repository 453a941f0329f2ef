"""Breadth-first shortest paths on a grid with walls, as compiled kernels.

Moves are the world's: up, down, left, right (codes 0-3, ``MOVE_DELTAS``) and stay (4).
Distances count moves between 4-neighbours that are not walls; other agents are not
obstacles to the path (they move), only to its first step: a move into a cell an agent
holds now is not taken (it would fail, and two agents facing each other would wait
for ever).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["descend", "distance_field", "nearest_unvisited_moves"]

_DR = np.array([-1, 1, 0, 0], dtype=np.int64)
_DC = np.array([0, 0, -1, 1], dtype=np.int64)
_STAY = 4


@numba.njit(cache=True)
def distance_field(walls, sources):
    """Moves from every cell to the nearest source, by one multi-source BFS.

    Args:
        walls, sources: (H, W) bool; sources on walls are ignored.

    Returns:
        (H, W) int32, -1 where no source can be reached (and on walls).
    """
    height, width = walls.shape
    dist = np.full((height, width), -1, dtype=np.int32)
    queue = np.empty(height * width, dtype=np.int64)
    tail = 0
    for r in range(height):
        for c in range(width):
            if sources[r, c] and not walls[r, c]:
                dist[r, c] = 0
                queue[tail] = r * width + c
                tail += 1
    head = 0
    while head < tail:
        cell = queue[head]
        head += 1
        r, c = cell // width, cell % width
        for m in range(4):
            nr, nc = r + _DR[m], c + _DC[m]
            if 0 <= nr < height and 0 <= nc < width and not walls[nr, nc] and dist[nr, nc] < 0:
                dist[nr, nc] = dist[r, c] + 1
                queue[tail] = nr * width + nc
                tail += 1
    return dist


@numba.njit(cache=True)
def descend(dist, occupied, positions, tiebreak):
    """The move down ``dist`` (one step of a shortest path) for each position.

    Args:
        dist: (H, W) int32 from :func:`distance_field`.
        occupied: (H, W) bool, cells held by agents now.
        positions: (n, 2) int (row, col).
        tiebreak: (n,) int, rotates the order in which equally good moves are tried.

    Returns:
        (n,) int64 moves; stay where the cell is a source or cannot reach one, or where
        every next cell of a shortest path is occupied.
    """
    height, width = dist.shape
    n = positions.shape[0]
    out = np.full(n, _STAY, dtype=np.int64)
    for i in range(n):
        r, c = positions[i, 0], positions[i, 1]
        here = dist[r, c]
        if here <= 0:
            continue
        for k in range(4):
            m = (k + tiebreak[i]) % 4
            nr, nc = r + _DR[m], c + _DC[m]
            if 0 <= nr < height and 0 <= nc < width and dist[nr, nc] == here - 1:
                if occupied[nr, nc]:
                    continue
                out[i] = m
                break
    return out


@numba.njit(cache=True)
def nearest_unvisited_moves(walls, occupied, visited, rows, positions, tiebreak):
    """First move of a shortest path to each agent's nearest cell it has not visited.

    One BFS per agent that stops at the first unvisited cell, so its cost is the area
    the agent has already covered around itself, not the whole grid.

    Args:
        walls, occupied: (H, W) bool.
        visited: (R, H * W) bool, row ``rows[i]`` for agent ``i``.
        rows: (n,) int64; positions: (n, 2) int; tiebreak: (n,) int.

    Returns:
        (n,) int64 moves; stay when every reachable cell has been visited.
    """
    height, width = walls.shape
    n = positions.shape[0]
    out = np.full(n, _STAY, dtype=np.int64)
    seen = np.zeros(height * width, dtype=np.bool_)
    first = np.empty(height * width, dtype=np.int64)
    queue = np.empty(height * width, dtype=np.int64)
    for i in range(n):
        row = rows[i]
        start = positions[i, 0] * width + positions[i, 1]
        seen[start] = True
        first[start] = _STAY
        queue[0] = start
        head, tail = 0, 1
        while head < tail:
            cell = queue[head]
            head += 1
            if not visited[row, cell]:
                out[i] = first[cell]
                break
            r, c = cell // width, cell % width
            for k in range(4):
                m = (k + tiebreak[i]) % 4
                nr, nc = r + _DR[m], c + _DC[m]
                if 0 <= nr < height and 0 <= nc < width and not walls[nr, nc]:
                    nxt = nr * width + nc
                    if cell == start and occupied[nr, nc]:
                        continue
                    if not seen[nxt]:
                        seen[nxt] = True
                        first[nxt] = m if cell == start else first[cell]
                        queue[tail] = nxt
                        tail += 1
        for j in range(tail):  # leave the scratch clean for the next agent
            seen[queue[j]] = False
    return out
