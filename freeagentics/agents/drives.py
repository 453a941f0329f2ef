"""Drives: the factors of an agent's model that lie outside its compass factor.

A kind with :class:`Drives` has, next to the compass factor of its model (where its
target lies, inferred by the cohort's engine), three small factors whose outcomes it
observes directly and whose expected free energy adds to the compass factor's:

- **contact** — the four cells next to the agent (wall, edge of the world, another
  agent, hazard, food). A move into a blocked cell leaves the agent where it is, so
  its compass term is that of staying; moving costs ``effort``; a hazard costs ``hazard``.
- **novelty** — a small visit memory ``(M, M)`` of counts indexed by
  ``(row mod M, col mod M)`` (``M = memory``, 8 by default: 64 bytes, one cache line
  per agent, whatever the world's size; cells ``M`` apart share a count).
  Visiting a cell is observing its contents under a Dirichlet belief whose
  concentration grows with the visits; the expected information gain of one more
  look falls as ``1 / (1 + visits)``, weighted by ``novelty``. Counts halve every
  ``forget_every`` ticks, so a place visited long ago becomes worth seeing again:
  reaching a place never ends wanting.
- **interoception** — energy, observed as one of ``len(hunger)`` levels cut at
  ``levels`` (fractions of the world's starting energy). Preferences over levels make
  eating worth ``hunger[level]`` (the preference gained by the energy one bite
  brings): large when starving, zero when full. Eating happens where the agent
  stands on food: the food seen in the contact cells, and the compass target where it
  is food (collectors always; any kind while ``hungry``).

G of each move (policy_len 1; G is a score, higher is better, as in the cohort)::

    G[u] = G_compass[u or stay if blocked] + novelty / (1 + visits[cell after u])
           + hunger[level] * P(on food after u) - effort * [u moves] - hazard * [hazard]
           + pull * E[distance now - distance after u]

``P(on food after u)`` is the compass belief that the target lies one move ``u``
away (the belief of "here" for staying) where the target is food, and 1 where the
contact cell holds food. The last term is a graded preference over the distance to
the compass target (its "here" preference alone gives no direction beyond one step):
``pull`` per cell, more for coalition members (their coalition's ``strength``) and
for hungry agents heading for food (``forage`` times the hunger); it is off while
a move that would shorten the distance is blocked (the way round is unknown, and
novelty finds it).
Then ``q_pi = softmax(gamma * G + ln E)``.

These factors are independent of the compass factor given the agent's position, so
their terms add; each is a closed form over five moves, one fused pass per agent,
which keeps the compass cohort on the fast engine at any population size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from freeagentics.errors import ConfigurationError
from freeagentics.worlds import MOVE_DELTAS, Cell, Move

__all__ = [
    "SURPRISE_RESET",
    "Drives",
    "act_with_drives",
    "drive_scores",
    "energy_levels",
    "forget_visits",
    "reach_states",
]

#: free energy (nats) above which a compass reading contradicts the belief: the
#: prior gave it under 10 % probability. The target has moved (a new waypoint, another
#: nearest food, an objective) or lies beyond the model's radius; the agent then starts
#: again from ``D`` rather than keep a belief the compass can no longer correct.
SURPRISE_RESET = float(np.log(10.0))

# The world's cell codes and moves as plain ints and tuples: constants to the kernels.
_OBSTACLE, _AGENT, _OUT_OF_BOUNDS = int(Cell.OBSTACLE), int(Cell.AGENT), int(Cell.OUT_OF_BOUNDS)
_HAZARD, _RESOURCE = int(Cell.HAZARD), int(Cell.RESOURCE)
_STAY = int(Move.STAY)
_DELTA_R = tuple(int(d) for d in MOVE_DELTAS[:, 0])
_DELTA_C = tuple(int(d) for d in MOVE_DELTAS[:, 1])


@dataclass(frozen=True)
class Drives:
    """Weights of the drives; see the module docstring."""

    novelty: float = 1.0
    hunger: tuple[float, ...] = (6.0, 4.0, 2.0, 0.0)
    levels: tuple[float, ...] = (0.3, 0.6, 1.0)
    #: levels up to this index count as hungry: the compass then points at food
    hungry: int = 1
    effort: float = 0.05
    pull: float = 0.25
    forage: float = 0.25
    hazard: float = 2.0
    memory: int = 8
    forget_every: int = 64

    def __post_init__(self) -> None:
        values = (
            self.novelty,
            self.effort,
            self.pull,
            self.forage,
            self.hazard,
            *self.hunger,
            *self.levels,
        )
        if not all(np.isfinite(v) and v >= 0 for v in values):
            raise ConfigurationError(f"drive weights must be finite and >= 0, got {self}")
        if len(self.hunger) != len(self.levels) + 1:
            raise ConfigurationError(
                f"drives: hunger needs one value per energy level ({len(self.levels) + 1}), "
                f"got {len(self.hunger)}"
            )
        if list(self.levels) != sorted(self.levels):
            raise ConfigurationError(f"drives: levels must ascend, got {self.levels}")
        if not 0 <= self.hungry < len(self.hunger):
            raise ConfigurationError(f"drives: hungry must index a level, got {self.hungry}")
        if not 1 <= self.memory <= 64 or not 1 <= self.forget_every:
            raise ConfigurationError(
                f"drives: memory must be 1..64 and forget_every >= 1, got "
                f"{self.memory}, {self.forget_every}"
            )


def energy_levels(energy: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Interoceptive level of each energy ``(n,)`` → ``(n,)`` int64 in ``0..len(cuts)``."""
    return np.searchsorted(cuts, energy, side="right")


def _drive_scores(
    G,
    qs,
    reach,
    contact,
    positions,
    visits,
    level,
    food_target,
    pull,
    hunger,
    novelty,
    effort,
    hazard,
    gamma,
    log_E,
    G_out,
    q_pi_out,
):  # pragma: no cover - compiled
    """G and q_pi of every agent with its drives (module docstring), in one pass.

    Args:
        G: ``(n, 5)`` compass scores of the five moves (policy_len 1).
        qs: ``(n, S)`` compass beliefs; ``reach`` ``(5,)`` state whose target lies one
            move away (the centre for staying).
        contact: ``(n, 5)`` cell codes: centre, up, down, left, right.
        positions: ``(n, 2)`` int (row, col); visits: ``(n, M, M)`` uint8, where the
            visit of each agent's cell is counted first (saturating at 255).
        level: ``(n,)`` energy level; food_target: ``(n,)`` bool, the compass points at food.
        pull: ``(n,)`` preference lost per cell of distance to the compass target.
        hunger: ``(L,)`` value of eating per level.
        gamma: precision; log_E: ``(5,)``.
        G_out, q_pi_out: ``(n, 5)`` written.
    """
    n = G.shape[0]
    size = visits.shape[1]
    side = int(np.sqrt(qs.shape[1]) + 0.5)
    radius = side // 2
    for i in numba.prange(n):
        r = positions[i, 0]
        c = positions[i, 1]
        # standing on a cell is one more look at it
        if visits[i, r % size, c % size] < 255:
            visits[i, r % size, c % size] += 1
        value = hunger[level[i]]
        pulled = pull[i]
        up = 0.0
        down = 0.0
        left = 0.0
        right = 0.0
        if pulled != 0.0:
            # P(target above, below, left, right): a move that way shortens the
            # distance by one, any other lengthens it by one (sums over the offset grid)
            for row in range(side):
                base = row * side
                west = 0.0
                east = 0.0
                for k in range(radius):
                    west += qs[i, base + k]
                    east += qs[i, base + radius + 1 + k]
                left += west
                right += east
                if row != radius:
                    whole = west + east + qs[i, base + radius]
                    if row < radius:
                        up += whole
                    else:
                        down += whole
        toward = (up, down, left, right, 0.0)
        # when a move that would shorten the distance is blocked, the way round is
        # unknown: distance gives no direction this tick and novelty finds the way
        for u in range(4):
            code = contact[i, u + 1]
            if toward[u] > 0.5 and (code == _OBSTACLE or code == _AGENT or code == _OUT_OF_BOUNDS):
                pulled = 0.0
        best = -np.inf
        for u in range(5):
            code = contact[i, 0] if u == _STAY else contact[i, u + 1]
            blocked = u != _STAY and (code == _OBSTACLE or code == _AGENT or code == _OUT_OF_BOUNDS)
            if blocked or u == _STAY:
                g = G[i, _STAY]
                rr, cc = r, c
                here = contact[i, 0]
                on_target = qs[i, reach[_STAY]]
            else:
                g = G[i, u]
                rr = r + _DELTA_R[u]
                cc = c + _DELTA_C[u]
                here = code
                on_target = qs[i, reach[u]]
            if u != _STAY:
                g -= effort
                if not blocked:
                    g += pulled * (2.0 * toward[u] - 1.0)
            food = 1.0 if here >= _RESOURCE else (on_target if food_target[i] else 0.0)
            g += value * food
            if here == _HAZARD:
                g -= hazard
            g += novelty / (1.0 + visits[i, rr % size, cc % size])
            G_out[i, u] = g
            score = gamma * g + log_E[u]
            q_pi_out[i, u] = score
            if score > best:
                best = score
        total = 0.0
        for u in range(5):
            e = np.exp(q_pi_out[i, u] - best)
            q_pi_out[i, u] = e
            total += e
        for u in range(5):
            q_pi_out[i, u] /= total


drive_scores = numba.njit(cache=True, nogil=True)(_drive_scores)
_drive_scores_parallel = numba.njit(cache=True, nogil=True, parallel=True)(_drive_scores)
#: populations from this size score their drives on all cores
PARALLEL_FROM = 4096


def forget_visits(visits: np.ndarray, tick: int, every: int, first_row: int = 0) -> None:
    """Halve the counts of one ``every``-th of the agents (each agent once per ``every`` ticks):
    row ``i`` of the group when ``i ≡ tick (mod every)``; ``visits`` holds the group's rows
    from ``first_row`` on (a shard's part)."""
    rows = visits[(tick - first_row) % every :: every]
    np.right_shift(rows, 1, out=rows)


def reach_states(side: int) -> np.ndarray:
    """``(5,)`` compass states whose target lies one move up, down, left, right, or here."""
    radius = side // 2
    offsets = ((-1, 0), (1, 0), (0, -1), (0, 1), (0, 0))
    return np.array([(radius + dr) * side + radius + dc for dr, dc in offsets], np.int64)


def act_with_drives(
    cohort,
    drives: Drives,
    obs: np.ndarray,
    contact: np.ndarray,
    positions: np.ndarray,
    visits: np.ndarray,
    level: np.ndarray,
    food_target: np.ndarray,
    pull: np.ndarray,
) -> np.ndarray:
    """Perceive, plan with the drives, act: the moves ``(n,)`` of a cohort's agents.

    Args:
        cohort: a :class:`~freeagentics.agents.Cohort` with a displacement model.
        obs: ``(n, 1)`` compass readings; the others as in :func:`drive_scores`
        (``pull`` without the foraging part, added here).
    """
    qs = cohort.infer_states(obs)[0]
    surprised = np.flatnonzero(cohort.free_energy > SURPRISE_RESET)
    if surprised.size:
        fresh = cohort.A[0][obs[surprised, 0]] * cohort.D[0]
        qs[surprised] = fresh / fresh.sum(axis=1, keepdims=True)
    _, G = cohort.infer_policies()
    side = round(np.sqrt(qs.shape[1]))
    G_out, q_pi = np.empty_like(G), np.empty_like(G)
    hunger = np.asarray(drives.hunger, dtype=np.float64)
    pull = pull + drives.forage * hunger[level] * food_target
    kernel = drive_scores if G.shape[0] < PARALLEL_FROM else _drive_scores_parallel
    kernel(
        G,
        qs,
        reach_states(side),
        contact,
        positions,
        visits,
        level,
        food_target,
        pull,
        hunger,
        drives.novelty,
        drives.effort,
        drives.hazard,
        cohort.config.gamma,
        cohort.log_E.astype(np.float64),
        G_out,
        q_pi,
    )
    cohort.G, cohort.q_pi = G_out, q_pi
    return cohort.sample_action()[:, 0]
