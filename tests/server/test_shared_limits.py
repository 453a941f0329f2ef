"""Two workers (two apps) sharing one Redis allow one set of budgets, not two; and what a
worker does while Redis is away.

Each case has its own key prefix; the ``memory`` cases run the same steps on two apps
without Redis, the baseline that shows each worker alone would allow the whole budget.
Skipped when Redis is unreachable, unless ``FREEAGENTICS_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import socket
import time
from urllib.parse import urlsplit

import pytest
import redis
from prometheus_client import CollectorRegistry
from starlette.testclient import WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from freeagentics.server.gate import RateLimited, make_gate
from freeagentics.server.settings import Settings
from freeagentics.server.ws import CLOSE_RATE_LIMITED

from .conftest import KEYS, SECRET, key_of
from .tcp_proxy import TcpProxy

MODES = pytest.mark.parametrize("shared", [True, False], ids=["redis", "memory"])


@pytest.fixture
def workers(make_client, tmp_path, redis_url, limits_prefix):
    """Two started apps with the given settings, sharing Redis unless ``shared=False``."""

    def make(shared: bool = True, **overrides):
        if shared:  # a generous timeout: a busy machine must not look like Redis away
            overrides |= {
                "redis_url": redis_url,
                "shared_limits_prefix": limits_prefix,
                "shared_limits_timeout_seconds": 5.0,
            }
        return tuple(
            make_client(database_url=f"sqlite:///{tmp_path / f'{name}.db'}", **overrides)
            for name in ("a", "b")
        )

    return make


def _within_budget(allowed: int, budget: int, workers: int, elapsed: float) -> bool:
    """``allowed`` is each worker's budget, plus what refilled meanwhile (budget / 60 s)."""
    return workers * budget <= allowed <= workers * (budget + int(elapsed * budget / 60))


@MODES
def test_two_workers_allow_one_request_budget(workers, shared):
    budget = 6
    a, b = workers(shared, rate_limit_per_minute=budget)
    start = time.monotonic()
    codes = [(a, b)[i % 2].get("/api/v1/simulations").status_code for i in range(4 * budget)]
    elapsed = time.monotonic() - start
    assert set(codes) == {200, 429}
    assert _within_budget(codes.count(200), budget, 1 if shared else 2, elapsed), codes
    assert all(code == 200 for code in codes[:budget])


@MODES
def test_a_lockout_earned_at_one_worker_holds_at_the_other(workers, shared):
    a, b = workers(
        shared, mode="production", secret_key=SECRET, api_keys=KEYS, auth_failures_per_minute=3
    )
    for _ in range(3):
        assert a.get("/api/v1/auth/me", headers={"X-API-Key": "x" * 20}).status_code == 401
    r = b.get("/api/v1/auth/me", headers=key_of("viewer"))
    if not shared:
        assert r.status_code == 200
        return
    assert r.status_code == 429 and "failed authentications" in r.json()["detail"]
    viewer = next(k for k, role in KEYS.items() if role == "viewer")
    with b.websocket_connect(f"/ws?api_key={viewer}") as ws:
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_json()
    assert info.value.code == CLOSE_RATE_LIMITED


def _opened(worker) -> bool:
    try:
        with worker.websocket_connect("/ws"):
            return True
    except WebSocketDenialResponse as exc:
        assert exc.status_code == 429
        return False


@MODES
def test_two_workers_allow_one_handshake_budget(workers, shared):
    budget = 4
    a, b = workers(shared, ws_connects_per_minute=budget)
    start = time.monotonic()
    opened = [_opened((a, b)[i % 2]) for i in range(4 * budget)]
    elapsed = time.monotonic() - start
    assert _within_budget(sum(opened), budget, 1 if shared else 2, elapsed), opened
    assert all(opened[:budget])


def _wait_released(*workers, timeout: float = 10.0) -> None:
    """Until every worker has released its closed connections (the server releases a
    connection after the client's close, not at once), in Redis too."""
    deadline = time.monotonic() + timeout
    for worker in workers:
        gate = worker.app.state.gate
        shared = getattr(gate.budgets, "shared", None)
        raw = redis.Redis.from_url(shared.url) if shared else None
        while gate.ws_open or (raw and raw.zcard(shared.open_key("testclient"))):
            assert time.monotonic() < deadline, "connections not released"
            time.sleep(0.02)
        if raw:
            raw.close()


@MODES
def test_connections_open_at_two_workers_count_against_one_limit(workers, shared):
    a, b = workers(shared, ws_connections_per_address=3)
    with a.websocket_connect("/ws"), a.websocket_connect("/ws"), b.websocket_connect("/ws"):
        assert [_opened(a), _opened(b)] == ([False, False] if shared else [True, True])
    _wait_released(a, b)
    # closed at A, their places are free at B
    with b.websocket_connect("/ws"), b.websocket_connect("/ws"), b.websocket_connect("/ws"):
        assert _opened(a) is not shared
    _wait_released(a, b)


# ---------------------------------------------------------------------- Redis away


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def limit_warnings():
    """The warnings of the shared budgets, whatever the logging configuration."""
    logger, handler = logging.getLogger("freeagentics.server.limits"), _Records()
    logger.addHandler(handler)
    yield handler.messages
    logger.removeHandler(handler)


async def _allowed(gate, n: int, address: str = "10.0.0.9") -> int:
    allowed = 0
    for _ in range(n):
        try:
            await gate.admit_request(address, None, None)
            allowed += 1
        except RateLimited:
            pass
    return allowed


async def _until(predicate, timeout: float = 10.0) -> None:
    """Wait until ``predicate()`` (a value or an awaitable) is true."""
    deadline = time.monotonic() + timeout
    while not (await value if inspect.isawaitable(value := predicate()) else value):
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


def test_while_redis_is_away_each_worker_keeps_its_own_budgets(
    redis_url, limits_prefix, limit_warnings
):
    """A worker cut off from Redis falls back to its own budgets (bounded, not refused),
    says so once and in its metrics, and is shared again once Redis answers; a connection
    it admitted meanwhile joins the shared count."""
    parts = urlsplit(redis_url)
    proxy = TcpProxy(parts.hostname, parts.port or 6379)
    common = {
        "redis_url": redis_url,
        "shared_limits_prefix": limits_prefix,
        "rate_limit_per_minute": 4,
        "shared_limits_lease_seconds": 1.0,
        "shared_limits_retry_seconds": 0.2,
        "shared_limits_timeout_seconds": 5.0,  # the cut is a refusal, not a silence
    }
    proxied = f"redis://127.0.0.1:{proxy.port}{parts.path}"
    registry = CollectorRegistry()
    a = make_gate(Settings(**{**common, "redis_url": proxied}), registry)
    b = make_gate(Settings(**common))
    shared_count = b.budgets.shared.count_open

    def metric(name: str) -> float:
        return registry.get_sample_value(name) or 0.0

    async def main():
        await a.start()
        assert await _allowed(a, 2) == 2 and await _allowed(b, 3) == 2  # 4 in all
        before = await a.open_websocket("10.0.0.9")
        assert await shared_count("10.0.0.9") == 1

        proxy.cut()
        assert await _allowed(a, 6) == 4  # a's own whole budget: neither refused nor unbounded
        assert a.budgets.up is False and metric("freeagentics_shared_limits_up") == 0
        assert metric("freeagentics_shared_limits_fallback_total") >= 6
        during = await a.open_websocket("10.0.0.9")  # admitted on a's own count
        assert a.ws_open == {"10.0.0.9": 2}

        async def both_counted() -> bool:
            return await shared_count("10.0.0.9") == 2

        proxy.restore()
        await _until(lambda: a.budgets.up)  # the next renewal (every lease / 3) finds Redis
        # both connections count again, the one admitted during the outage included
        await _until(both_counted)
        fallbacks = metric("freeagentics_shared_limits_fallback_total")
        await _allowed(a, 2)  # decided by Redis again
        assert metric("freeagentics_shared_limits_fallback_total") == fallbacks
        assert metric("freeagentics_shared_limits_up") == 1
        for ticket in (before, during):
            await a.close_websocket(ticket)
        assert await shared_count("10.0.0.9") == 0 and a.ws_open == {}
        await a.aclose()
        await b.aclose()

    try:
        asyncio.run(main())
    finally:
        proxy.close()
    assert sum("Redis unreachable" in m for m in limit_warnings) == 1
    assert any("shared again" in m for m in limit_warnings)


def test_with_redis_unreachable_from_the_start_budgets_are_local(limits_prefix, limit_warnings):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings(
        redis_url=f"redis://127.0.0.1:{port}/0",
        shared_limits_prefix=limits_prefix,
        rate_limit_per_minute=3,
        ws_connections_per_address=1,
    )
    gate = make_gate(settings)

    async def main():
        await gate.start()
        assert await _allowed(gate, 5) == 3
        ticket = await gate.open_websocket("10.0.0.8")
        with pytest.raises(RateLimited, match="already open"):
            await gate.open_websocket("10.0.0.8")
        await gate.close_websocket(ticket)
        await gate.aclose()

    asyncio.run(main())
    assert gate.budgets.up is False and gate.ws_open == {}
    assert len(limit_warnings) == 1 and "Redis unreachable" in limit_warnings[0]
