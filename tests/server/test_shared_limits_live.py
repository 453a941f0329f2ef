"""Two ``freeagentics serve`` processes sharing one Redis: one request budget, one limit of
open connections, and a server killed without a goodbye stops counting within the lease.

Skipped when Redis is unreachable, unless ``FREEAGENTICS_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
import redis
import websockets

from freeagentics.loadtest.server import free_port
from freeagentics.server.redis_budgets import RedisBudgets

LEASE_S = 1.0
BUDGET = 10
LIMIT = 3


@pytest.fixture
def servers(tmp_path, redis_url, limits_prefix):
    """Two started servers (name -> (process, port)); stopped at the end."""
    started: dict[str, tuple[subprocess.Popen, int]] = {}
    for name in ("a", "b"):
        port = free_port()
        env = {
            **os.environ,
            "FREEAGENTICS_DATABASE_URL": f"sqlite:///{tmp_path / name}.sqlite",
            "FREEAGENTICS_REDIS_URL": redis_url,
            "FREEAGENTICS_SHARED_LIMITS_PREFIX": limits_prefix,
            "FREEAGENTICS_SHARED_LIMITS_LEASE_SECONDS": str(LEASE_S),
            "FREEAGENTICS_SHARED_LIMITS_TIMEOUT_SECONDS": "5",
            "FREEAGENTICS_RATE_LIMIT_PER_MINUTE": str(BUDGET),
            "FREEAGENTICS_WS_CONNECTIONS_PER_ADDRESS": str(LIMIT),
        }
        cmd = [sys.executable, "-c", "from freeagentics.cli import app; app()", "serve"]
        cmd += ["--port", str(port), "--no-demo"]
        with (tmp_path / f"{name}.log").open("wb") as out:
            proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        started[name] = (proc, port)
    try:
        deadline = time.monotonic() + 120
        for proc, port in started.values():
            while True:
                try:
                    url = f"http://127.0.0.1:{port}/api/v1/health/live"
                    if httpx.get(url, timeout=2).is_success:
                        break
                except httpx.HTTPError:
                    pass
                assert proc.poll() is None and time.monotonic() < deadline, "no server"
                time.sleep(0.1)
        yield started
    finally:
        for proc, _ in started.values():
            if proc.poll() is None:
                proc.terminate()
        for proc, _ in started.values():
            proc.wait(60)


async def _connect(port: int):
    """An open WebSocket, or the HTTP status its handshake was refused with."""
    try:
        return await websockets.connect(f"ws://127.0.0.1:{port}/ws")
    except websockets.InvalidStatus as exc:
        return exc.response.status_code


@pytest.mark.slow
def test_two_server_processes_share_the_budgets(servers, redis_url, limits_prefix):
    (proc_a, port_a), (_, port_b) = servers["a"], servers["b"]
    ports = (port_a, port_b)
    start = time.monotonic()
    codes = [
        httpx.get(f"http://127.0.0.1:{ports[i % 2]}/api/v1/simulations", timeout=30).status_code
        for i in range(3 * BUDGET)
    ]
    refill = int((time.monotonic() - start) * BUDGET / 60)
    assert BUDGET <= codes.count(200) <= BUDGET + refill, codes
    assert all(code == 200 for code in codes[:BUDGET])

    raw = redis.Redis.from_url(redis_url)
    open_key = RedisBudgets(redis_url, {}, 1, prefix=limits_prefix).open_key("127.0.0.1")

    async def main():
        held = [await _connect(port_a), await _connect(port_a), await _connect(port_b)]
        assert not any(isinstance(h, int) for h in held)
        assert await _connect(port_b) == 429 and await _connect(port_a) == 429
        await asyncio.sleep(2.5 * LEASE_S)  # a's connections outlive their first leases...
        assert await _connect(port_b) == 429  # ...because a renews them

        proc_a.send_signal(signal.SIGKILL)  # no release, no goodbye
        proc_a.wait(30)
        killed_at_ms = _redis_now_ms(raw)
        scores = [score for _, score in raw.zrange(open_key, 0, -1, withscores=True)]
        # no lease reaches past the kill by more than one lease (and a renewal in flight)
        assert len(scores) == 3 and max(scores) <= killed_at_ms + LEASE_S * 1000 + 200
        deadline = time.monotonic() + 10 * LEASE_S + 10
        while isinstance(late := await _connect(port_b), int):
            assert late == 429 and time.monotonic() < deadline, "a's connections still count"
            await asyncio.sleep(0.05)
        second = await _connect(port_b)  # a's two places are free: b holds three
        assert not isinstance(second, int) and await _connect(port_b) == 429
        for ws in (*held, late, second):
            with contextlib.suppress(websockets.ConnectionClosed, OSError):
                await ws.close()

    asyncio.run(main())
    raw.close()


def _redis_now_ms(raw: redis.Redis) -> int:
    seconds, micros = raw.time()
    return seconds * 1000 + micros // 1000
