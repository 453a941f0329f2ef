"""Budget stores: the Redis buckets keep the in-memory arithmetic, bounded keys, no races.

The Redis cases use the test Redis (skipped when unreachable, unless
``FREEAGENTICS_REQUIRE_SERVICES=1``), each under a key prefix of its own.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from freeagentics.server.auth import AuthError
from freeagentics.server.budgets import LocalBudgets, Shape, Spend, TokenBuckets
from freeagentics.server.gate import RateLimited, make_gate
from freeagentics.server.redis_budgets import RedisBudgets
from freeagentics.server.settings import Settings

from .conftest import KEYS, SECRET

BASE = 1.7e9  # a Unix time of today's size, so the stored times need all their digits


SPENDS = st.lists(
    st.tuples(
        st.sampled_from("ab"),
        st.sampled_from([1, 1, 1, 0, -1, 2]),
        st.sampled_from([None, 0, 1, 2]),
    ),
    min_size=1,
    max_size=3,
)


@settings(max_examples=80, deadline=None)
@given(
    capacity=st.integers(1, 6),  # small buckets, slow refills: refusals are common
    rate=st.floats(0.01, 5.0),
    ops=st.lists(st.tuples(st.floats(0.0, 3.0), SPENDS), min_size=1, max_size=20),
)
def test_redis_buckets_follow_the_local_arithmetic(redis_url, capacity, rate, ops):
    """Same spends at the same times: the same waits (the first refused spend stopping the
    rest), and a key only while its bucket is not full, with a TTL no longer than the time
    to refill."""
    clock = [BASE]
    shapes = {"requests": Shape(float(capacity), rate)}
    prefix = f"fa-test-limits-{uuid.uuid4().hex[:10]}"
    shared = RedisBudgets(redis_url, shapes, 1, prefix=prefix, timeout_s=5, clock=lambda: clock[0])
    model = TokenBuckets(float(capacity), rate)
    raw = redis.Redis.from_url(redis_url)
    keys = {c: shared.bucket_key("requests", c) for c in "ab"}

    async def main():
        for dt, spends in ops:
            clock[0] += dt
            waits = await shared.take(*(Spend("requests", *spend) for spend in spends))
            expected = [0.0] * len(spends)
            for i, (client, cost, need) in enumerate(spends):
                expected[i] = model.take(client, now=clock[0], cost=cost, need=need)
                if expected[i] > 0:
                    break  # the rest is not applied
            assert waits == pytest.approx(expected, rel=1e-12, abs=1e-12)
            for client, key in keys.items():
                tokens = model._buckets[client][0] if client in model._buckets else capacity
                ttl_ms = raw.pttl(key)
                if tokens >= capacity:
                    assert ttl_ms == -2  # no key: a full bucket
                else:
                    assert 0 < ttl_ms <= math.ceil((capacity - tokens) / rate * 1000)
                    assert float(raw.hget(key, "t")) == pytest.approx(tokens, rel=1e-12, abs=1e-12)
        await shared.aclose()

    try:
        asyncio.run(main())
    finally:
        raw.delete(*keys.values())
        raw.close()


def test_every_key_expires_and_the_keys_go_with_time(redis_url, limits_prefix):
    """Buckets live until they would be full again, open sets one lease past renewal.

    The refill (1 token in 2 s) and the lease (2 s) are long enough that a busy machine
    cannot let a key expire between the spends and the scan; their going is awaited
    with a deadline rather than a fixed sleep.
    """
    shapes = {"requests": Shape(2.0, 0.5), "ws_connects": Shape(2.0, 0.5)}
    shared = RedisBudgets(redis_url, shapes, 4, prefix=limits_prefix, lease_s=2.0, timeout_s=5)
    raw = redis.Redis.from_url(redis_url)

    async def main():
        await shared.take(*(Spend("requests", f"client-{i}") for i in range(50)))
        assert await shared.admit("10.0.0.1", "w:1") is None
        keys = list(raw.scan_iter(f"{limits_prefix}:*"))
        assert len(keys) == 52
        ttls = {k.decode().rsplit(":", 2)[1]: raw.pttl(k) for k in keys}
        assert ttls.pop("open") <= 2_000  # one lease
        assert all(0 < ttl <= 2_000 for ttl in ttls.values()), ttls  # 1 token at 0.5/s: 2 s
        deadline = time.monotonic() + 20.0
        while list(raw.scan_iter(f"{limits_prefix}:*")) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert list(raw.scan_iter(f"{limits_prefix}:*")) == []
        await shared.aclose()

    asyncio.run(main())
    raw.close()


def test_a_long_client_name_makes_a_short_key():
    shared = RedisBudgets("redis://unused", {}, 1, prefix="p")
    key = shared.bucket_key("requests", "name:" + "x" * 10_000)
    assert len(key) < 60 and key != shared.bucket_key("requests", "name:" + "x" * 9_999)


def _gate(store: str, redis_url: str, prefix: str, **overrides):
    values = {"mode": "production", "secret_key": SECRET, "api_keys": KEYS, **overrides}
    if store == "redis":
        values.update(
            redis_url=redis_url, shared_limits_prefix=prefix, shared_limits_timeout_seconds=5.0
        )
    return make_gate(Settings(**values))


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_concurrent_guesses_cannot_outrun_the_failure_budget(store, redis_url, limits_prefix):
    """20 wrong keys at once against a budget of 3: three are checked, 17 refused (429)."""
    gate = _gate(store, redis_url, limits_prefix, auth_failures_per_minute=3)

    async def main():
        guesses = [gate.authenticate("10.0.0.2", None, f"wrong-key-{i:012d}") for i in range(20)]
        results = await asyncio.gather(*guesses, return_exceptions=True)
        await gate.aclose()
        return results

    results = asyncio.run(main())
    assert getattr(gate.budgets, "fallbacks", 0) == 0  # Redis decided, when it is the store
    limited = [r for r in results if isinstance(r, RateLimited)]
    checked = [r for r in results if isinstance(r, AuthError) and not isinstance(r, RateLimited)]
    assert (len(checked), len(limited)) == (3, 17)
    assert all(r.status == 401 for r in checked)


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_good_credentials_spend_no_failure_but_meet_the_lockout(store, redis_url, limits_prefix):
    gate = _gate(store, redis_url, limits_prefix, auth_failures_per_minute=3)
    viewer = next(k for k, role in KEYS.items() if role == "viewer")

    async def main():
        for _ in range(2):
            with pytest.raises(AuthError):
                await gate.authenticate("10.0.0.3", None, "wrong-key-000000000")
        for _ in range(10):
            assert (await gate.authenticate("10.0.0.3", None, viewer)).role.name == "VIEWER"
        with pytest.raises(AuthError) as info:  # the third failure is still allowed
            await gate.authenticate("10.0.0.3", None, "wrong-key-000000000")
        assert not isinstance(info.value, RateLimited)
        with pytest.raises(RateLimited):
            await gate.authenticate("10.0.0.3", None, viewer)
        await gate.aclose()

    asyncio.run(main())
    assert getattr(gate.budgets, "fallbacks", 0) == 0


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_budgets_are_per_principal_or_per_address(store, redis_url, limits_prefix):
    """Anonymous callers spend their address's budget (in development mode too, where they
    act as one admin); a key's budget is the same from every address."""
    gate = _gate(store, redis_url, limits_prefix, mode="development", rate_limit_per_minute=2)
    viewer = next(k for k, role in KEYS.items() if role == "viewer")

    async def allowed(address: str, api_key: str | None = None) -> int:
        n = 0
        for _ in range(3):
            try:
                await gate.admit_request(address, None, api_key)
                n += 1
            except RateLimited:
                pass
        return n

    async def main():
        assert [await allowed("10.0.1.1"), await allowed("10.0.1.2")] == [2, 2]
        assert [await allowed("10.0.1.3", viewer), await allowed("10.0.1.4", viewer)] == [2, 0]
        await gate.aclose()

    asyncio.run(main())


def test_local_open_connections_leave_no_entry_behind():
    local = LocalBudgets({"ws_connects": Shape(100.0, 1.0)}, connections_per_address=2)

    async def main():
        assert await local.admit("a", "1") is None and await local.admit("a", "2") is None
        assert (await local.admit("a", "3")).reason == "open"
        await local.release("a", "1")
        await local.release("a", "unknown")
        assert await local.admit("a", "3") is None
        for member in ("2", "3"):
            await local.release("a", member)

    asyncio.run(main())
    assert local.open == {}


def test_handshake_refusal_says_when_to_retry():
    local = LocalBudgets({"ws_connects": Shape(1.0, 0.5)}, connections_per_address=9)

    async def main():
        assert await local.admit("a", "1") is None
        return await local.admit("a", "2")

    refusal = asyncio.run(main())
    assert refusal.reason == "rate" and 0 < refusal.wait_s <= 2.0
