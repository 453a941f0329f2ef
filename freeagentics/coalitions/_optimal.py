"""Optimal assignment: min-cost matching of agents to replicated objective slots."""

from __future__ import annotations

import math

import numpy as np

from freeagentics._checks import whole_number_at_least
from freeagentics.coalitions._candidates import CandidateIndex
from freeagentics.coalitions._formation import Formation, check_formation_inputs
from freeagentics.coalitions._leaders import elect_leaders
from freeagentics.coalitions._objectives import ObjectiveSet
from freeagentics.errors import ConfigurationError

__all__ = ["OptimalAssignment", "assignment_cost"]


def assignment_cost(
    positions: np.ndarray,
    capabilities: np.ndarray,
    objectives: ObjectiveSet,
    capability_weight: float = 1.0,
    priority_weight: float = 0.0,
) -> np.ndarray:
    """Cost of putting each agent on each objective; ``inf`` where the agent is not capable.

    ``cost[i, m] = |pos_i - target_m| - capability_weight * match_i,m
    - priority_weight * priority_m``, with ``match`` from :func:`match_score`.

    Args:
        positions: ``(n, 2)``.
        capabilities: ``(n, K)``.
        objectives: ``M`` objectives.

    Returns:
        ``(n, M)`` float64.
    """
    delta = positions[:, None, :] - objectives.targets[None, :, :]
    cost = np.hypot(delta[..., 0], delta[..., 1])
    needed = (objectives.required > 0).astype(np.float64)
    cost -= capability_weight * (capabilities @ needed.T)
    cost -= priority_weight * objectives.priority[None, :]
    capable = np.all(capabilities[:, None, :] >= objectives.required[None, :, :], axis=2)
    cost[~capable] = np.inf
    return cost


class OptimalAssignment:
    """Fill as many objective slots as possible, at the least total :func:`assignment_cost`.

    Each objective is replicated into ``capacity`` slots (one per member it can take;
    the cost matrix is slots x agents, the transpose of agents x replicated columns),
    and slots are matched to agents at least total cost; pairs an objective may not
    use (the agent lacks a required capability, or is not among its candidates) are
    forbidden (``inf``). Every slot also has a "left empty" option priced above any
    possible difference in real costs, so a matching that fills more slots always
    wins and cost decides among equals. Problems with at most ``dense_limit`` matrix
    entries go to ``scipy.optimize.linear_sum_assignment``; larger ones to the sparse
    ``scipy.sparse.csgraph.min_weight_full_bipartite_matching`` (same optimum, memory
    proportional to the candidate pairs).

    Large populations: each objective only considers its ``candidates(capacity)``
    nearest capable available agents, where ``candidates(c) = max(ceil(candidate_factor
    * c), min_candidates)``, so the problem has ``sum(capacity * candidates)`` pairs
    instead of ``S * N``. The result is optimal over those candidates: agents farther
    away are never used even when a capability bonus would make them cheaper, and
    crowded objectives may stay short of capacity. ``candidate_factor=None`` makes
    every capable available agent a candidate: the exact optimum, at ``O(S * n)``
    memory for ``S`` slots and ``n`` agents.

    Group ``m`` is objective row ``m``. Leaders: highest capability match, then
    closest to the target, then lowest index. No randomness is used.
    """

    def __init__(
        self,
        capability_weight: float = 1.0,
        priority_weight: float = 0.0,
        candidate_factor: float | None = 2.0,
        min_candidates: int = 8,
        dense_limit: int = 4_000_000,
    ) -> None:
        for name, value in (
            ("capability_weight", capability_weight),
            ("priority_weight", priority_weight),
        ):
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ConfigurationError(f"{name} must be a finite number >= 0, got {value!r}")
        if candidate_factor is not None and not (
            isinstance(candidate_factor, int | float)
            and math.isfinite(candidate_factor)
            and candidate_factor >= 1
        ):
            raise ConfigurationError(
                f"candidate_factor must be a number >= 1 or None, got {candidate_factor!r}"
            )
        self.capability_weight = float(capability_weight)
        self.priority_weight = float(priority_weight)
        self.candidate_factor = candidate_factor
        self.min_candidates = whole_number_at_least("min_candidates", min_candidates, 1)
        self.dense_limit = whole_number_at_least("dense_limit", dense_limit, 0)

    def _num_candidates(self, capacity: int) -> int | None:
        if self.candidate_factor is None:
            return None
        return max(math.ceil(self.candidate_factor * capacity), self.min_candidates)

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
        index = CandidateIndex(pos, caps, avail)
        edge_obj, edge_agent, edge_cost = [], [], []
        needed = (objectives.required > 0).astype(np.float64)
        for row in range(m):
            agents, dist = index.nearest(
                objectives.targets[row],
                objectives.required[row],
                self._num_candidates(int(objectives.capacity[row])),
            )
            edge_obj.append(np.full(agents.shape[0], row, dtype=np.int64))
            edge_agent.append(agents)
            edge_cost.append(
                dist
                - self.capability_weight * (caps[agents] @ needed[row])
                - self.priority_weight * objectives.priority[row]
            )
        if m:
            self._match(
                np.concatenate(edge_obj),
                np.concatenate(edge_agent),
                np.concatenate(edge_cost),
                objectives.capacity,
                assignment,
            )
        distance = np.zeros(n, dtype=np.float64)
        score = np.zeros(n, dtype=np.float64)
        members = np.flatnonzero(assignment >= 0)
        target_of = objectives.targets[assignment[members]]
        distance[members] = np.hypot(*(pos[members] - target_of).T)
        score[members] = np.einsum("ik,ik->i", caps[members], needed[assignment[members]])
        leader, role = elect_leaders(assignment, m, score, distance)
        return Formation(assignment, np.arange(m, dtype=np.int64), leader, role, score)

    def _match(
        self,
        edge_obj: np.ndarray,
        edge_agent: np.ndarray,
        edge_cost: np.ndarray,
        capacity: np.ndarray,
        assignment: np.ndarray,
    ) -> None:
        """Min-cost max-fill matching of slots to candidate agents; writes ``assignment``.

        ``edge_*`` are ``(E,)`` (objective row, agent, cost) candidate pairs; ``capacity``
        is ``(M,)``.
        """
        if edge_obj.size == 0:
            return
        # imported here: scipy.optimize weighs some 14 MB, which a server whose
        # simulations form coalitions otherwise (the default, greedy) never loads
        from scipy.optimize import linear_sum_assignment
        from scipy.sparse import csr_array
        from scipy.sparse.csgraph import min_weight_full_bipartite_matching

        agents, col = np.unique(edge_agent, return_inverse=True)
        num_agents = agents.shape[0]
        # slot s of objective m: rows slot_start[m] .. slot_start[m] + capacity[m] - 1
        slot_obj = np.repeat(np.arange(capacity.shape[0]), capacity)
        slot_start = np.concatenate([[0], np.cumsum(capacity)[:-1]])
        num_slots = slot_obj.shape[0]
        reps = capacity[edge_obj]
        edge_slot = np.repeat(slot_start[edge_obj], reps) + (
            np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps)
        )
        edge_col = np.repeat(col, reps)
        # shift real costs into [1, spread]; an empty slot costs more than any matching
        # with one more filled slot could, so fill count comes first, then total cost
        cost = np.repeat(edge_cost - edge_cost.min() + 1.0, reps)
        empty = num_slots * cost.max() + 1.0
        if num_slots * (num_agents + num_slots) <= self.dense_limit:
            matrix = np.full((num_slots, num_agents + num_slots), np.inf)
            matrix[edge_slot, edge_col] = cost
            matrix[:, num_agents:] = empty
            slot, chosen = linear_sum_assignment(matrix)
        else:
            # sparse LAPJV: each slot gets its own "left empty" column
            graph = csr_array(
                (
                    np.concatenate([cost, np.full(num_slots, empty)]),
                    (
                        np.concatenate([edge_slot, np.arange(num_slots)]),
                        np.concatenate([edge_col, num_agents + np.arange(num_slots)]),
                    ),
                ),
                shape=(num_slots, num_agents + num_slots),
            )
            slot, chosen = min_weight_full_bipartite_matching(graph)
        real = chosen < num_agents
        assignment[agents[chosen[real]]] = slot_obj[slot[real]]
