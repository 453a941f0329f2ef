"""Spatial clustering strategies: nearby agents form coalitions of bounded size.

These strategies ignore objectives: every group has objective ``-1`` and changes no
preferences. Leaders are elected by summed capability, then distance to the centroid.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from freeagentics._checks import whole_number_at_least, whole_number_in
from freeagentics.coalitions._formation import Formation, check_formation_inputs
from freeagentics.coalitions._grouping import (
    bound_group_sizes,
    check_sizes,
    objective_free_formation,
)
from freeagentics.coalitions._objectives import ObjectiveSet
from freeagentics.errors import ConfigurationError

__all__ = ["GridClustering", "HierarchicalClustering", "KMeansClustering"]

_LINKAGE_METHODS = ("single", "complete", "average", "weighted", "centroid", "median", "ward")


def _positive(name: str, value: float) -> float:
    if not (isinstance(value, int | float | np.number) and math.isfinite(value) and value > 0):
        raise ConfigurationError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


class GridClustering:
    """Agents in the same ``cell_size`` x ``cell_size`` square form a group.

    Squares with more than ``max_size`` agents are cut into balanced strips along
    x then y; groups under ``min_size`` are dropped. Groups are numbered by square
    (x-major, then y), then strip. ``O(N log N)``, no randomness; suited to 100 000+
    agents.
    """

    def __init__(self, cell_size: float, max_size: int, min_size: int = 1) -> None:
        self.cell_size = _positive("cell_size", cell_size)
        self.max_size, self.min_size = check_sizes(max_size, min_size)

    def form(
        self,
        positions: np.ndarray,
        capabilities: np.ndarray,
        available: np.ndarray,
        objectives: ObjectiveSet,
        rng: np.random.Generator,
    ) -> Formation:
        """See :class:`FormationStrategy`; shapes ``(N, 2)``, ``(N, K)``, ``(N,)``."""
        pos, caps, avail = check_formation_inputs(positions, capabilities, available)
        labels = np.full(pos.shape[0], -1, dtype=np.int64)
        idx = np.flatnonzero(avail)
        if idx.size:
            cell = np.floor(pos[idx] / self.cell_size)
            cell -= cell.min(axis=0)
            span = cell.max(axis=0) + 1
            if span[0] * span[1] < 2.0**53:
                # one exact integer key per square, x-major: a 1-D sort is ~5x faster
                key = (cell[:, 0] * span[1] + cell[:, 1]).astype(np.int64)
                _, labels[idx] = np.unique(key, return_inverse=True)
            else:  # squares too spread out for one exact key
                _, labels[idx] = np.unique(cell, axis=0, return_inverse=True)
        labels = bound_group_sizes(labels, (pos[:, 0], pos[:, 1]), self.max_size, self.min_size)
        return objective_free_formation(labels, pos, caps)


class HierarchicalClustering:
    """Agglomerative clustering (``scipy.cluster.hierarchy``) cut at ``distance_threshold``.

    Clusters over ``max_size`` are split into strips along x then y; groups under
    ``min_size`` are dropped. Groups are numbered by their lowest agent index.
    ``linkage`` needs ``O(n^2)`` memory, so more than ``max_agents`` available agents
    raise :class:`ConfigurationError`; use :class:`GridClustering` for large populations.
    """

    def __init__(
        self,
        distance_threshold: float,
        max_size: int,
        min_size: int = 1,
        method: str = "single",
        max_agents: int = 5000,
    ) -> None:
        self.distance_threshold = _positive("distance_threshold", distance_threshold)
        self.max_size, self.min_size = check_sizes(max_size, min_size)
        if method not in _LINKAGE_METHODS:
            raise ConfigurationError(f"method must be one of {_LINKAGE_METHODS}, got {method!r}")
        self.method = method
        self.max_agents = whole_number_at_least("max_agents", max_agents, 2)

    def form(
        self,
        positions: np.ndarray,
        capabilities: np.ndarray,
        available: np.ndarray,
        objectives: ObjectiveSet,
        rng: np.random.Generator,
    ) -> Formation:
        """See :class:`FormationStrategy`; shapes ``(N, 2)``, ``(N, K)``, ``(N,)``."""
        pos, caps, avail = check_formation_inputs(positions, capabilities, available)
        idx = np.flatnonzero(avail)
        if idx.size > self.max_agents:
            raise ConfigurationError(
                f"HierarchicalClustering got {idx.size} available agents, more than "
                f"max_agents={self.max_agents}; use GridClustering or raise max_agents"
            )
        labels = np.full(pos.shape[0], -1, dtype=np.int64)
        if idx.size == 1:
            labels[idx] = 0
        elif idx.size > 1:
            from scipy.cluster.hierarchy import fcluster, linkage  # only this strategy's

            tree = linkage(pos[idx], method=self.method)
            raw = fcluster(tree, t=self.distance_threshold, criterion="distance")
            # renumber by first (lowest-index) member so labels do not depend on scipy's
            _, first, inverse = np.unique(raw, return_index=True, return_inverse=True)
            labels[idx] = np.argsort(np.argsort(first))[inverse]
        labels = bound_group_sizes(labels, (pos[:, 0], pos[:, 1]), self.max_size, self.min_size)
        return objective_free_formation(labels, pos, caps)


class KMeansClustering:
    """``scipy.cluster.vq.kmeans2`` with ``ceil(n / target_size)`` centroids, seeded by ``rng``.

    Clusters over ``max_size`` are split into strips; groups under ``min_size`` are
    dropped; groups are numbered by centroid. Each iteration costs ``O(n k)``, so this
    suits thousands of agents; use :class:`GridClustering` for 100 000.
    """

    def __init__(
        self, target_size: int, max_size: int, min_size: int = 1, iterations: int = 10
    ) -> None:
        self.max_size, self.min_size = check_sizes(max_size, min_size)
        self.target_size = whole_number_in("target_size", target_size, 1, self.max_size)
        self.iterations = whole_number_at_least("iterations", iterations, 1)

    def form(
        self,
        positions: np.ndarray,
        capabilities: np.ndarray,
        available: np.ndarray,
        objectives: ObjectiveSet,
        rng: np.random.Generator,
    ) -> Formation:
        """See :class:`FormationStrategy`; shapes ``(N, 2)``, ``(N, K)``, ``(N,)``."""
        pos, caps, avail = check_formation_inputs(positions, capabilities, available)
        idx = np.flatnonzero(avail)
        labels = np.full(pos.shape[0], -1, dtype=np.int64)
        if idx.size:
            from scipy.cluster.vq import kmeans2  # only this strategy's

            k = -(-idx.size // self.target_size)
            with warnings.catch_warnings():
                # an empty cluster simply yields no group
                warnings.simplefilter("ignore", UserWarning)
                _, raw = kmeans2(pos[idx], k, iter=self.iterations, minit="++", rng=rng)
            labels[idx] = raw
        labels = bound_group_sizes(labels, (pos[:, 0], pos[:, 1]), self.max_size, self.min_size)
        return objective_free_formation(labels, pos, caps)
