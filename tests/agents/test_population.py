"""Kinds and the heterogeneous population."""

from __future__ import annotations

import numpy as np
import pytest

from freeagentics.agents import CohortConfig
from freeagentics.agents.kinds import builtin_kinds, define_kind
from freeagentics.agents.population import Population
from freeagentics.errors import ConfigurationError, UnknownIdError
from freeagentics.models.builders import displacement_model, explorer_model, locator_model


def test_builtin_kinds_have_world_sized_independent_models():
    kinds = builtin_kinds(radius=3)
    assert set(kinds) == {"explorer", "collector", "coordinator"}
    for kind in kinds.values():
        assert kind.model.num_states == (49,)  # (2*3+1)^2 whatever the world
    assert displacement_model(4).num_states == (81,)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        (dict(name="bad name!"), "kind name must be"),
        (dict(observer="radar"), "observer must be one of"),
        (dict(target="treasure"), "target must be one of"),
        (dict(model=locator_model(4)), "a compass observer needs 9 outcomes"),
    ],
)
def test_kind_definitions_are_checked(kwargs, fragment):
    args = dict(name="scout")
    args.update(kwargs)
    with pytest.raises(ConfigurationError, match=fragment):
        define_kind(**args)


def test_a_cell_observer_kind_takes_any_model_with_world_moves():
    kind = define_kind("surveyor", explorer_model(5), observer="cell", target="none")
    assert kind.model.num_obs == (5,)


def test_population_keeps_ids_in_creation_order_across_kinds():
    kinds = list(builtin_kinds(radius=2).values())
    pop = Population(kinds, np.random.default_rng(0), history=2)
    a = pop.add("explorer", np.array([0, 1]))
    b = pop.add("collector", np.array([2]))
    c = pop.add("explorer", np.array([3]))
    assert pop.ids.tolist() == [0, 1, 2, 3] == [*a, *b, *c]
    assert pop.kinds().tolist() == [0, 0, 1, 0]
    assert pop.slots().tolist() == [0, 1, 2, 3]
    freed = pop.remove(np.array([1, 2]))
    assert sorted(freed.tolist()) == [1, 2]
    assert pop.ids.tolist() == [0, 3] and pop.kinds().tolist() == [0, 0]
    with pytest.raises(UnknownIdError, match="no agent with id 2"):
        pop.locate(np.array([2]))
    with pytest.raises(ConfigurationError, match="unknown agent kind 'pirate'"):
        pop.add("pirate", np.array([5]))


def test_kinds_that_look_ahead_plan_every_horizon_unless_asked_to_replan():
    deep = displacement_model(2, policy_len=3)
    assert define_kind("planner", deep).config.plan_every == 3
    assert define_kind("replanner", deep, exact_planning=True).config.plan_every == 1
    assert define_kind("scout").config.plan_every == 1  # one-step policies: nothing to follow
    given = CohortConfig(plan_every=2)
    assert define_kind("custom", deep, config=given).config is given
