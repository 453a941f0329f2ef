"""Validated, immutable configuration of a grid world."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from numbers import Real

from freeagentics._checks import whole_number_at_least
from freeagentics.errors import ConfigurationError

__all__ = ["GridWorldConfig", "ResourceType"]

# Observation codes are int8-safe with this many types (6 + 64 < 127).
MAX_RESOURCE_TYPES = 64
#: how walls are drawn: scattered cells, or a maze of corridors (see ``draw_layout``)
LAYOUTS = ("random", "maze")


def _check_float(
    name: str, value: object, low: float, high: float | None = None, *, low_open: bool = False
) -> None:
    bracket = "(" if low_open else "["
    if high is not None:
        expected = f"a finite number in {bracket}{low}, {high}]"
    elif math.isinf(low):
        expected = "a finite number"
    else:
        expected = f"a finite number {'>' if low_open else '>='} {low}"
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ConfigurationError(f"{name} must be {expected}, got {value!r}")
    v = float(value)
    if (
        not math.isfinite(v)
        or v < low
        or (low_open and v == low)
        or (high is not None and v > high)
    ):
        raise ConfigurationError(f"{name} must be {expected}, got {value!r}")


@dataclass(frozen=True)
class ResourceType:
    """One kind of collectable resource.

    A cell seeded with this resource starts at ``max_amount``; an agent standing on it
    takes up to ``depletion`` per tick, and the cell regrows by ``regrowth`` per tick,
    never beyond ``max_amount``.
    """

    name: str
    density: float = 0.05
    max_amount: float = 1.0
    regrowth: float = 0.05
    depletion: float = 0.25

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigurationError(
                f"ResourceType.name must be a non-empty string, got {self.name!r}"
            )
        _check_float(f"ResourceType({self.name}).density", self.density, 0.0, 1.0)
        _check_float(f"ResourceType({self.name}).max_amount", self.max_amount, 0.0, low_open=True)
        _check_float(f"ResourceType({self.name}).regrowth", self.regrowth, 0.0)
        _check_float(f"ResourceType({self.name}).depletion", self.depletion, 0.0, low_open=True)


@dataclass(frozen=True)
class GridWorldConfig:
    """Everything that defines a grid world except its random seed.

    Densities are fractions of all cells; walls, hazards and resource cells are drawn
    exclusively from one uniform draw per cell, so their densities must sum to at most 1.
    Goals (exactly ``n_goals``) go on cells left empty by that draw.
    Energy: each tick an alive agent pays ``energy_cost_per_tick``, plus
    ``energy_cost_per_move`` when it actually changes cell, gains ``energy_per_unit`` per
    unit of resource collected and loses ``hazard_penalty`` while standing on a hazard.
    Energy never drops below 0; an agent at 0 is exhausted (stays put, collects nothing).
    ``layout = "maze"`` replaces the scattered walls (``wall_density`` is then unused) by
    a maze of corridors ``corridor_width`` cells wide with a share ``maze_loops`` of its
    inner walls knocked through, so that there are several ways round.
    """

    height: int = 32
    width: int = 32
    n_agents: int = 8
    wall_density: float = 0.1
    n_goals: int = 1
    hazard_density: float = 0.0
    resources: tuple[ResourceType, ...] = field(default_factory=tuple)
    initial_energy: float = 10.0
    energy_cost_per_move: float = 0.1
    energy_cost_per_tick: float = 0.0
    energy_per_unit: float = 1.0
    hazard_penalty: float = 1.0
    goal_reward: float = 1.0
    observation_radius: int = 1
    layout: str = "random"
    corridor_width: int = 2
    maze_loops: float = 0.15

    def __post_init__(self) -> None:
        whole_number_at_least("height", self.height, 1)
        whole_number_at_least("width", self.width, 1)
        whole_number_at_least("n_agents", self.n_agents, 0)
        _check_float("wall_density", self.wall_density, 0.0, 1.0)
        whole_number_at_least("n_goals", self.n_goals, 0)
        _check_float("hazard_density", self.hazard_density, 0.0, 1.0)
        if isinstance(self.resources, list):
            object.__setattr__(self, "resources", tuple(self.resources))
        if not isinstance(self.resources, tuple) or not all(
            isinstance(r, ResourceType) for r in self.resources
        ):
            raise ConfigurationError(
                f"resources must be a tuple of ResourceType, got {self.resources!r}"
            )
        if len(self.resources) > MAX_RESOURCE_TYPES:
            raise ConfigurationError(
                f"resources must hold at most {MAX_RESOURCE_TYPES} types, got {len(self.resources)}"
            )
        names = [r.name for r in self.resources]
        if len(set(names)) != len(names):
            raise ConfigurationError(f"resources must have unique names, got {names}")
        total = self.wall_density + self.hazard_density + sum(r.density for r in self.resources)
        if total > 1.0 + 1e-12:
            raise ConfigurationError(
                f"wall_density + hazard_density + resource densities must be <= 1, got {total:g}"
            )
        _check_float("initial_energy", self.initial_energy, 0.0, low_open=True)
        _check_float("energy_cost_per_move", self.energy_cost_per_move, 0.0)
        _check_float("energy_cost_per_tick", self.energy_cost_per_tick, 0.0)
        _check_float("energy_per_unit", self.energy_per_unit, 0.0)
        _check_float("hazard_penalty", self.hazard_penalty, 0.0)
        _check_float("goal_reward", self.goal_reward, -math.inf)
        whole_number_at_least("observation_radius", self.observation_radius, 0)
        if self.layout not in LAYOUTS:
            raise ConfigurationError(f"layout must be one of {LAYOUTS}, got {self.layout!r}")
        whole_number_at_least("corridor_width", self.corridor_width, 1)
        _check_float("maze_loops", self.maze_loops, 0.0, 1.0)
        if self.layout == "maze" and min(self.height, self.width) < self.corridor_width + 2:
            raise ConfigurationError(
                f"a maze with corridors {self.corridor_width} wide needs at least "
                f"{self.corridor_width + 2} x {self.corridor_width + 2} cells, got "
                f"{self.height} x {self.width}"
            )

    @property
    def n_resource_types(self) -> int:
        """Number of resource types ``K``."""
        return len(self.resources)
