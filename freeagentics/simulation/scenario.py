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
dataclasses' defaults. Every key is checked against this schema before anything is
built, so a typo is an error (with the allowed keys and the closest match), never a
silently ignored setting. Every error is a :class:`ConfigurationError` whose message
starts with the place it is about: ``world.height: expected an integer >= 1, got 'ten'``.

Overrides (for sweeps and the command line) are dotted keys into the same structure,
``{"coalitions.strength": 8.0, "agents.collector": 50, "world.resources.0.density":
0.1}``, applied to a scenario and validated exactly like a file.
"""

from __future__ import annotations

import copy
import difflib
import json
import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from freeagentics.agents.kinds import builtin_kinds
from freeagentics.errors import ConfigurationError
from freeagentics.simulation._config import (
    STRATEGIES,
    CoalitionSettings,
    ObjectiveSpec,
    SimulationConfig,
)
from freeagentics.worlds import GridWorldConfig, ResourceType

__all__ = [
    "DEFAULT_TICKS",
    "Scenario",
    "apply_overrides",
    "load_scenario",
    "parse_override_values",
    "scenario_from_mapping",
    "scenario_to_mapping",
]

DEFAULT_TICKS = 100

# A checker validates one value at a place (``where``) and returns it converted.
Checker = Callable[[str, Any], Any]


@dataclass(frozen=True)
class Scenario:
    """A validated simulation configuration, its name and its length in ticks."""

    name: str
    ticks: int
    config: SimulationConfig

    def with_overrides(self, overrides: Mapping[str, Any]) -> Scenario:
        """This scenario with dotted-key ``overrides`` applied (see :func:`apply_overrides`)."""
        return apply_overrides(self, overrides)


# ---------------------------------------------------------------------- value checkers
def _join(where: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else key


def _fail(where: str, expected: str, value: Any) -> ConfigurationError:
    return ConfigurationError(f"{where}: expected {expected}, got {value!r}")


def _number(
    *, integer: bool, low: float | None = None, high: float | None = None, low_open: bool = False
) -> Checker:
    noun = "an integer" if integer else "a number"
    if low is not None and high is not None:
        expected = f"{noun} in {'(' if low_open else '['}{low}, {high}]"
    elif low is not None:
        expected = f"{noun} {'>' if low_open else '>='} {low}"
    else:
        expected = noun

    def check(where: str, value: Any) -> int | float:
        kinds = int if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds):
            raise _fail(where, expected, value)
        if not math.isfinite(value):
            raise _fail(where, expected, value)
        if low is not None and (value < low or (low_open and value == low)):
            raise _fail(where, expected, value)
        if high is not None and value > high:
            raise _fail(where, expected, value)
        return int(value) if integer else float(value)

    return check


def _int(low: int) -> Checker:
    return _number(integer=True, low=low)


def _float(low: float | None = None, high: float | None = None, *, low_open=False) -> Checker:
    return _number(integer=False, low=low, high=high, low_open=low_open)


def _text(choices: tuple[str, ...] = ()) -> Checker:
    expected = f"one of {list(choices)}" if choices else "a non-empty string"

    def check(where: str, value: Any) -> str:
        if not isinstance(value, str) or not value or (choices and value not in choices):
            raise _fail(where, expected, value)
        return value

    return check


def _list(item: Checker, *, length: int | None = None, noun: str = "a list") -> Checker:
    def check(where: str, value: Any) -> list:
        if not isinstance(value, list | tuple) or (length is not None and len(value) != length):
            raise _fail(where, noun, value)
        return [item(_join(where, i), v) for i, v in enumerate(value)]

    return check


def _tables(schema: dict[str, Checker], required: tuple[str, ...]) -> Checker:
    """An array of tables (``[[section.key]]``), each checked against ``schema``."""

    def check(where: str, value: Any) -> list[dict]:
        if not isinstance(value, list | tuple):
            raise _fail(where, "an array of tables", value)
        return [_table(_join(where, i), v, schema, required) for i, v in enumerate(value)]

    return check


def _table(
    where: str, value: Any, schema: Mapping[str, Checker], required: tuple[str, ...] = ()
) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(where or "top level", "a table", value)
    unknown = [k for k in value if k not in schema]
    if unknown:
        hints = [difflib.get_close_matches(str(k), list(schema), n=1) for k in unknown]
        hint = "; ".join(
            f"{k!r} -> did you mean {h[0]!r}?" for k, h in zip(unknown, hints, strict=True) if h
        )
        raise ConfigurationError(
            f"{where or 'top level'}: unknown key(s) {unknown}; allowed: {sorted(schema)}"
            + (f" ({hint})" if hint else "")
        )
    missing = [k for k in required if k not in value]
    if missing:
        raise ConfigurationError(f"{_join(where, missing[0])}: required but missing")
    return {key: schema[key](_join(where, key), v) for key, v in value.items()}


# ---------------------------------------------------------------------- the schema
RESOURCE = {
    "name": _text(),
    "density": _float(0.0, 1.0),
    "max_amount": _float(0.0, low_open=True),
    "regrowth": _float(0.0),
    "depletion": _float(0.0, low_open=True),
}
WORLD = {
    "height": _int(1),
    "width": _int(1),
    "wall_density": _float(0.0, 1.0),
    "n_goals": _int(0),
    "hazard_density": _float(0.0, 1.0),
    "resources": _tables(RESOURCE, required=("name",)),
    "initial_energy": _float(0.0, low_open=True),
    "energy_cost_per_move": _float(0.0),
    "energy_cost_per_tick": _float(0.0),
    "energy_per_unit": _float(0.0),
    "hazard_penalty": _float(0.0),
    "goal_reward": _float(),
    "observation_radius": _int(0),
}
OBJECTIVE = {
    "target": _list(_int(0), length=2, noun="[row, col]"),
    "capacity": _int(1),
    "priority": _float(),
    "kind": _text(),
    "required": _list(_float(), noun="a list of numbers"),
}
COALITIONS = {
    "strategy": _text(STRATEGIES),
    "reform_every": _int(1),
    "strength": _float(0.0),
    "objectives": _tables(OBJECTIVE, required=("target",)),
    "auto_objectives": _int(0),
    "objective_capacity": _int(1),
    "history": _int(1),
}
SIMULATION = {
    "radius": _int(1),
    "history": _int(1),
    "knowledge_every": _int(1),
    "knowledge_max_nodes": _int(16),
    "metrics_every": _int(1),
    "waypoint_range": _int(1),
    "resource_index_every": _int(1),
}
SCENARIO = {"name": _text(), "ticks": _int(1), "seed": _int(0)}
KINDS = tuple(sorted(builtin_kinds()))


def _agents(where: str, value: Any) -> dict[str, int]:
    if not isinstance(value, Mapping):
        raise _fail(where, "a table of kind = count", value)
    unknown = [k for k in value if k not in KINDS]
    if unknown:
        raise ConfigurationError(f"{where}: unknown agent kind(s) {unknown}; kinds are {KINDS}")
    counts = {k: _int(0)(_join(where, k), v) for k, v in value.items()}
    if sum(counts.values()) < 1:
        raise ConfigurationError(f"{where}: at least one agent is needed, got {counts}")
    return counts


SECTIONS: dict[str, Checker] = {
    "scenario": lambda w, v: _table(w, v, SCENARIO),
    "world": lambda w, v: _table(w, v, WORLD),
    "agents": _agents,
    "coalitions": lambda w, v: _table(w, v, COALITIONS),
    "simulation": lambda w, v: _table(w, v, SIMULATION),
}


# ---------------------------------------------------------------------- building
def _build(where: str, factory: Callable[..., Any], **kwargs: Any) -> Any:
    """Construct a config dataclass; its own (cross-field) errors get ``where`` in front."""
    try:
        return factory(**kwargs)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{where}: {exc}") from None


def scenario_from_mapping(data: Mapping[str, Any], *, default_name: str = "scenario") -> Scenario:
    """Validate a parsed scenario (the structure of a scenario file) and build it."""
    checked = _table("", data, SECTIONS)
    head = checked.get("scenario", {})
    world = dict(checked.get("world", {}))
    resources = tuple(
        _build(f"world.resources[{i}]", ResourceType, **r)
        for i, r in enumerate(world.pop("resources", []))
    )
    world_config = _build("world", GridWorldConfig, resources=resources, **world)
    agents = checked.get("agents", SimulationConfig().agents)
    cells = world_config.height * world_config.width
    if sum(agents.values()) > cells:
        raise ConfigurationError(
            f"agents: {sum(agents.values())} agents do not fit on a "
            f"{world_config.height}x{world_config.width} world ({cells} cells)"
        )
    coalitions = dict(checked.get("coalitions", {}))
    objectives = []
    for i, spec in enumerate(coalitions.pop("objectives", [])):
        where = f"coalitions.objectives[{i}]"
        row, col = spec["target"]
        if row >= world_config.height or col >= world_config.width:
            raise ConfigurationError(
                f"{where}.target: {spec['target']} is outside the "
                f"{world_config.height}x{world_config.width} world"
            )
        spec = {**spec, "target": (row, col), "required": tuple(spec.get("required", ()))}
        objectives.append(_build(where, ObjectiveSpec, **spec))
    settings = _build("coalitions", CoalitionSettings, objectives=tuple(objectives), **coalitions)
    config = _build(
        "simulation",
        SimulationConfig,
        world=world_config,
        agents=agents,
        seed=head.get("seed", 0),
        coalitions=settings,
        **checked.get("simulation", {}),
    )
    return Scenario(
        name=head.get("name", default_name), ticks=head.get("ticks", DEFAULT_TICKS), config=config
    )


def scenario_to_mapping(scenario: Scenario) -> dict[str, Any]:
    """The scenario as the structure of a scenario file (plain dicts, lists and scalars).

    ``scenario_from_mapping(scenario_to_mapping(s)) == s`` for every valid scenario.
    """
    config = scenario.config
    world = {k: getattr(config.world, k) for k in WORLD if k != "resources"}
    world["resources"] = [{k: getattr(r, k) for k in RESOURCE} for r in config.world.resources]
    coalitions = {k: getattr(config.coalitions, k) for k in COALITIONS if k != "objectives"}
    coalitions["objectives"] = [
        {k: list(v) if isinstance(v, tuple) else v for k, v in vars(o).items()}
        for o in config.coalitions.objectives
    ]
    return {
        "scenario": {"name": scenario.name, "ticks": scenario.ticks, "seed": config.seed},
        "world": world,
        "agents": dict(config.agents),
        "coalitions": coalitions,
        "simulation": {k: getattr(config, k) for k in SIMULATION},
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
        return scenario_from_mapping(data, default_name=scenario.name)
    except ConfigurationError as exc:
        raise ConfigurationError(f"overrides {dict(overrides)}: {exc}") from None


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
    except ConfigurationError as exc:
        raise ConfigurationError(f"{path}: {exc}") from None
