"""The static part of a grid world: walls, goals, hazards and where resources grow."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from freeagentics.errors import ConfigurationError
from freeagentics.worlds._codes import Cell
from freeagentics.worlds._config import GridWorldConfig

__all__ = ["Layout", "draw_layout", "maze_walls"]

_TEXT_SYMBOLS = {".": -1, "#": -2, "G": -3, "H": -4}


@dataclass(frozen=True, eq=False)
class Layout:
    """Static cell features of an ``H x W`` world; every cell has at most one feature.

    Attributes:
        walls: (H, W) bool.
        goals: (H, W) bool.
        hazards: (H, W) bool.
        resource_kind: (H, W) int8, resource type grown on the cell, -1 for none.
    """

    walls: np.ndarray
    goals: np.ndarray
    hazards: np.ndarray
    resource_kind: np.ndarray

    def __post_init__(self) -> None:
        walls = np.array(self.walls, dtype=bool)
        if walls.ndim != 2 or walls.size == 0:
            raise ConfigurationError(f"walls must be a non-empty (H, W) array, got {walls.shape}")
        arrays = {"walls": walls}
        for name in ("goals", "hazards"):
            a = np.array(getattr(self, name), dtype=bool)
            if a.shape != walls.shape:
                raise ConfigurationError(f"{name} must have shape {walls.shape}, got {a.shape}")
            arrays[name] = a
        kind = np.asarray(self.resource_kind)
        if kind.shape != walls.shape or not np.issubdtype(kind.dtype, np.integer):
            raise ConfigurationError(
                f"resource_kind must be an integer array of shape {walls.shape}, got "
                f"{kind.dtype} {kind.shape}"
            )
        if kind.size and (kind.min() < -1 or kind.max() > 127):
            raise ConfigurationError("resource_kind values must lie in [-1, 127]")
        arrays["resource_kind"] = kind.astype(np.int8)
        n_features = (
            walls.astype(np.int8)
            + arrays["goals"]
            + arrays["hazards"]
            + (arrays["resource_kind"] >= 0)
        )
        if np.any(n_features > 1):
            r, c = np.argwhere(n_features > 1)[0]
            raise ConfigurationError(
                f"cell ({r}, {c}) has more than one of wall, goal, hazard, resource"
            )
        for name, a in arrays.items():
            a.flags.writeable = False
            object.__setattr__(self, name, a)

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W)."""
        return self.walls.shape

    @classmethod
    def from_text(cls, rows: str | list[str]) -> Layout:
        """Parse a character map, one string per row.

        ``.`` empty, ``#`` wall, ``G`` goal, ``H`` hazard, ``0``-``9`` resource type.
        A single string is split on newlines; blank lines and surrounding spaces are ignored.
        """
        if isinstance(rows, str):
            rows = rows.split("\n")
        rows = [row.strip() for row in rows if row.strip()]
        if not rows or len({len(row) for row in rows}) != 1:
            raise ConfigurationError("layout text must be non-empty rows of equal length")
        code = np.empty((len(rows), len(rows[0])), dtype=np.int16)
        for i, row in enumerate(rows):
            for j, ch in enumerate(row):
                if ch.isdigit():
                    code[i, j] = int(ch)
                elif ch in _TEXT_SYMBOLS:
                    code[i, j] = _TEXT_SYMBOLS[ch]
                else:
                    raise ConfigurationError(f"unknown layout symbol {ch!r} at ({i}, {j})")
        return cls(
            walls=code == -2,
            goals=code == -3,
            hazards=code == -4,
            resource_kind=np.where(code >= 0, code, -1),
        )

    def static_codes(self) -> np.ndarray:
        """Observation code of each cell with resources full and no agents.

        Returns:
            (H, W) int8 :class:`Cell` codes.
        """
        codes = np.full(self.shape, Cell.EMPTY, dtype=np.int8)
        codes[self.walls] = Cell.OBSTACLE
        codes[self.goals] = Cell.GOAL
        codes[self.hazards] = Cell.HAZARD
        has_resource = self.resource_kind >= 0
        codes[has_resource] = Cell.RESOURCE + self.resource_kind[has_resource]
        return codes


def draw_layout(config: GridWorldConfig, rng: np.random.Generator) -> Layout:
    """Draw walls, hazards, resource cells and goals from ``rng``.

    One uniform per cell is split into consecutive intervals of width wall density,
    hazard density, then each resource density; goals are drawn without replacement
    among the cells left empty. A maze layout draws its walls with :func:`maze_walls`
    instead (the wall interval is then empty) and puts the other features on the
    corridors.
    """
    shape = (config.height, config.width)
    u = rng.random(shape)
    maze = config.layout == "maze"
    bounds = np.cumsum(
        [
            0.0 if maze else config.wall_density,
            config.hazard_density,
            *(r.density for r in config.resources),
        ]
    )
    # Interval index per cell: 0 wall, 1 hazard, 2 + k resource k, beyond the last: empty.
    interval = np.searchsorted(bounds, u, side="right")
    if maze:
        interval[maze_walls(shape, config.corridor_width, config.maze_loops, rng)] = 0
    walls = interval == 0
    hazards = interval == 1
    is_resource = (interval >= 2) & (interval < bounds.size)
    resource_kind = np.where(is_resource, interval - 2, -1).astype(np.int8)
    empty = np.flatnonzero(interval >= bounds.size)
    if config.n_goals > empty.size:
        raise ConfigurationError(
            f"n_goals must be at most the number of featureless cells ({empty.size}) "
            f"for this layout, got {config.n_goals}"
        )
    goals = np.zeros(shape, dtype=bool)
    goals.flat[rng.choice(empty, size=config.n_goals, replace=False)] = True
    return Layout(walls=walls, goals=goals, hazards=hazards, resource_kind=resource_kind)


def maze_walls(
    shape: tuple[int, int], corridor: int, loops: float, rng: np.random.Generator
) -> np.ndarray:
    """Walls of a maze whose corridors are ``corridor`` cells wide.

    Rooms of ``corridor x corridor`` cells sit on a lattice of pitch ``corridor + 1``
    inside a wall border; a randomised depth-first search opens the wall between
    neighbouring rooms until every room is reached (so every open cell is reachable),
    then each wall still standing between two rooms is opened with probability
    ``loops``. Rows and columns left over past the last whole room stay wall.

    Returns:
        (H, W) bool.
    """
    height, width = shape
    pitch = corridor + 1
    rows, cols = (height - 1) // pitch, (width - 1) // pitch
    walls = np.ones(shape, dtype=bool)
    starts_r = 1 + pitch * np.arange(rows)
    starts_c = 1 + pitch * np.arange(cols)
    for r in starts_r:
        for c in starts_c:
            walls[r : r + corridor, c : c + corridor] = False

    def open_between(i: int, j: int, di: int, dj: int) -> None:
        r, c = starts_r[i], starts_c[j]
        if di:  # the wall row under room (i, j)
            walls[r + corridor, c : c + corridor] = False
        else:  # the wall column right of room (i, j)
            walls[r : r + corridor, c + corridor] = False

    seen = np.zeros((rows, cols), dtype=bool)
    start = (int(rng.integers(rows)), int(rng.integers(cols)))
    seen[start] = True
    stack = [start]
    steps = ((1, 0), (-1, 0), (0, 1), (0, -1))
    while stack:
        i, j = stack[-1]
        fresh = [
            (i + di, j + dj)
            for di, dj in steps
            if 0 <= i + di < rows and 0 <= j + dj < cols and not seen[i + di, j + dj]
        ]
        if not fresh:
            stack.pop()
            continue
        ni, nj = fresh[int(rng.integers(len(fresh)))]
        open_between(min(i, ni), min(j, nj), abs(ni - i), abs(nj - j))
        seen[ni, nj] = True
        stack.append((ni, nj))
    # knock through some of the walls left between rooms, making loops
    for i in range(rows):
        for j in range(cols):
            for di, dj in ((1, 0), (0, 1)):
                if i + di < rows and j + dj < cols and rng.random() < loops:
                    open_between(i, j, di, dj)
    return walls
