"""Fuzz every operation of the OpenAPI schema: bad input never makes a 5xx."""

from __future__ import annotations

import tempfile

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from server.conftest import SMALL

from freeagentics.server.app import create_app
from freeagentics.server.settings import Settings


def _app():
    folder = tempfile.mkdtemp(prefix="freeagentics-fuzz-")
    app = create_app(
        Settings(
            database_url=f"sqlite:///{folder}/fuzz.db",
            demo=False,
            rate_limit_per_minute=1_000_000,
        )
    )
    app.state.service.create(SMALL, name="fuzzed")
    return app


APP = _app()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_errors(case):
    response = case.call()
    assert response.status_code < 500, (case.method, case.path, response.text)
