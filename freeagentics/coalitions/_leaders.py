"""Leader election for many groups at once."""

from __future__ import annotations

import numpy as np

from freeagentics.coalitions._codes import Role

__all__ = ["elect_leaders"]


def elect_leaders(
    assignment: np.ndarray, num_groups: int, score: np.ndarray, distance: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pick one leader per group: highest ``score``, then smallest ``distance``, then lowest index.

    Args:
        assignment: ``(N,)`` int group index in ``[0, num_groups)``, ``-1`` = unassigned.
        num_groups: ``G``.
        score: ``(N,)`` leadership score (e.g. capability match).
        distance: ``(N,)`` tie-breaker (e.g. distance to the objective or group centre).

    Returns:
        ``leader`` ``(G,)`` int64 agent index (``-1`` for an empty group) and
        ``role`` ``(N,)`` int8 (``LEADER``, ``MEMBER`` or ``NONE``).
    """
    n = assignment.shape[0]
    role = np.full(n, Role.NONE, dtype=np.int8)
    leader = np.full(num_groups, -1, dtype=np.int64)
    members = np.flatnonzero(assignment >= 0)
    role[members] = Role.MEMBER
    if members.size == 0:
        return leader, role
    group = assignment[members]
    # lexsort: last key is primary, so this sorts by group, -score, distance, index
    order = np.lexsort((members, distance[members], -score[members], group))
    sorted_group = group[order]
    first = np.ones(order.shape[0], dtype=bool)
    first[1:] = sorted_group[1:] != sorted_group[:-1]
    winners = members[order[first]]
    leader[sorted_group[first]] = winners
    role[winners] = Role.LEADER
    return leader, role
