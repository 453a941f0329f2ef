"""Server fixtures: apps on a temporary SQLite file, in development or production mode.

``host_mode`` says where an app's simulations run: ``"inline"`` (threads of the test
process) unless a module parametrizes it, as the route-level modules do with
:data:`BOTH_HOSTS`. Process apps share one host process (starting one costs seconds),
each opening it on its own database file, so no state crosses tests; an app made while
another still holds the shared host gets a host of its own.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from freeagentics.hosts import LocalHostProcess
from freeagentics.server.app import HOST_PROGRAM, create_app
from freeagentics.server.auth import Role, issue_token
from freeagentics.server.settings import Settings
from freeagentics.server.ws.wire import PROTOCOL as WS_PROTOCOL

SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"
KEYS = {
    "viewer-key-0123456789": "viewer",
    "operator-key-0123456789": "operator",
    "admin-key-0123456789abc": "admin",
}
SMALL = {
    "world": {"height": 16, "width": 16, "resources": [{"name": "food", "density": 0.1}]},
    "agents": {"explorer": 4, "collector": 3, "coordinator": 1},
    "coalitions": {"auto_objectives": 2, "objective_capacity": 4},
    "simulation": {"knowledge_every": 1},
}


#: ``pytestmark = BOTH_HOSTS``: every test of the module against both places simulations run
BOTH_HOSTS = pytest.mark.parametrize("host_mode", ["inline", "process"])


@pytest.fixture
def host_mode() -> str:
    """Where the apps' simulations run (``inline`` unless the module parametrizes it)."""
    return "inline"


@pytest.fixture(scope="session")
def shared_host() -> Iterator[LocalHostProcess]:
    """One host process for the tests' process apps (started when first asked for)."""
    host = LocalHostProcess(HOST_PROGRAM, None)
    host.start()
    host.in_use = False
    yield host
    host.stop()


@pytest.fixture
def make_settings(tmp_path, host_mode) -> Callable[..., Settings]:
    """Settings on a fresh SQLite file; keyword arguments override fields."""

    def make(**overrides) -> Settings:
        values = {
            "database_url": f"sqlite:///{tmp_path / 'server.db'}",
            "demo": False,
            "tick_rate_hz": 200.0,
            "rate_limit_per_minute": 100_000,
            "simulation_host": host_mode,
            **overrides,
        }
        return Settings(**values)

    return make


@pytest.fixture
def make_client(make_settings, request) -> Iterator[Callable[..., TestClient]]:
    """Started apps (lifespan run) for the given settings overrides; closed at the end."""
    clients: list[TestClient] = []
    borrowed: list[LocalHostProcess] = []

    def make(**overrides) -> TestClient:
        settings = make_settings(**overrides)
        host = None
        if settings.simulation_host == "process":
            shared = request.getfixturevalue("shared_host")
            if not shared.in_use and shared.state == "up":
                host, shared.in_use = shared, True
                borrowed.append(shared)
        client = TestClient(create_app(settings, host=host))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)
    for host in borrowed:
        with contextlib.suppress(Exception):  # closed already unless the app failed to
            host.close_host()
        host.in_use = False


@pytest.fixture
def client(make_client) -> TestClient:
    """Development mode: anonymous callers are admins."""
    return make_client()


@pytest.fixture
def prod(make_client) -> TestClient:
    """Production mode with a real secret and one API key per role."""
    return make_client(mode="production", secret_key=SECRET, api_keys=KEYS)


@pytest.fixture
def app(client) -> FastAPI:
    return client.app


def bearer(role: Role, secret: str = SECRET, ttl: int = 600) -> dict[str, str]:
    """Authorization header with a token for ``role``."""
    settings = Settings(mode="production", secret_key=secret)
    return {"Authorization": f"Bearer {issue_token(settings, f'test-{role.name}', role, ttl)}"}


def key_of(role: str) -> dict[str, str]:
    """X-API-Key header for ``role``."""
    return {"X-API-Key": next(k for k, r in KEYS.items() if r == role)}


@pytest.fixture
def sim(client) -> int:
    """A small created (not started) simulation in the development client."""
    r = client.post("/api/v1/simulations", json={"name": "small", "scenario": SMALL})
    assert r.status_code == 201, r.text
    return r.json()["id"]


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis (``FREEAGENTICS_TEST_REDIS_URL``); its tests are skipped when it is
    unreachable, unless ``FREEAGENTICS_REQUIRE_SERVICES=1``."""
    url = os.environ.get("FREEAGENTICS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        if os.environ.get("FREEAGENTICS_REQUIRE_SERVICES") == "1":
            pytest.fail(f"Redis at {url} is required but unreachable: {exc}")
        pytest.skip(f"Redis at {url} unreachable: {exc}")
    return url


@pytest.fixture
def limits_prefix(redis_url) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"fa-test-limits-{uuid.uuid4().hex[:10]}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


def processes(scraped: dict[str, float]) -> set[str]:
    """The ``process`` labels of ``process_start_time_seconds`` in a parsed scrape."""
    return {
        key.split('process="')[1].split('"')[0]
        for key in scraped
        if key.startswith("process_start_time_seconds{")
    }


def until(check, timeout: float = 60.0, what: str = "condition", interval: float = 0.02):
    """``check()``'s first truthy value, asked every ``interval`` seconds; an assertion
    error naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(interval)


@contextlib.contextmanager
def serving(app: FastAPI, ws: str = WS_PROTOCOL, log_level: str = "warning") -> Iterator[int]:
    """``app`` under a real uvicorn server on 127.0.0.1 (a thread of this process), with
    the WebSocket protocol ``serve`` uses by default; yields the port."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, ws=ws, log_level=log_level)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=60)
