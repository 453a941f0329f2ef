"""Ready-made models: the grid-world reference models of the benchmarks.

Cells of a ``g × g`` grid are numbered row-major (``s = row * g + col``). Moves are
``up (-1, 0)``, ``down (+1, 0)``, ``left (0, -1)``, ``right (0, +1)``, ``stay``; a move
off the grid leaves the agent where it is.
"""

from __future__ import annotations

import numpy as np

from freeagentics.models._model import GenerativeModel, Labels

__all__ = [
    "COMPASS_OUTCOMES",
    "EXPLORER_OUTCOMES",
    "EXPLORER_PREFERENCES",
    "GRID_MOVES",
    "compass_of",
    "displacement_model",
    "explorer_cell_types",
    "explorer_model",
    "grid_transitions",
    "locator_model",
]

#: name → (row, col) offset, in control order
GRID_MOVES: dict[str, tuple[int, int]] = {
    "up": (-1, 0),
    "down": (1, 0),
    "left": (0, -1),
    "right": (0, 1),
    "stay": (0, 0),
}
EXPLORER_OUTCOMES = ("empty", "obstacle", "goal", "agent", "out-of-bounds")
EXPLORER_PREFERENCES = (2.0, -4.0, 8.0, 0.0, -4.0)


def grid_transitions(size: int, moves: tuple[str, ...] = tuple(GRID_MOVES)) -> np.ndarray:
    """Deterministic moves on a ``size × size`` grid: ``B`` of shape ``(S, S, U)``."""
    num_states = size * size
    B = np.zeros((num_states, num_states, len(moves)))
    rows, cols = np.divmod(np.arange(num_states), size)
    for u, name in enumerate(moves):
        dr, dc = GRID_MOVES[name]
        r = np.clip(rows + dr, 0, size - 1)
        c = np.clip(cols + dc, 0, size - 1)
        B[r * size + c, np.arange(num_states), u] = 1.0
    return B


def _grid_labels(size: int, moves: tuple[str, ...], outcomes: tuple[str, ...]) -> Labels:
    cells = tuple(f"r{r}c{c}" for r in range(size) for c in range(size))
    return Labels(
        factors=("location",),
        states=(cells,),
        modalities=("observation",),
        outcomes=(outcomes,),
        controls=(moves,),
    )


def explorer_cell_types(size: int, seed: int = 0) -> np.ndarray:
    """The fixed map behind :func:`explorer_model`: one outcome code per cell ``(S,)``.

    Drawn from ``numpy.random.default_rng(seed)``: a random permutation of the cells
    gives 10 % obstacles, then 5 % agents, then one goal; the rest are empty.
    """
    num_states = size * size
    order = np.random.default_rng(seed).permutation(num_states)
    n_obstacle, n_agent = round(0.10 * num_states), round(0.05 * num_states)
    types = np.zeros(num_states, dtype=np.int64)
    types[order[:n_obstacle]] = 1
    types[order[n_obstacle : n_obstacle + n_agent]] = 3
    types[order[n_obstacle + n_agent]] = 2
    return types


def explorer_model(size: int = 10, policy_len: int = 1, seed: int = 0) -> GenerativeModel:
    """explorer-g: location is hidden; the agent sees the type of the cell it stands on
    with probability 0.8 (0.05 each other outcome), prefers goals and empty cells."""
    types = explorer_cell_types(size, seed)
    A = np.full((len(EXPLORER_OUTCOMES), size * size), 0.05)
    A[types, np.arange(size * size)] = 0.8
    return GenerativeModel.create(
        A,
        grid_transitions(size),
        np.array(EXPLORER_PREFERENCES),
        policy_len=policy_len,
        labels=_grid_labels(size, tuple(GRID_MOVES), EXPLORER_OUTCOMES),
    )


def locator_model(
    size: int = 10,
    policy_len: int = 1,
    accuracy: float = 0.9,
    goal: int | None = None,
    preference: float = 3.0,
    moves: tuple[str, ...] = tuple(GRID_MOVES),
) -> GenerativeModel:
    """locator-g: the agent observes its own cell with probability ``accuracy`` (the
    rest spread evenly) and prefers the ``goal`` cell (default: the last one)."""
    num_states = size * size
    A = np.full((num_states, num_states), (1 - accuracy) / (num_states - 1))
    np.fill_diagonal(A, accuracy)
    C = np.zeros(num_states)
    C[num_states - 1 if goal is None else goal] = preference
    cells = tuple(f"r{r}c{c}" for r in range(size) for c in range(size))
    return GenerativeModel.create(
        A,
        grid_transitions(size, moves),
        C,
        policy_len=policy_len,
        labels=_grid_labels(size, moves, cells),
    )


#: compass reading of a displacement: (sign of rows, sign of columns) → outcome index
COMPASS_OUTCOMES = ("NW", "N", "NE", "W", "here", "E", "SW", "S", "SE")


def compass_of(dr: np.ndarray, dc: np.ndarray) -> np.ndarray:
    """Outcome index of ``COMPASS_OUTCOMES`` for displacements (any shape, int)."""
    return (np.sign(dr) + 1) * 3 + (np.sign(dc) + 1)


def displacement_model(
    radius: int = 4,
    accuracy: float = 0.85,
    preference: float = 4.0,
    policy_len: int = 1,
) -> GenerativeModel:
    """An egocentric model whose size does not grow with the world.

    The hidden state is where a target lies relative to the agent,
    ``(dr, dc)`` in ``[-radius, radius]²`` (farther targets sit on the border, in
    their direction): ``(2·radius + 1)²`` states whatever the world's size. The agent
    reads a compass (``COMPASS_OUTCOMES``: the signs of ``dr`` and ``dc``) correctly
    with probability ``accuracy``. Moving towards the target shrinks the displacement.
    ``C`` prefers "here" by ``preference`` (0 gives an agent with no goal that only
    seeks information).
    """
    side = 2 * radius + 1
    offsets = np.arange(side) - radius
    dr, dc = np.meshgrid(offsets, offsets, indexing="ij")
    true_outcome = compass_of(dr.ravel(), dc.ravel())
    A = np.full((len(COMPASS_OUTCOMES), side * side), (1 - accuracy) / (len(COMPASS_OUTCOMES) - 1))
    A[true_outcome, np.arange(side * side)] = accuracy
    # the agent moving up moves the target down relative to it, and so on
    opposite = {"up": "down", "down": "up", "left": "right", "right": "left", "stay": "stay"}
    B = grid_transitions(side, tuple(opposite[m] for m in GRID_MOVES))
    C = np.zeros(len(COMPASS_OUTCOMES))
    C[COMPASS_OUTCOMES.index("here")] = preference
    cells = tuple(f"d{r:+d}{c:+d}" for r in offsets for c in offsets)
    return GenerativeModel.create(
        A,
        B,
        C,
        policy_len=policy_len,
        labels=Labels(
            factors=("target_offset",),
            states=(cells,),
            modalities=("compass",),
            outcomes=(COMPASS_OUTCOMES,),
            controls=(tuple(GRID_MOVES),),
        ),
    )
