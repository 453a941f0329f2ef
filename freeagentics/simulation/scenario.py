"""Scenario files: a simulation's settings and how long to run it, in TOML or JSON.

A scenario (TOML shown; a ``.json`` file holds the same structure as an object)::

    [scenario]
    name = "foraging"          # default: the file's stem
    ticks = 500                # default: 100
    seed = 0

    [world]                    # GridWorldConfig fields except n_agents
    height = 64
    width = 64
    wall_density = 0.08

    [[world.resources]]        # ResourceType fields; name is required
    name = "food"
    density = 0.05

    [agents]                   # kind = count; kinds: explorer, collector, coordinator
    explorer = 120
    collector = 70

    [coalitions]               # CoalitionSettings fields
    strategy = "greedy"
    auto_objectives = 4

    [[coalitions.objectives]]  # ObjectiveSpec fields; target is required
    target = [10, 20]
    capacity = 8

    [simulation]               # the remaining SimulationConfig fields
    radius = 4
    knowledge_every = 5

Every section and key is optional except where marked; omitted ones take the
dataclasses' defaults (an empty scenario runs on defaults alone, and says so in
``Scenario.notes``). The schema is :class:`ScenarioSpec` (pydantic models in
:mod:`._scenario_model`), the same one the REST API takes and its JSON Schema shows.
Every key is checked against it before anything is built, so a typo is an error (with
the allowed keys and the closest match), never a silently ignored setting. Mistakes
raise :class:`ScenarioError` listing every one of them, each starting with the place
it is about: ``world.height: expected an integer >= 1, got 'ten'``.

Overrides (for sweeps and the command line) are dotted keys into the same structure,
``{"coalitions.strength": 8.0, "agents.collector": 50, "world.resources.0.density":
0.1}``, applied to a scenario and validated exactly like a file.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from freeagentics.errors import ConfigurationError
from freeagentics.simulation._config import CoalitionSettings, ObjectiveSpec, SimulationConfig
from freeagentics.simulation._scenario_model import (
    DEFAULT_TICKS,
    CoalitionsSection,
    ResourceSection,
    ScenarioSpec,
    SimulationSection,
    WorldSection,
)
from freeagentics.simulation._scenario_model import problems as scenario_problems
from freeagentics.worlds import GridWorldConfig, ResourceType

__all__ = [
    "DEFAULT_TICKS",
    "EMPTY_NOTE",
    "Scenario",
    "ScenarioError",
    "ScenarioSpec",
    "apply_overrides",
    "load_scenario",
    "parse_override_values",
    "scenario_from_mapping",
    "scenario_problems",
    "scenario_to_mapping",
]

#: The note an empty scenario carries: it runs, but on defaults alone.
EMPTY_NOTE = "the scenario is empty: every setting takes its default"


class ScenarioError(ConfigurationError):
    """A scenario with mistakes: ``problems`` holds one message per mistake, all of them.

    The text is the one problem, or ``N problems: first; second; ...``, after ``where``
    (a file name, say) when given.
    """

    def __init__(self, problems: Sequence[str], *, where: str | None = None):
        self.problems = list(problems)
        self.where = where
        body = (
            self.problems[0]
            if len(self.problems) == 1
            else f"{len(self.problems)} problems: " + "; ".join(self.problems)
        )
        super().__init__(f"{where}: {body}" if where else body)


@dataclass(frozen=True)
class Scenario:
    """A validated simulation configuration, its name and its length in ticks.

    ``notes`` say what was assumed (e.g. :data:`EMPTY_NOTE`); they are not compared.
    """

    name: str
    ticks: int
    config: SimulationConfig
    notes: tuple[str, ...] = field(default=(), compare=False)

    def with_overrides(self, overrides: Mapping[str, Any]) -> Scenario:
        """This scenario with dotted-key ``overrides`` applied (see :func:`apply_overrides`)."""
        return apply_overrides(self, overrides)


def _built(found: list[str], where: str, factory: Callable[..., Any], **kwargs: Any) -> Any:
    """A config dataclass, or ``None`` with its own (cross-field) error noted at ``where``."""
    try:
        return factory(**kwargs)
    except ConfigurationError as exc:
        found.append(f"{where}: {exc}")
        return None


def _configs(spec: ScenarioSpec) -> tuple[SimulationConfig | None, list[str]]:
    """The dataclasses of a schema-valid ``spec`` and every cross-field mistake."""
    found: list[str] = []
    world_fields = spec.world.model_dump(exclude={"resources"})
    resources = [
        _built(found, f"world.resources[{i}]", ResourceType, **r.model_dump())
        for i, r in enumerate(spec.world.resources)
    ]
    world = None
    if None not in resources:
        world = _built(found, "world", GridWorldConfig, resources=tuple(resources), **world_fields)
    agents = dict(spec.agents)
    if sum(agents.values()) < 1:
        found.append(f"agents: at least one agent is needed, got {agents}")
    elif world is not None and sum(agents.values()) > world.height * world.width:
        found.append(
            f"agents: {sum(agents.values())} agents do not fit on a "
            f"{world.height}x{world.width} world ({world.height * world.width} cells)"
        )
    objectives = []
    for i, objective in enumerate(spec.coalitions.objectives):
        where = f"coalitions.objectives[{i}]"
        row, col = objective.target
        if world is not None and (row >= world.height or col >= world.width):
            found.append(
                f"{where}.target: {objective.target} is outside the "
                f"{world.height}x{world.width} world"
            )
            continue
        fields = {**objective.model_dump(), "target": (row, col)}
        fields["required"] = tuple(objective.required)
        objectives.append(_built(found, where, ObjectiveSpec, **fields))
    coalitions = _built(
        found,
        "coalitions",
        CoalitionSettings,
        objectives=tuple(objectives),
        **spec.coalitions.model_dump(exclude={"objectives"}),
    )
    if found or world is None or coalitions is None:
        return None, found
    config = _built(
        found,
        "simulation",
        SimulationConfig,
        world=world,
        agents=agents,
        seed=spec.scenario.seed,
        coalitions=coalitions,
        **spec.simulation.model_dump(),
    )
    return config, found


def scenario_from_mapping(data: Mapping[str, Any], *, default_name: str = "scenario") -> Scenario:
    """Validate a parsed scenario (the structure of a scenario file) and build it.

    Raises :class:`ScenarioError` naming every mistake at once.
    """
    if not isinstance(data, Mapping):
        raise ScenarioError([f"top level: expected a table, got {data!r}"])
    try:
        spec = ScenarioSpec.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(scenario_problems(exc)) from None
    config, found = _configs(spec)
    if found or config is None:
        raise ScenarioError(found)
    return Scenario(
        name=spec.scenario.name or default_name,
        ticks=spec.scenario.ticks,
        config=config,
        notes=() if data else (EMPTY_NOTE,),
    )


def scenario_to_mapping(scenario: Scenario) -> dict[str, Any]:
    """The scenario as the structure of a scenario file (plain dicts, lists and scalars).

    ``scenario_from_mapping(scenario_to_mapping(s)) == s`` for every valid scenario.
    """
    config = scenario.config
    world = {k: getattr(config.world, k) for k in WorldSection.model_fields if k != "resources"}
    world["resources"] = [
        {k: getattr(r, k) for k in ResourceSection.model_fields} for r in config.world.resources
    ]
    coalitions = {
        k: getattr(config.coalitions, k)
        for k in CoalitionsSection.model_fields
        if k != "objectives"
    }
    coalitions["objectives"] = [
        {k: list(v) if isinstance(v, tuple) else v for k, v in vars(o).items()}
        for o in config.coalitions.objectives
    ]
    return {
        "scenario": {"name": scenario.name, "ticks": scenario.ticks, "seed": config.seed},
        "world": world,
        "agents": dict(config.agents),
        "coalitions": coalitions,
        "simulation": {k: getattr(config, k) for k in SimulationSection.model_fields},
    }


def apply_overrides(scenario: Scenario, overrides: Mapping[str, Any]) -> Scenario:
    """``scenario`` with each dotted key of ``overrides`` set, validated like a file.

    Keys name a place in the file's structure: ``"coalitions.strength"``,
    ``"agents.collector"`` (a kind absent from the scenario is added),
    ``"world.resources.0.density"`` (an index into an array of tables).
    """
    data = copy.deepcopy(scenario_to_mapping(scenario))
    for key, value in overrides.items():
        parts = key.split(".") if isinstance(key, str) else []
        if not parts or not all(parts):
            raise ConfigurationError(f"override {key!r}: expected a dotted key like 'world.height'")
        node: Any = data
        for depth, part in enumerate(parts):
            place = ".".join(parts[:depth]) or "the scenario"
            last = depth == len(parts) - 1
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise ConfigurationError(
                        f"override {key!r}: {place} has {len(node)} entries, no index {part!r}"
                    )
                index: str | int = int(part)
            elif isinstance(node, dict):
                index = part
                if not last and part not in node:
                    node[part] = {}  # let validation name the unknown section
            else:
                raise ConfigurationError(f"override {key!r}: {place} is not a table")
            if last:
                node[index] = value
            else:
                node = node[index]
    try:
        changed = scenario_from_mapping(data, default_name=scenario.name)
        return dataclasses.replace(changed, notes=scenario.notes)
    except ScenarioError as exc:
        raise ScenarioError(exc.problems, where=f"overrides {dict(overrides)}") from None


def parse_override_values(text: str) -> list[Any]:
    """Values of a ``KEY=V1,V2,...`` assignment, each read as a TOML value.

    ``"2,4,8"`` → ``[2, 4, 8]``; ``"0.5"`` → ``[0.5]``; ``"[1, 2],[3, 4]"`` → two
    lists; a word that is not TOML (``greedy``) is taken as a string.
    """
    try:
        return tomllib.loads(f"v = [{text}]")["v"]
    except tomllib.TOMLDecodeError:
        pass
    values = []
    for item in text.split(","):
        item = item.strip()
        try:
            values.append(tomllib.loads(f"v = {item}")["v"])
        except tomllib.TOMLDecodeError:
            values.append(item)
    return values


# ---------------------------------------------------------------------- files
def _parse(path: Path, text: str) -> Any:
    if path.suffix.lower() == ".toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:  # its message carries line and column
            raise ConfigurationError(f"{path}: invalid TOML: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"{path}: invalid JSON: {exc.msg} (at line {exc.lineno}, column {exc.colno})"
        ) from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a ``.toml`` or ``.json`` scenario file."""
    path = Path(path)
    if path.suffix.lower() not in (".toml", ".json"):
        raise ConfigurationError(f"{path}: a scenario file must end in .toml or .json")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read the scenario ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise ConfigurationError(f"{path}: not UTF-8 text ({exc.reason})") from None
    data = _parse(path, text)
    try:
        return scenario_from_mapping(data, default_name=path.stem)
    except ScenarioError as exc:
        raise ScenarioError(exc.problems, where=str(path)) from None
