"""What a cell does to the agent standing on it, and how resources regrow.

Both run as fused kernels: at 10^5 agents the separate numpy gathers, scatters and
temporaries cost several times more than one pass over the agents.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["apply_cells", "regrow"]


@numba.njit(cache=True, nogil=True)
def apply_cells(positions, alive, moved, energy, resources, resource_kind, goals, hazards, params):
    """Collect resources, apply hazards, goals and energy costs, in place.

    Args:
        positions: (C, 2) int32 (row, col) after moving.
        alive: (C,) bool, agents affected this tick (on pairwise distinct cells).
        moved: (C,) bool, agents that changed cell this tick.
        energy: (C,) float32, updated in place and clipped at 0.
        resources: (K, H, W) float32 amounts, depleted in place.
        resource_kind: (H, W) int8 resource type grown on each cell, -1 for none.
        goals: (H, W) bool.
        hazards: (H, W) bool.
        params: (K + 5,) float32: depletion per type (K), then energy per unit, cost per
            move, cost per tick, hazard penalty, goal reward.

    Returns:
        collected (C, K) float32, energy_delta (C,) float32, reward (C,) float32,
        on_goal (C,) bool, on_hazard (C,) bool, exhausted (C,) bool.
    """
    n = positions.shape[0]
    n_types = resources.shape[0]
    per_unit = params[n_types]
    per_move = params[n_types + 1]
    per_tick = params[n_types + 2]
    penalty = params[n_types + 3]
    goal_reward = params[n_types + 4]
    collected = np.zeros((n, n_types), dtype=np.float32)
    delta = np.zeros(n, dtype=np.float32)
    reward = np.zeros(n, dtype=np.float32)
    on_goal = np.zeros(n, dtype=np.bool_)
    on_hazard = np.zeros(n, dtype=np.bool_)
    exhausted = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        if not alive[i]:
            continue
        r = positions[i, 0]
        c = positions[i, 1]
        change = -per_tick
        if moved[i]:
            change -= per_move
        k = resource_kind[r, c]
        if k >= 0:
            take = min(resources[k, r, c], params[k])
            resources[k, r, c] -= take
            collected[i, k] = take
            change += take * per_unit
        if hazards[r, c]:
            on_hazard[i] = True
            change -= penalty
        after = max(energy[i] + change, np.float32(0.0))
        delta[i] = after - energy[i]
        energy[i] = after
        exhausted[i] = after <= 0.0
        reward[i] = delta[i]
        if goals[r, c]:
            on_goal[i] = True
            reward[i] += goal_reward
    return collected, delta, reward, on_goal, on_hazard, exhausted


@numba.njit(cache=True, nogil=True)
def regrow(resources, cells, regrowth, max_amount):
    """Grow every resource cell by its type's regrowth, capped at its maximum.

    Args:
        resources: (K, H, W) float32 amounts, updated in place.
        cells: (M, 3) int64 (kind, row, col) of every resource cell.
        regrowth: (K,) float32 growth per tick.
        max_amount: (K,) float32 cap.
    """
    for m in range(cells.shape[0]):
        k, r, c = cells[m, 0], cells[m, 1], cells[m, 2]
        v = resources[k, r, c] + regrowth[k]
        resources[k, r, c] = v if v < max_amount[k] else max_amount[k]
