"""Simultaneous movement with at most one agent per cell, as one fused kernel.

Rules, applied to all agents at once:

* a move off the grid or into a wall leaves the agent in place;
* several agents aiming at one cell: the highest ``priority`` wins, the others stay;
* two agents trying to swap cells both stay (no passing through each other);
* a mover whose target is held by an agent that stays is blocked and stays too,
  which can in turn block whoever aimed at its cell. Following a mover that vacates
  its cell, and rotating around a cycle of three or more, are allowed.

The last rule is the fixed point of "block movers whose target stays occupied, repeat";
the kernel reaches it with one stack-driven propagation instead of repeated passes, so
the cost is linear in the number of agents however long the blocked queues are.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["resolve_moves"]


@numba.njit(cache=True, nogil=True)
def resolve_moves(positions, actions, alive, priority, walls, occupancy, claim, deltas):
    """Move agents in place and return who moved.

    Args:
        positions: (C, 2) int32 (row, col), updated in place; rows of slots that are not
            ``alive`` are never read.
        actions: (C,) integer action codes in ``[0, 5)``; ignored where not ``alive``.
        alive: (C,) bool, agents that may move; agents on the grid that are not alive
            still hold their cells through ``occupancy``.
        priority: (C,) float64; among agents aiming at one cell the largest wins.
        walls: (H, W) bool.
        occupancy: (H, W) int32 slot index per cell or -1, updated in place.
        claim: (H, W) int32 scratch, all -1 on entry and again on return.
        deltas: (5, 2) int32 displacement per action code.

    Returns:
        (C,) bool, True where the agent changed cell.
    """
    n = positions.shape[0]
    height, width = walls.shape
    target_r = np.full(n, -1, dtype=np.int64)
    target_c = np.full(n, -1, dtype=np.int64)
    mover = np.zeros(n, dtype=np.bool_)

    # Proposals: each cell keeps its highest-priority claimant.
    for i in range(n):
        if not alive[i]:
            continue
        r = positions[i, 0] + deltas[actions[i], 0]
        c = positions[i, 1] + deltas[actions[i], 1]
        if (r == positions[i, 0] and c == positions[i, 1]) or r < 0 or r >= height:
            continue
        if c < 0 or c >= width or walls[r, c]:
            continue
        target_r[i] = r
        target_c[i] = c
        j = claim[r, c]
        if j < 0 or priority[i] > priority[j]:
            claim[r, c] = i
    for i in range(n):
        if target_r[i] >= 0 and claim[target_r[i], target_c[i]] == i:
            mover[i] = True

    # Agents to turn into stayers: swap partners, and movers aiming at a stayer's cell.
    stack = np.empty(n, dtype=np.int64)
    top = 0
    for i in range(n):
        if not mover[i]:
            continue
        j = occupancy[target_r[i], target_c[i]]
        if j < 0:
            continue
        if not mover[j]:
            stack[top] = i
            top += 1
        elif target_r[j] == positions[i, 0] and target_c[j] == positions[i, 1]:
            stack[top] = i  # its partner j is pushed when the loop reaches j
            top += 1
    while top > 0:
        top -= 1
        i = stack[top]
        if not mover[i]:
            continue
        mover[i] = False
        # Whoever won the claim on i's cell now finds it occupied.
        k = claim[positions[i, 0], positions[i, 1]]
        if k >= 0 and mover[k]:
            stack[top] = k
            top += 1

    for i in range(n):
        if mover[i]:
            occupancy[positions[i, 0], positions[i, 1]] = -1
    for i in range(n):
        if target_r[i] >= 0:
            claim[target_r[i], target_c[i]] = -1
        if mover[i]:
            positions[i, 0] = target_r[i]
            positions[i, 1] = target_c[i]
            occupancy[target_r[i], target_c[i]] = i
    return mover
