"""Nearest capable agents to a point, from KD-trees shared by objectives alike in needs."""

from __future__ import annotations

import numpy as np
from scipy.spatial import KDTree

from freeagentics.coalitions._objectives import capable_mask

__all__ = ["CandidateIndex"]


class CandidateIndex:
    """Answers "the k nearest available agents meeting ``required``" in ``O(k log N)``.

    One KD-tree is built per distinct requirement vector, over the available agents
    that meet it, the first time that requirement is asked for. Objectives usually
    share a handful of requirement profiles, so a whole formation builds few trees
    instead of scanning all ``N`` agents once per objective.
    """

    def __init__(self, positions: np.ndarray, capabilities: np.ndarray, available: np.ndarray):
        """``positions`` ``(N, 2)``, ``capabilities`` ``(N, K)``, ``available`` ``(N,)`` bool."""
        self._positions = positions
        self._capabilities = capabilities
        self._available = np.flatnonzero(available)
        self._trees: dict[bytes, tuple[KDTree | None, np.ndarray]] = {}

    def _tree(self, required: np.ndarray) -> tuple[KDTree | None, np.ndarray]:
        key = np.ascontiguousarray(required, dtype=np.float64).tobytes()
        if key not in self._trees:
            idx = self._available[capable_mask(self._capabilities[self._available], required)]
            tree = KDTree(self._positions[idx]) if idx.size else None
            self._trees[key] = (tree, idx)
        return self._trees[key]

    def eligible(self, required: np.ndarray) -> np.ndarray:
        """``(n,)`` int64 ascending indices of the available agents meeting ``required``."""
        return self._tree(required)[1]

    def nearest(
        self,
        target: np.ndarray,
        required: np.ndarray,
        k: int | None,
        blocked: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest eligible agents to ``target``, ordered by (distance, index).

        Ties at the cut-off distance are resolved towards the lower agent index, so
        the answer does not depend on the tree's internal order.

        Args:
            target: ``(2,)`` point.
            required: ``(K,)`` minimum capability levels.
            k: how many agents; ``None`` = all eligible.
            blocked: ``(N,)`` bool, agents to skip (e.g. already taken), or ``None``.

        Returns:
            ``agents`` ``(n,)`` int64 with ``n <= k`` and ``distance`` ``(n,)`` float64.
        """
        tree, idx = self._tree(required)
        if tree is None or (k is not None and k <= 0):
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
        total = idx.shape[0]
        if k is None:
            dist = np.hypot(*(self._positions[idx] - target).T)
            return self._pick(idx, dist, blocked, total)
        query = min(total, max(2 * k, 16))
        while True:
            dist, local = tree.query(target, k=query)
            dist, local = np.atleast_1d(dist), np.atleast_1d(local)
            agents = idx[local]
            ok = np.ones(agents.shape[0], dtype=bool) if blocked is None else ~blocked[agents]
            free_dist = dist[ok]
            # the query holds every point closer than its farthest one, so the k-th free
            # distance being strictly closer proves no tie or closer point was left out
            if query == total or (free_dist.size >= k and free_dist[k - 1] < dist[-1]):
                return self._pick(agents, dist, blocked, k)
            query = min(total, query * 4)

    @staticmethod
    def _pick(
        agents: np.ndarray, dist: np.ndarray, blocked: np.ndarray | None, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        if blocked is not None:
            ok = ~blocked[agents]
            agents, dist = agents[ok], dist[ok]
        order = np.lexsort((agents, dist))[:k]
        return agents[order].astype(np.int64), dist[order]
