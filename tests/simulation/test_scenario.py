"""Scenario files load into validated configs; every mistake names the place it is about."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from freeagentics.errors import ConfigurationError
from freeagentics.simulation import Simulation, SimulationConfig
from freeagentics.simulation.scenario import (
    DEFAULT_TICKS,
    EMPTY_NOTE,
    Scenario,
    ScenarioError,
    ScenarioSpec,
    apply_overrides,
    load_scenario,
    parse_override_values,
    scenario_from_mapping,
    scenario_to_mapping,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "scenarios"

SMALL = """
[scenario]
name = "tiny"
ticks = 7
seed = 3

[world]
height = 12
width = 10
wall_density = 0.05

[[world.resources]]
name = "food"
density = 0.1
regrowth = 0.2

[agents]
explorer = 5
collector = 4

[coalitions]
strategy = "grid"
strength = 2.5
auto_objectives = 1

[[coalitions.objectives]]
target = [3, 4]
capacity = 2
priority = 1.5

[simulation]
radius = 3
knowledge_every = 2
"""


def small() -> dict:
    import tomllib

    return tomllib.loads(SMALL)


def error_of(data) -> str:
    with pytest.raises(ConfigurationError) as info:
        scenario_from_mapping(data)
    return str(info.value)


def test_a_toml_file_loads_every_section(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(SMALL)
    s = load_scenario(path)
    assert (s.name, s.ticks, s.config.seed) == ("tiny", 7, 3)
    assert (s.config.world.height, s.config.world.width, s.config.world.n_agents) == (12, 10, 9)
    assert s.config.world.resources[0].name == "food"
    assert s.config.world.resources[0].regrowth == 0.2
    assert s.config.agents == {"explorer": 5, "collector": 4}
    assert s.config.coalitions.strategy == "grid" and s.config.coalitions.strength == 2.5
    (objective,) = s.config.coalitions.objectives
    assert objective.target == (3, 4) and objective.capacity == 2 and objective.priority == 1.5
    assert s.config.radius == 3 and s.config.knowledge_every == 2


def test_json_gives_the_same_scenario_as_toml(tmp_path):
    (tmp_path / "tiny.toml").write_text(SMALL)
    (tmp_path / "tiny.json").write_text(json.dumps(small()))
    assert load_scenario(tmp_path / "tiny.json") == load_scenario(tmp_path / "tiny.toml")


def test_defaults_fill_what_the_file_leaves_out(tmp_path):
    path = tmp_path / "bare.toml"
    path.write_text("[agents]\nexplorer = 3\n")
    s = load_scenario(path)
    assert s.name == "bare"  # the file's stem
    assert s.ticks == DEFAULT_TICKS
    assert s.config.agents == {"explorer": 3}
    assert s.config.world.height == 32


def test_mapping_round_trip():
    s = scenario_from_mapping(small())
    assert scenario_from_mapping(scenario_to_mapping(s)) == s


@pytest.mark.parametrize(
    ("section", "key", "value", "expected"),
    [
        ("world", "height", "ten", "world.height: expected an integer >= 1, got 'ten'"),
        ("world", "height", 0, "world.height: expected an integer >= 1, got 0"),
        ("world", "width", 2.5, "world.width: expected an integer >= 1, got 2.5"),
        ("world", "wall_density", 1.5, "world.wall_density: expected a number in [0.0, 1.0]"),
        ("world", "n_goals", True, "world.n_goals: expected an integer >= 0, got True"),
        ("world", "initial_energy", 0, "world.initial_energy: expected a number > 0.0"),
        ("scenario", "ticks", 0, "scenario.ticks: expected an integer >= 1, got 0"),
        ("scenario", "seed", -1, "scenario.seed: expected an integer >= 0, got -1"),
        ("scenario", "name", 5, "scenario.name: expected a non-empty string, got 5"),
        ("coalitions", "strategy", "best", "coalitions.strategy: expected one of ['greedy'"),
        ("coalitions", "reform_every", 0, "coalitions.reform_every: expected an integer >= 1"),
        ("coalitions", "strength", "x", "coalitions.strength: expected a number >= 0.0"),
        ("simulation", "radius", 0, "simulation.radius: expected an integer >= 1, got 0"),
        ("simulation", "knowledge_max_nodes", 3, "simulation.knowledge_max_nodes: expected"),
        ("agents", "explorer", -2, "agents.explorer: expected an integer >= 0, got -2"),
        ("agents", "collector", "4", "agents.collector: expected an integer >= 0, got '4'"),
    ],
)
def test_a_bad_value_names_its_field(section, key, value, expected):
    data = small()
    data[section][key] = value
    assert expected in error_of(data)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["world"]["resources"][0].update(density=2), "world.resources[0].density"),
        (lambda d: d["world"]["resources"][0].pop("name"), "world.resources[0].name: required"),
        (lambda d: d["world"]["resources"][0].update(colour=1), "world.resources[0]: unknown"),
        (lambda d: d["world"].update(resources={"name": "x"}), "world.resources: expected an"),
        (lambda d: d["coalitions"]["objectives"][0].update(target=[1]), ".objectives[0].target"),
        (
            lambda d: d["coalitions"]["objectives"][0].update(target=[1, "a"]),
            "coalitions.objectives[0].target[1]: expected an integer",
        ),
        (
            lambda d: d["coalitions"]["objectives"][0].update(target=[12, 0]),
            "coalitions.objectives[0].target: [12, 0] is outside the 12x10 world",
        ),
        (lambda d: d["coalitions"]["objectives"][0].pop("target"), "[0].target: required"),
        (lambda d: d["coalitions"]["objectives"][0].update(capacity=0), "[0].capacity: expected"),
        (lambda d: d.update(world=[1, 2]), "world: expected a table"),
        (lambda d: d.update(agents={"explorer": 0}), "agents: at least one agent is needed"),
        (lambda d: d.update(agents={"explorer": 121}), "agents: 121 agents do not fit on a 12x10"),
    ],
)
def test_nested_mistakes_name_their_place(mutate, expected):
    data = small()
    mutate(data)
    assert expected in error_of(data)


def test_cross_field_errors_name_their_section():
    data = small()
    data["world"].update(wall_density=0.6, hazard_density=0.5)
    message = error_of(data)
    assert message.startswith("world: ") and "densities must be <= 1" in message


def test_unknown_keys_are_listed_with_the_allowed_ones_and_a_suggestion():
    data = small()
    data["world"]["heigth"] = 4
    message = error_of(data)
    assert "world: unknown key(s) ['heigth']" in message
    assert "'height'" in message and "'wall_density'" in message  # the allowed keys
    assert "did you mean 'height'" in message


def test_unknown_sections_and_scenario_keys_are_errors():
    assert "top level: unknown key(s) ['agent']" in error_of({**small(), "agent": {}})
    data = small()
    data["scenario"]["tick"] = 5
    assert "scenario: unknown key(s) ['tick']" in error_of(data)
    data = small()
    data["simulation"]["seed"] = 1  # the seed lives in [scenario]
    assert "simulation: unknown key(s) ['seed']" in error_of(data)


def test_unknown_agent_kinds_list_the_known_ones():
    data = small()
    data["agents"]["explorr"] = 3
    message = error_of(data)
    assert "agents: unknown agent kind(s) ['explorr']" in message
    assert "'collector', 'coordinator', 'explorer'" in message


def test_a_file_that_is_not_a_table_is_an_error(tmp_path):
    path = tmp_path / "list.json"
    path.write_text("[1, 2]")
    with pytest.raises(ConfigurationError, match=r"list\.json: top level: expected a table"):
        load_scenario(path)


def test_malformed_toml_reports_the_line(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[world]\nheight = 4\nwidth = = 3\n")
    with pytest.raises(ConfigurationError, match=r"broken\.toml: invalid TOML: .*line 3"):
        load_scenario(path)


def test_malformed_json_reports_the_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{\n  "world": {\n    "height": 4,\n  }\n}\n')
    with pytest.raises(ConfigurationError, match=r"broken\.json: invalid JSON: .*line 4"):
        load_scenario(path)


def test_file_errors_name_the_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[world]\nheight = "ten"\n')
    with pytest.raises(ConfigurationError) as info:
        load_scenario(path)
    assert str(info.value) == f"{path}: world.height: expected an integer >= 1, got 'ten'"


def test_missing_files_and_other_extensions_are_errors(tmp_path):
    with pytest.raises(ConfigurationError, match="cannot read the scenario"):
        load_scenario(tmp_path / "nope.toml")
    (tmp_path / "s.yaml").write_text("world: {}")
    with pytest.raises(ConfigurationError, match=r"must end in \.toml or \.json"):
        load_scenario(tmp_path / "s.yaml")


def test_overrides_set_dotted_keys():
    s = scenario_from_mapping(small())
    changed = apply_overrides(
        s,
        {
            "coalitions.strength": 8,
            "agents.coordinator": 2,
            "world.resources.0.density": 0.2,
            "scenario.ticks": 3,
        },
    )
    assert changed.config.coalitions.strength == 8.0
    assert changed.config.agents == {"explorer": 5, "collector": 4, "coordinator": 2}
    assert changed.config.world.resources[0].density == 0.2
    assert changed.ticks == 3
    assert s.config.coalitions.strength == 2.5  # the original is untouched
    assert s.with_overrides({}) == s


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"coalitions.strenght": 8}, "coalitions: unknown key(s) ['strenght']"),
        ({"coalitions.strength": "big"}, "coalitions.strength: expected a number >= 0.0"),
        ({"agents.wizard": 3}, "agents: unknown agent kind(s) ['wizard']"),
        ({"world.height": "ten"}, "world.height: expected an integer >= 1, got 'ten'"),
        ({"worlds.height": 5}, "top level: unknown key(s) ['worlds']"),
        ({"world.resources.3.density": 0.1}, "world.resources has 1 entries, no index '3'"),
        ({"world.height.x": 1}, "world.height is not a table"),
        ({"world..height": 1}, "expected a dotted key"),
    ],
)
def test_overrides_are_validated_like_the_file(overrides, expected):
    with pytest.raises(ConfigurationError) as info:
        apply_overrides(scenario_from_mapping(small()), overrides)
    assert expected in str(info.value)


def test_override_values_are_read_as_toml():
    assert parse_override_values("2,4,8") == [2, 4, 8]
    assert parse_override_values("0.5") == [0.5]
    assert parse_override_values("greedy, grid") == ["greedy", "grid"]
    assert parse_override_values("[1, 2],[3, 4]") == [[1, 2], [3, 4]]
    assert parse_override_values('"a,b"') == ["a,b"]


def test_the_example_scenarios_load_and_build():
    foraging = load_scenario(EXAMPLES / "foraging.toml")
    assert foraging.config.n_agents == 200
    assert foraging.config.world.height == foraging.config.world.width == 64
    sim = Simulation(foraging.config)
    assert sim.step().ids.size == 200
    large = load_scenario(EXAMPLES / "large.toml")
    assert large.config.n_agents == 100_000
    assert (large.config.world.height, large.config.world.width) == (1000, 1000)
    assert isinstance(large, Scenario)


@pytest.mark.slow
def test_the_large_example_builds_and_steps():
    sim = Simulation(load_scenario(EXAMPLES / "large.toml").config)
    assert sim.step().ids.size == 100_000


# ---------------------------------------------------------------- the schema
def test_every_mistake_is_reported_at_once():
    data = small()
    data["world"]["height"] = "ten"
    data["world"]["heigth"] = 3
    data["scenario"]["seed"] = -1
    data["agents"]["explorr"] = 1
    data["coalitions"]["objectives"][0]["target"] = [1, "a"]
    with pytest.raises(ScenarioError) as info:
        scenario_from_mapping(data)
    assert info.value.problems == [
        "scenario.seed: expected an integer >= 0, got -1",
        "world.height: expected an integer >= 1, got 'ten'",
        info.value.problems[2],  # the unknown key, with the allowed ones
        "agents: unknown agent kind(s) ['explorr']; kinds are "
        "('collector', 'coordinator', 'explorer')",
        "coalitions.objectives[0].target[1]: expected an integer >= 0, got 'a'",
    ]
    assert info.value.problems[2].startswith("world: unknown key(s) ['heigth']")
    assert str(info.value).startswith("5 problems: scenario.seed: expected")


def test_cross_field_mistakes_are_all_reported():
    data = small()
    data["world"].update(wall_density=0.6, hazard_density=0.5)
    data["agents"] = {"explorer": 0}
    with pytest.raises(ScenarioError) as info:
        scenario_from_mapping(data)
    assert [p.split(":")[0] for p in info.value.problems] == ["world", "agents"]


def test_an_empty_scenario_runs_on_defaults_and_says_so(tmp_path):
    path = tmp_path / "empty.toml"
    path.write_text("# nothing yet\n")
    s = load_scenario(path)
    assert s.notes == (EMPTY_NOTE,)
    assert s.config == SimulationConfig(seed=0)
    assert s.with_overrides({"scenario.ticks": 5}).notes == (EMPTY_NOTE,)
    assert load_scenario(EXAMPLES / "foraging.toml").notes == ()


def test_the_example_files_satisfy_the_published_json_schema():
    import tomllib

    import jsonschema

    schema = ScenarioSpec.model_json_schema()
    for path in EXAMPLES.glob("*.toml"):
        jsonschema.validate(tomllib.loads(path.read_text()), schema)
    for example in schema["examples"]:
        jsonschema.validate(example, schema)
        scenario_from_mapping(example)  # and they build
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"world": {"height": 0}}, schema)


def test_schema_defaults_are_the_configs_defaults():
    spec = ScenarioSpec()
    built = scenario_from_mapping(spec.model_dump(exclude={"scenario": {"name"}}))
    assert built.config == SimulationConfig(seed=0)
