"""Server fixtures: apps on a temporary SQLite file, in development or production mode."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient

from freeagentics.server.app import create_app
from freeagentics.server.auth import Role, issue_token
from freeagentics.server.settings import Settings

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


@pytest.fixture
def make_settings(tmp_path) -> Callable[..., Settings]:
    """Settings on a fresh SQLite file; keyword arguments override fields."""

    def make(**overrides) -> Settings:
        values = {
            "database_url": f"sqlite:///{tmp_path / 'server.db'}",
            "demo": False,
            "tick_rate_hz": 200.0,
            "rate_limit_per_minute": 100_000,
            **overrides,
        }
        return Settings(**values)

    return make


@pytest.fixture
def make_client(make_settings) -> Iterator[Callable[..., TestClient]]:
    """Started apps (lifespan run) for the given settings overrides; closed at the end."""
    clients: list[TestClient] = []

    def make(**overrides) -> TestClient:
        client = TestClient(create_app(make_settings(**overrides)))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


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
