"""Shared steps of the clustering strategies: bound group sizes, elect group leaders."""

from __future__ import annotations

import numpy as np

from freeagentics._checks import whole_number_at_least, whole_number_in
from freeagentics.coalitions._formation import Formation
from freeagentics.coalitions._leaders import elect_leaders

__all__ = ["bound_group_sizes", "check_sizes", "objective_free_formation"]


def check_sizes(max_size: int, min_size: int) -> tuple[int, int]:
    """Validate the group size bounds shared by the clustering strategies."""
    max_size = whole_number_at_least("max_size", max_size, 1)
    return max_size, whole_number_in("min_size", min_size, 1, max_size)


def bound_group_sizes(
    labels: np.ndarray, within: tuple[np.ndarray, ...], max_size: int, min_size: int
) -> np.ndarray:
    """Split groups over ``max_size`` into balanced chunks, then drop groups under ``min_size``.

    A group of ``c`` members becomes ``ceil(c / max_size)`` chunks of near-equal size,
    cut along the order given by ``within`` (e.g. x then y, so chunks are spatial strips).

    Args:
        labels: ``(N,)`` int group label (any non-negative values), ``-1`` = unassigned.
        within: ``(N,)`` arrays ordering members inside a group, most significant first.
        max_size: largest allowed group.
        min_size: smallest kept group; members of smaller ones become ``-1``.

    Returns:
        ``(N,)`` int64 dense labels ``0..G-1`` ordered by (original label, chunk), ``-1`` = none.
    """
    n = labels.shape[0]
    out = np.full(n, -1, dtype=np.int64)
    members = np.flatnonzero(labels >= 0)
    if members.size == 0:
        return out
    keys = (members, *(k[members] for k in reversed(within)), labels[members])
    order = np.lexsort(keys)
    agents = members[order]
    sorted_labels = labels[agents]
    is_start = np.ones(agents.shape[0], dtype=bool)
    is_start[1:] = sorted_labels[1:] != sorted_labels[:-1]
    run = np.cumsum(is_start) - 1
    starts = np.flatnonzero(is_start)
    counts = np.diff(np.append(starts, agents.shape[0]))
    rank = np.arange(agents.shape[0]) - starts[run]
    chunks = -(-counts // max_size)
    chunk = rank * chunks[run] // counts[run]
    chunk_label = np.concatenate([[0], np.cumsum(chunks)[:-1]])[run] + chunk
    sizes = np.bincount(chunk_label)
    kept = sizes >= min_size
    dense = np.cumsum(kept) - 1
    out[agents] = np.where(kept[chunk_label], dense[chunk_label], -1)
    return out


def objective_free_formation(
    labels: np.ndarray, positions: np.ndarray, capabilities: np.ndarray
) -> Formation:
    """A :class:`Formation` of groups without objectives.

    Leaders: highest summed capability, then closest to the group centroid, then
    lowest index.

    Args:
        labels: ``(N,)`` int64 dense group labels, ``-1`` = unassigned.
        positions: ``(N, 2)``.
        capabilities: ``(N, K)``.
    """
    num_groups = int(labels.max()) + 1 if labels.size and labels.max() >= 0 else 0
    members = labels >= 0
    count = np.maximum(np.bincount(labels[members], minlength=num_groups), 1)
    centroid = np.stack(
        [np.bincount(labels[members], positions[members, d], num_groups) / count for d in (0, 1)],
        axis=1,
    )
    distance = np.zeros(labels.shape[0], dtype=np.float64)
    distance[members] = np.hypot(*(positions[members] - centroid[labels[members]]).T)
    score = capabilities.sum(axis=1)
    leader, role = elect_leaders(labels, num_groups, score, distance)
    return Formation(labels, np.full(num_groups, -1, dtype=np.int64), leader, role, score)
