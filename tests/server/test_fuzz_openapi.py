"""Fuzz every operation of the OpenAPI schema: bad input never makes a 5xx.

Two passes, both slow (CI runs them in its slow job):

* every operation alone, :data:`EXAMPLES` generated requests each;
* stateful: sequences that follow the schema's OpenAPI links (a created simulation's
  id fed into the operations on it), so the fuzzer reaches real simulations instead of
  404s.

The app uses small step and agent limits so that a generated ``n`` or ``count`` does
not turn the fuzz run into a benchmark; everything else is the default configuration.
"""

from __future__ import annotations

import tempfile

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from server.conftest import SMALL

from freeagentics.server.app import create_app
from freeagentics.server.settings import Settings

#: generated requests per operation (stateless pass)
EXAMPLES = 100
#: generated call sequences (stateful pass), each up to STEPS calls
SCENARIOS, STEPS = 60, 8


def _app():
    folder = tempfile.mkdtemp(prefix="freeagentics-fuzz-")
    app = create_app(
        Settings(
            database_url=f"sqlite:///{folder}/fuzz.db",
            demo=False,
            rate_limit_per_minute=1_000_000,
            max_step_ticks=20,
            max_agents_per_request=200,
            max_simulations=16,
            simulation_host="inline",  # the app is fuzzed without its lifespan
        )
    )
    app.state.service.create(SMALL, name="fuzzed")
    return app


APP = _app()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_errors(case):
    response = case.call()
    assert response.status_code < 500, (case.method, case.path, response.text)


class LinkedCalls(schema.as_state_machine()):
    """Follows the links; the only property checked is the absence of 5xx answers."""

    #: successful calls on a simulation reached through a link (the links do lead somewhere)
    reached = 0

    def setup(self) -> None:
        # each scenario starts from the same server state, so that a replayed sequence of
        # calls meets the same answers (hypothesis replays and shrinks them)
        service = APP.state.service
        for sim_id in service.ids():
            service.delete(sim_id)
        service.create(SMALL, name="fuzzed")

    def validate_response(self, response, case, additional_checks=None, **kwargs) -> None:
        assert response.status_code < 500, (case.method, case.path, response.text)
        if "{sim_id}" in case.path and response.status_code < 300:
            LinkedCalls.reached += 1


@pytest.mark.slow
def test_no_server_errors_along_links():
    LinkedCalls.run(
        settings=settings(
            max_examples=SCENARIOS,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
        )
    )
    assert LinkedCalls.reached > 0


def test_created_simulations_link_to_the_operations_on_them():
    document = APP.openapi()
    links = document["paths"]["/api/v1/simulations"]["post"]["responses"]["201"]["links"]
    assert len(links) >= 10
    for name, link in links.items():
        pointer = link["operationRef"].removeprefix("#/paths/")
        path, method = pointer.rsplit("/", 1)
        path = path.replace("~1", "/").replace("~0", "~")
        assert method in document["paths"][path], name
        assert link["parameters"] == {"sim_id": "$response.body#/id"}
