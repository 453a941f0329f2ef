"""Configuration and layout validation: bad values fail loudly, naming the field."""

from __future__ import annotations

import math

import numpy as np
import pytest

from freeagentics.errors import ConfigurationError
from freeagentics.worlds import GridWorld, GridWorldConfig, Layout, ResourceType

BAD_CONFIG_VALUES = [
    ("height", 0),
    ("height", 2.5),
    ("height", True),
    ("width", -3),
    ("n_agents", -1),
    ("wall_density", 1.5),
    ("wall_density", -0.1),
    ("wall_density", math.nan),
    ("n_goals", -1),
    ("hazard_density", 2.0),
    ("initial_energy", 0.0),
    ("initial_energy", math.inf),
    ("energy_cost_per_move", -0.5),
    ("energy_cost_per_tick", -1.0),
    ("energy_per_unit", -1.0),
    ("hazard_penalty", -2.0),
    ("goal_reward", math.nan),
    ("observation_radius", -1),
    ("observation_radius", 1.0),
    ("resources", ("food",)),
]


@pytest.mark.parametrize(("field", "value"), BAD_CONFIG_VALUES)
def test_bad_config_value_names_the_field(field, value):
    with pytest.raises(ConfigurationError, match=rf"^{field} must be"):
        GridWorldConfig(**{field: value})


@pytest.mark.parametrize(
    ("field", "value"),
    [("density", 1.2), ("max_amount", 0.0), ("regrowth", -0.1), ("depletion", 0.0)],
)
def test_bad_resource_value_names_the_field(field, value):
    with pytest.raises(ConfigurationError, match=rf"ResourceType\(food\)\.{field} must be"):
        ResourceType("food", **{field: value})


def test_resource_name_must_be_non_empty_and_unique():
    with pytest.raises(ConfigurationError, match="name"):
        ResourceType("")
    with pytest.raises(ConfigurationError, match="unique names"):
        GridWorldConfig(resources=(ResourceType("a"), ResourceType("a")))


def test_densities_must_sum_to_at_most_one():
    with pytest.raises(ConfigurationError, match="densities must be <= 1"):
        GridWorldConfig(wall_density=0.5, hazard_density=0.3, resources=(ResourceType("f", 0.3),))
    GridWorldConfig(wall_density=0.5, hazard_density=0.3, resources=(ResourceType("f", 0.2),))


def test_config_accepts_numpy_scalars_and_lists():
    cfg = GridWorldConfig(height=np.int64(4), wall_density=np.float32(0.25), resources=[])
    assert cfg.height == 4 and cfg.resources == ()


def test_too_many_goals_or_agents_for_the_grid():
    with pytest.raises(ConfigurationError, match="n_goals"):
        GridWorld(GridWorldConfig(height=3, width=3, wall_density=0.0, n_goals=10), seed=0)
    with pytest.raises(ConfigurationError, match="n must be at most 9"):
        GridWorld(GridWorldConfig(height=3, width=3, wall_density=0.0, n_agents=10), seed=0)


def test_layout_rejects_overlapping_features_and_bad_symbols():
    walls = np.zeros((2, 2), dtype=bool)
    walls[0, 0] = True
    with pytest.raises(ConfigurationError, match=r"cell \(0, 0\)"):
        Layout(walls=walls, goals=walls, hazards=~walls & False, resource_kind=np.full((2, 2), -1))
    with pytest.raises(ConfigurationError, match="unknown layout symbol 'x'"):
        Layout.from_text(["..", ".x"])
    with pytest.raises(ConfigurationError, match="equal length"):
        Layout.from_text(["..", "."])


def test_layout_must_match_config_shape_and_resource_types():
    cfg = GridWorldConfig(height=2, width=3, n_agents=1)
    with pytest.raises(ConfigurationError, match="layout must be a Layout of shape"):
        GridWorld(cfg, layout=Layout.from_text(["..", ".."]))
    with pytest.raises(ConfigurationError, match="resource type 0"):
        GridWorld(cfg, layout=Layout.from_text(["0..", "..."]))


def test_bad_actions_rejected():
    world = GridWorld(GridWorldConfig(height=4, width=4, n_agents=2, wall_density=0.0), seed=0)
    with pytest.raises(ConfigurationError, match="shape"):
        world.step(np.zeros(3, dtype=np.int64))
    with pytest.raises(ConfigurationError, match="integer"):
        world.step(np.zeros(2))
    with pytest.raises(ConfigurationError, match="Move codes"):
        world.step(np.array([0, 5]))
