"""The service's errors cross a transport as themselves, attributes included."""

from __future__ import annotations

import copy

import pytest

from freeagentics.errors import (
    CheckpointError,
    ConfigurationError,
    ConflictError,
    FreeAgenticsError,
    LimitError,
    ModelError,
    ObservationError,
    SpecError,
    UnknownIdError,
)
from freeagentics.hosts import (
    HostError,
    HostTimeoutError,
    HostUnavailableError,
    decode,
    encode,
    error_from_wire,
    error_to_wire,
)
from freeagentics.knowledge import CapacityError
from freeagentics.simulation.scenario import ScenarioError


def _cross(exc: Exception) -> Exception:
    return error_from_wire(decode(encode(error_to_wire(exc))))


@pytest.mark.parametrize(
    "exc",
    [
        UnknownIdError("no simulation with id 7"),
        ConflictError("simulation 1 is running"),
        ConfigurationError("n must be >= 1"),
        CheckpointError("altered bytes"),
        ObservationError("bad shape"),
        FreeAgenticsError("something else"),
        HostUnavailableError("restarting"),
    ],
)
def test_errors_keep_their_type_and_message(exc):
    back = _cross(exc)
    assert type(back) is type(exc) and str(back) == str(exc)


def test_attributes_travel_with_their_errors():
    limit = _cross(LimitError("n: 5 is over the limit max_step_ticks=4", limit="max_step_ticks"))
    assert isinstance(limit, LimitError) and limit.limit == "max_step_ticks"
    spec = _cross(SpecError("kinds[0].spec: bad", path="kinds[0].spec.factors"))
    assert isinstance(spec, SpecError) and spec.path == "kinds[0].spec.factors"
    model = _cross(ModelError("A[1] is not normalised", array="A[1]", index=(0, 2)))
    assert type(model) is ModelError and (model.array, model.index) == ("A[1]", (0, 2))
    scenario = _cross(ScenarioError(["world.height: expected an integer", "agents.x: unknown"]))
    assert isinstance(scenario, ScenarioError)
    assert scenario.problems == ["world.height: expected an integer", "agents.x: unknown"]
    assert str(scenario).startswith("2 problems: world.height")


def test_a_timed_out_call_crosses_with_its_method_and_deadline():
    back = _cross(HostTimeoutError("step", 2.5))
    assert type(back) is HostTimeoutError and isinstance(back, HostUnavailableError)
    assert (back.method, back.timeout_s) == ("step", 2.5)
    assert str(back) == str(HostTimeoutError("step", 2.5))
    assert "step within 2.5 s" in str(back) and "may still complete" in str(back)
    copied = copy.copy(back)  # as exception machinery copies them, arguments intact
    assert (copied.method, copied.timeout_s, str(copied)) == ("step", 2.5, str(back))


def test_unlisted_errors_cross_as_their_nearest_known_base():
    back = _cross(CapacityError("the graph is full"))  # a ConfigurationError
    assert type(back) is ConfigurationError and str(back) == "the graph is full"


def test_bugs_cross_as_host_errors_naming_the_exception():
    back = _cross(ZeroDivisionError("division by zero"))
    assert isinstance(back, HostError) and str(back) == "ZeroDivisionError: division by zero"


@pytest.mark.parametrize(
    "doc", [None, [], "x", {"type": 3}, {"type": "ScenarioError", "problems": 1}]
)
def test_malformed_error_maps_become_host_errors(doc):
    assert isinstance(error_from_wire(doc), HostError)
