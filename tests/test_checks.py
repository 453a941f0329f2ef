"""The shared whole-number checks and the places that now rely on them."""

from __future__ import annotations

import numpy as np
import pytest

from freeagentics._checks import whole_number_at_least, whole_number_in
from freeagentics.coalitions import CoalitionState
from freeagentics.errors import ConfigurationError
from freeagentics.simulation import CoalitionSettings, SimulationConfig

NOT_WHOLE = [True, 2.0, 2.5, "2", None, np.float64(2.0)]


@pytest.mark.parametrize("value", NOT_WHOLE)
def test_at_least_rejects_what_is_not_a_whole_number(value):
    with pytest.raises(ConfigurationError, match=r"^size must be a whole number >= 1, got "):
        whole_number_at_least("size", value, 1)


@pytest.mark.parametrize("value", [*NOT_WHOLE, -1, 11])
def test_in_rejects_what_is_outside_or_not_whole(value):
    with pytest.raises(ConfigurationError) as info:
        whole_number_in("limit", value, 0, 10)
    assert str(info.value) == f"limit must be a whole number in [0, 10], got {value!r}"


def test_both_return_plain_ints_and_keep_the_bounds_inclusive():
    for value in (1, np.int64(1), np.uint8(1)):
        out = whole_number_at_least("size", value, 1)
        assert out == 1 and type(out) is int
    assert whole_number_in("limit", np.int32(0), 0, 10) == 0
    assert type(whole_number_in("limit", 10, 0, 10)) is int


def test_the_error_type_is_the_callers():
    with pytest.raises(ValueError, match="policy_len must be a whole number >= 1, got 0"):
        whole_number_at_least("policy_len", 0, 1, error=ValueError)
    with pytest.raises(KeyError):
        whole_number_in("x", 5, 0, 1, error=KeyError)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"reform_every": 2.5}, "coalitions.reform_every must be a whole number >= 1, got 2.5"),
        ({"history": 0}, "coalitions.history must be a whole number >= 1, got 0"),
        ({"auto_objectives": 1.0}, "coalitions.auto_objectives must be a whole number >= 0"),
    ],
)
def test_coalition_settings_take_whole_numbers_only(settings, message):
    # floats used to pass here and fail later, deep inside the coalition manager
    with pytest.raises(ConfigurationError, match=message.replace(".", r"\.")):
        CoalitionSettings(**settings)


def test_simulation_config_stores_numpy_integers_as_ints():
    config = SimulationConfig(
        agents={"explorer": np.int64(2)},
        seed=np.int64(7),
        radius=np.int32(3),
        coalitions=CoalitionSettings(reform_every=np.int64(4)),
    )
    assert type(config.agents["explorer"]) is int and config.n_agents == 2
    assert type(config.seed) is int and type(config.radius) is int
    assert type(config.coalitions.reform_every) is int
    with pytest.raises(ConfigurationError, match=r"agents\.explorer must be a whole number >= 0"):
        SimulationConfig(agents={"explorer": 1.5})
    with pytest.raises(
        ConfigurationError, match=r"^knowledge_max_nodes must be a whole number >= 16, got 8"
    ):
        SimulationConfig(knowledge_max_nodes=8)


@pytest.mark.parametrize("bad", [2.5, -1, "3"])
def test_coalition_state_rejects_counts_that_are_not_whole(bad):
    # a float count used to be truncated by np.full and a string to fail with a TypeError
    with pytest.raises(ConfigurationError, match=r"^num_agents must be a whole number >= 0"):
        CoalitionState(bad)
    state = CoalitionState(2)
    with pytest.raises(ConfigurationError, match=r"^count must be a whole number >= 0"):
        state.add_agents(bad)
    assert state.num_agents == 2
