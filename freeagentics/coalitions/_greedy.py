"""Greedy formation: objectives, by priority, take their nearest capable agents."""

from __future__ import annotations

import numpy as np

from freeagentics.coalitions._candidates import CandidateIndex
from freeagentics.coalitions._formation import Formation, check_formation_inputs
from freeagentics.coalitions._leaders import elect_leaders
from freeagentics.coalitions._objectives import ObjectiveSet, match_score

__all__ = ["GreedyFormation"]


class GreedyFormation:
    """Objectives in descending priority (ties: set order) each take up to ``capacity``
    of the nearest available agents that meet their requirements and are not yet taken.

    Group ``m`` is objective row ``m``. Leaders are the members with the highest
    capability match, then closest to the target, then lowest index. Cost per
    formation is ``O(M k log N)`` via shared KD-trees rather than ``O(M N)``.
    No randomness is used.
    """

    def form(
        self,
        positions: np.ndarray,
        capabilities: np.ndarray,
        available: np.ndarray,
        objectives: ObjectiveSet,
        rng: np.random.Generator,
    ) -> Formation:
        """See :class:`FormationStrategy`; shapes ``(N, 2)``, ``(N, K)``, ``(N,)``."""
        pos, caps, avail = check_formation_inputs(positions, capabilities, available, objectives)
        n, m = pos.shape[0], len(objectives)
        assignment = np.full(n, -1, dtype=np.int64)
        distance = np.zeros(n, dtype=np.float64)
        score = np.zeros(n, dtype=np.float64)
        taken = np.zeros(n, dtype=bool)
        index = CandidateIndex(pos, caps, avail)
        for row in np.lexsort((np.arange(m), -objectives.priority)):
            required = objectives.required[row]
            agents, dist = index.nearest(
                objectives.targets[row], required, int(objectives.capacity[row]), taken
            )
            taken[agents] = True
            assignment[agents] = row
            distance[agents] = dist
            score[agents] = match_score(caps[agents], required)
        leader, role = elect_leaders(assignment, m, score, distance)
        return Formation(assignment, np.arange(m, dtype=np.int64), leader, role, score)
