"""The scenario as pydantic models: one schema for scenario files, the REST API and its
JSON Schema.

Each section is a strict model (no unknown keys, no strings for numbers, no booleans
for integers, finite numbers only) whose defaults are read from the configuration
dataclasses they build, so a default is written once. :func:`problems` turns a
:class:`~pydantic.ValidationError` into one message per mistake, each starting with the
place it is about (``world.height: expected an integer >= 1, got 'ten'``), for every
mistake at once.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, get_args, get_origin

from annotated_types import Ge, Gt, Le
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from freeagentics.agents._names import BUILTIN_KINDS
from freeagentics.simulation._config import (
    MAX_STUCK_TICKS,
    STRATEGIES,
    CoalitionSettings,
    ObjectiveSpec,
    SimulationConfig,
)
from freeagentics.worlds import GridWorldConfig, ResourceType
from freeagentics.worlds._config import LAYOUTS

__all__ = [
    "DEFAULT_TICKS",
    "KINDS",
    "CoalitionsSection",
    "ObjectiveSection",
    "ResourceSection",
    "ScenarioHead",
    "ScenarioSpec",
    "SimulationSection",
    "WorldSection",
    "problems",
]

DEFAULT_TICKS = 100
KINDS = BUILTIN_KINDS


def _default(cls: type, name: str) -> Any:
    """The default of dataclass field ``cls.name``."""
    spec = {f.name: f for f in dataclasses.fields(cls)}[name]
    if spec.default_factory is not dataclasses.MISSING:
        return spec.default_factory()
    return spec.default


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


def _field(cls: type, name: str, **constraints: Any) -> Any:
    return Field(_default(cls, name), **constraints)


class ResourceSection(_Section):
    """One ``[[world.resources]]`` table: a resource type (``name`` is required)."""

    name: str = Field(min_length=1, max_length=64)
    density: float = _field(ResourceType, "density", ge=0.0, le=1.0)
    max_amount: float = _field(ResourceType, "max_amount", gt=0.0)
    regrowth: float = _field(ResourceType, "regrowth", ge=0.0)
    depletion: float = _field(ResourceType, "depletion", gt=0.0)


class WorldSection(_Section):
    """``[world]``: the grid world (every field of ``GridWorldConfig`` but ``n_agents``)."""

    height: int = _field(GridWorldConfig, "height", ge=1)
    width: int = _field(GridWorldConfig, "width", ge=1)
    wall_density: float = _field(GridWorldConfig, "wall_density", ge=0.0, le=1.0)
    n_goals: int = _field(GridWorldConfig, "n_goals", ge=0)
    hazard_density: float = _field(GridWorldConfig, "hazard_density", ge=0.0, le=1.0)
    resources: list[ResourceSection] = Field(default_factory=list, max_length=16)
    initial_energy: float = _field(GridWorldConfig, "initial_energy", gt=0.0)
    energy_cost_per_move: float = _field(GridWorldConfig, "energy_cost_per_move", ge=0.0)
    energy_cost_per_tick: float = _field(GridWorldConfig, "energy_cost_per_tick", ge=0.0)
    energy_per_unit: float = _field(GridWorldConfig, "energy_per_unit", ge=0.0)
    hazard_penalty: float = _field(GridWorldConfig, "hazard_penalty", ge=0.0)
    goal_reward: float = _field(GridWorldConfig, "goal_reward")
    observation_radius: int = _field(GridWorldConfig, "observation_radius", ge=0)
    layout: Literal[LAYOUTS] = _default(GridWorldConfig, "layout")  # type: ignore[valid-type]
    corridor_width: int = _field(GridWorldConfig, "corridor_width", ge=1)
    maze_loops: float = _field(GridWorldConfig, "maze_loops", ge=0.0, le=1.0)


class ObjectiveSection(_Section):
    """One ``[[coalitions.objectives]]`` table (``target`` is required)."""

    target: list[Annotated[int, Field(ge=0)]] = Field(min_length=2, max_length=2)
    capacity: int = _field(ObjectiveSpec, "capacity", ge=1)
    priority: float = _field(ObjectiveSpec, "priority")
    kind: str = Field(_default(ObjectiveSpec, "kind"), min_length=1, max_length=64)
    required: list[float] = Field(default_factory=list, max_length=64)


class CoalitionsSection(_Section):
    """``[coalitions]``: how coalitions form and what they pursue."""

    strategy: Literal[STRATEGIES] = _default(CoalitionSettings, "strategy")  # type: ignore[valid-type]
    reform_every: int = _field(CoalitionSettings, "reform_every", ge=1)
    strength: float = _field(CoalitionSettings, "strength", ge=0.0)
    objectives: list[ObjectiveSection] = Field(default_factory=list, max_length=10_000)
    auto_objectives: int = _field(CoalitionSettings, "auto_objectives", ge=0)
    objective_capacity: int = _field(CoalitionSettings, "objective_capacity", ge=1)
    history: int = _field(CoalitionSettings, "history", ge=1)


class SimulationSection(_Section):
    """``[simulation]``: the remaining ``SimulationConfig`` fields."""

    radius: int = _field(SimulationConfig, "radius", ge=1)
    history: int = _field(SimulationConfig, "history", ge=1)
    knowledge_every: int = _field(SimulationConfig, "knowledge_every", ge=1)
    knowledge_max_nodes: int = _field(SimulationConfig, "knowledge_max_nodes", ge=16)
    metrics_every: int = _field(SimulationConfig, "metrics_every", ge=1)
    waypoint_range: int = _field(SimulationConfig, "waypoint_range", ge=1)
    resource_index_every: int = _field(SimulationConfig, "resource_index_every", ge=1)
    stuck_ticks: int = _field(SimulationConfig, "stuck_ticks", ge=1, le=MAX_STUCK_TICKS)


class ScenarioHead(_Section):
    """``[scenario]``: the name (default: the file's stem), length and seed of a run."""

    name: str | None = Field(None, min_length=1, max_length=100)
    ticks: int = Field(DEFAULT_TICKS, ge=1)
    seed: int = Field(0, ge=0, lt=2**63)


FORAGING_EXAMPLE: dict[str, Any] = {
    "scenario": {"name": "foraging", "ticks": 300, "seed": 0},
    "world": {
        "height": 64,
        "width": 64,
        "wall_density": 0.08,
        "resources": [{"name": "food", "density": 0.04, "regrowth": 0.02}],
    },
    "agents": {"explorer": 100, "collector": 80, "coordinator": 20},
    "coalitions": {"strategy": "greedy", "auto_objectives": 4, "reform_every": 10},
}


class ScenarioSpec(_Section):
    """A whole scenario: the structure of a scenario file; every section is optional."""

    model_config = ConfigDict(json_schema_extra={"examples": [FORAGING_EXAMPLE]})

    scenario: ScenarioHead = Field(default_factory=ScenarioHead)
    world: WorldSection = Field(default_factory=WorldSection)
    agents: dict[Literal[KINDS], Annotated[int, Field(ge=0)]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: dict(_default(SimulationConfig, "agents")),
        description="Agents of each kind at the start.",
    )
    coalitions: CoalitionsSection = Field(default_factory=CoalitionsSection)
    simulation: SimulationSection = Field(default_factory=SimulationSection)


# ---------------------------------------------------------------------- messages
def _place(loc: Sequence[Any]) -> str:
    where = ""
    for part in loc:
        if isinstance(part, int):
            where += f"[{part}]"
        else:
            where = f"{where}.{part}" if where else str(part)
    return where or "top level"


def _bounds(metadata: Sequence[Any], number: type) -> str:
    low = next((m for m in metadata if isinstance(m, Ge | Gt)), None)
    high = next((m.le for m in metadata if isinstance(m, Le)), None)

    def show(x: Any) -> str:
        return str(number(x))

    if low is not None and high is not None:
        bracket = "(" if isinstance(low, Gt) else "["
        value = low.gt if isinstance(low, Gt) else low.ge
        return f" in {bracket}{show(value)}, {show(high)}]"
    if isinstance(low, Gt):
        return f" > {show(low.gt)}"
    if isinstance(low, Ge):
        return f" >= {show(low.ge)}"
    return ""


def _expected(annotation: Any, metadata: Sequence[Any] = ()) -> str:
    """What a value of ``annotation`` with ``metadata`` constraints must be, in words."""
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *extra = get_args(annotation)
        inner_meta = [m for e in extra for m in getattr(e, "metadata", [e])]
        return _expected(inner, [*metadata, *inner_meta])
    if annotation is int:
        return "an integer" + _bounds(metadata, int)
    if annotation is float:
        return "a number" + _bounds(metadata, float)
    if annotation is str:
        return "a non-empty string"
    if origin is Literal:
        return f"one of {list(get_args(annotation))}"
    if origin is list:
        return "an array of tables" if _is_model(get_args(annotation)[0]) else "a list"
    if origin is dict:
        return "a table of kind = count"
    if _is_model(annotation):
        return "a table"
    args = [a for a in get_args(annotation) if a is not type(None)]
    return _expected(args[0], metadata) if len(args) == 1 else "a valid value"


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _fields(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_fields


def _unwrap(annotation: Any, metadata: list[Any]) -> tuple[Any, list[Any]]:
    """Strip ``Annotated`` (keeping its constraints) and ``| None``."""
    while True:
        if get_origin(annotation) is Annotated:
            annotation, *extra = get_args(annotation)
            metadata = [m for e in extra for m in getattr(e, "metadata", [e])]
            continue
        args = [a for a in get_args(annotation) if a is not type(None)]
        if get_origin(annotation) not in (list, dict, Literal) and len(args) == 1:
            annotation = args[0]
            continue
        return annotation, metadata


def _resolve(model: type[BaseModel], loc: Sequence[Any]) -> tuple[Any, list[Any]] | None:
    """The annotation and constraints of the value at ``loc`` below ``model``."""
    annotation: Any = model
    metadata: list[Any] = []
    for part in loc:
        annotation, metadata = _unwrap(annotation, metadata)
        if _is_model(annotation) and part in _fields(annotation):
            info = _fields(annotation)[part]
            annotation, metadata = info.annotation, list(info.metadata)
        elif get_origin(annotation) is list and isinstance(part, int):
            annotation, metadata = get_args(annotation)[0], []
        elif get_origin(annotation) is dict and isinstance(part, str):
            annotation, metadata = get_args(annotation)[1], []
        else:
            return None
    return _unwrap(annotation, metadata)


def _unknown(model: type[BaseModel], loc: tuple, keys: list[str]) -> str:
    where = _place(loc)
    resolved = _resolve(model, loc)
    target = resolved[0] if resolved else None
    if get_origin(target) is dict:  # the agents table: keys are kinds
        return f"{where}: unknown agent kind(s) {keys}; kinds are {KINDS}"
    allowed = sorted(_fields(target)) if _is_model(target) else []
    hints = [difflib.get_close_matches(k, allowed, n=1) for k in keys]
    hint = "; ".join(
        f"{k!r} -> did you mean {h[0]!r}?" for k, h in zip(keys, hints, strict=True) if h
    )
    return f"{where}: unknown key(s) {keys}; allowed: {allowed}" + (f" ({hint})" if hint else "")


def problems(
    errors: ValidationError | Sequence[Mapping[str, Any]], model: type[BaseModel] = ScenarioSpec
) -> list[str]:
    """One message per mistake found validating ``model`` (a ``ValidationError``, or its
    ``errors()`` with locations relative to ``model``), in field order; unknown keys are
    gathered into one message per table."""
    if isinstance(errors, ValidationError):
        errors = errors.errors()
    found: list[str | tuple] = []  # a tuple stands for the unknown keys of that table
    unknown: dict[tuple, list[str]] = {}
    for error in errors:
        loc, kind = tuple(error["loc"]), error["type"]
        if kind == "extra_forbidden" or (kind == "literal_error" and _is_kind_key(loc)):
            parent, key = (loc[:-2], loc[-2]) if kind == "literal_error" else (loc[:-1], loc[-1])
            if parent not in unknown:
                unknown[parent] = []
                found.append(parent)
            unknown[parent].append(str(key))
        elif kind == "missing":
            found.append(f"{_place(loc)}: required but missing")
        else:
            resolved = _resolve(model, loc)
            expected = _expected(*resolved) if resolved else error["msg"]
            found.append(f"{_place(loc)}: expected {expected}, got {error['input']!r}")
    return [_unknown(model, p, unknown[p]) if isinstance(p, tuple) else p for p in found]


def _is_kind_key(loc: tuple) -> bool:
    """A literal error on an agents key: pydantic locates it at ``(agents, key, '[key]')``."""
    return len(loc) >= 3 and loc[0] == "agents" and loc[-1] == "[key]"
