"""Admission budgets in Redis: one set of budgets for every process that shares a Redis
and a key prefix.

Each operation is one Lua script, so it is atomic across processes, and reads the time
from Redis (``TIME``), so the processes' clocks do not matter:

- a token bucket is a hash ``{prefix}:{kind}:{client}`` (``t``: tokens, ``at``: when)
  with the same arithmetic as :class:`~freeagentics.server.budgets.TokenBuckets`. It
  expires when it would be full again (``(capacity - t) / rate`` seconds, at most a
  minute for the per-minute budgets); a missing bucket reads full, so the expiry is
  exact, not an approximation;
- an address's open WebSocket connections are a sorted set ``{prefix}:open:{address}``
  (member: a connection, score: its lease's end in ms). A process renews the leases of
  its own connections (:meth:`RedisBudgets.refresh`); admission first drops the members
  whose lease ended, so a process that dies without releasing stops counting within one
  lease. The set itself expires one lease after its latest admission or renewal.

Memory is therefore bounded by activity, not by time: at most one bucket per client
that spent within the last refill period (60 s) per kind, plus one member per connection
open, or closed within the last lease, without a release. Every key has a TTL.
Connections to Redis are pooled (at most :data:`MAX_CONNECTIONS`), and a call gives up
after ``timeout_s`` with a :class:`redis.RedisError` (the caller decides what then; see
:mod:`~freeagentics.server.shared_budgets`).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Mapping, Sequence

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript

from freeagentics.server.budgets import Refusal, Shape, Spend, budget_shapes
from freeagentics.server.settings import Settings

__all__ = ["MAX_CONNECTIONS", "RedisBudgets"]

#: connections one process keeps to Redis for its budgets; more calls wait (then time out)
MAX_CONNECTIONS = 64
#: longer client names are hashed, so keys stay short whatever a client is called
_MAX_CLIENT_CHARS = 96

# The clock (Redis's, unless a test pins it) and the bucket arithmetic, shared by scripts.
_PRELUDE = """
local function clock(pinned)
  if pinned ~= '' then return tonumber(pinned) end
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function num(x) return string.format('%.17g', x) end
local function spend(key, capacity, rate, cost, need, now)
  local state = redis.call('HMGET', key, 't', 'at')
  local tokens = capacity
  if state[1] then
    tokens = math.min(capacity, tonumber(state[1]) + math.max(0, now - tonumber(state[2])) * rate)
  end
  local wait = 0
  if need > 0 and tokens < need then
    wait = (need - tokens) / rate
  else
    tokens = math.min(capacity, tokens - cost)
  end
  if tokens >= capacity then
    redis.call('DEL', key)
  else
    redis.call('HSET', key, 't', num(tokens), 'at', num(now))
    redis.call('PEXPIRE', key, string.format('%d', math.ceil((capacity - tokens) / rate * 1000)))
  end
  return wait
end
"""

# KEYS: buckets. ARGV: pinned time or '', then capacity, rate, cost, need per bucket.
# Applied in order; the first refused one stops the rest.
_TAKE = (
    _PRELUDE
    + """
local now = clock(ARGV[1])
local waits, refused = {}, false
for i = 1, #KEYS do
  local j = 4 * i - 2
  local wait = 0
  if not refused then
    local capacity, rate = tonumber(ARGV[j]), tonumber(ARGV[j + 1])
    wait = spend(KEYS[i], capacity, rate, tonumber(ARGV[j + 2]), tonumber(ARGV[j + 3]), now)
    refused = wait > 0
  end
  waits[i] = num(wait)
end
return waits
"""
)

# KEYS: the address's open set, its handshake bucket.
# ARGV: pinned time or '', limit, lease (ms), member, capacity, rate.
_ADMIT = (
    _PRELUDE
    + """
local now = clock(ARGV[1])
local now_ms = math.floor(now * 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now_ms))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return {'open', '0'} end
local wait = spend(KEYS[2], tonumber(ARGV[5]), tonumber(ARGV[6]), 1, 1, now)
if wait > 0 then return {'rate', num(wait)} end
redis.call('ZADD', KEYS[1], string.format('%d', now_ms + tonumber(ARGV[3])), ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {'ok', '0'}
"""
)

# KEYS: open sets. ARGV: pinned time or '', lease (ms), then per key a count and its members.
_REFRESH = (
    _PRELUDE
    + """
local now_ms = math.floor(clock(ARGV[1]) * 1000)
local until_ms = string.format('%d', now_ms + tonumber(ARGV[2]))
local j = 3
for i = 1, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', string.format('%d', now_ms))
  local n = tonumber(ARGV[j])
  for k = j + 1, j + n do redis.call('ZADD', KEYS[i], until_ms, ARGV[k]) end
  redis.call('PEXPIRE', KEYS[i], ARGV[2])
  j = j + n + 1
end
return #KEYS
"""
)


def _num(value: float) -> str:
    return repr(float(value))


class RedisBudgets:
    """Budgets in the Redis at ``url`` under ``prefix`` (see the module docstring).

    Args:
        shapes: each kind's bucket shape (:func:`~freeagentics.server.budgets.budget_shapes`).
        connections_per_address: WebSocket connections one address may hold open, over
            every process.
        lease_s: how long a connection counts without being renewed.
        timeout_s: how long one call may wait for Redis.
        clock: the time in seconds; None (always, outside tests): Redis's own.

    A client is made for each event loop that uses the budgets (a connection belongs to
    the loop that opened it).
    """

    def __init__(
        self,
        url: str,
        shapes: Mapping[str, Shape],
        connections_per_address: int,
        *,
        prefix: str = "freeagentics:limits",
        lease_s: float = 15.0,
        timeout_s: float = 0.5,
        clock: Callable[[], float] | None = None,
    ):
        self.url, self.shapes, self.prefix = url, dict(shapes), prefix
        self.connections_per_address = connections_per_address
        self.lease_s, self.timeout_s, self.clock = lease_s, timeout_s, clock
        self._loop: asyncio.AbstractEventLoop | None = None
        self._redis: aioredis.Redis | None = None
        self._scripts: dict[str, AsyncScript] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> RedisBudgets:
        assert settings.redis_url, "RedisBudgets needs settings.redis_url"
        return cls(
            settings.redis_url,
            budget_shapes(settings),
            settings.ws_connections_per_address,
            prefix=settings.shared_limits_prefix,
            lease_s=settings.shared_limits_lease_seconds,
            timeout_s=settings.shared_limits_timeout_seconds,
        )

    # ------------------------------------------------------------------ plumbing
    def _client(self) -> aioredis.Redis:
        loop = asyncio.get_running_loop()
        if self._redis is None or self._loop is not loop:
            pool = aioredis.BlockingConnectionPool.from_url(
                self.url,
                max_connections=MAX_CONNECTIONS,
                timeout=self.timeout_s,
                socket_timeout=self.timeout_s,
                socket_connect_timeout=self.timeout_s,
                retry=Retry(NoBackoff(), 1),  # once, for a connection Redis dropped
            )
            self._redis, self._loop = aioredis.Redis(connection_pool=pool), loop
            self._scripts = {
                name: self._redis.register_script(source)
                for name, source in (("take", _TAKE), ("admit", _ADMIT), ("refresh", _REFRESH))
            }
        return self._redis

    async def _run(self, name: str, keys: Sequence[str], args: Sequence[str | int]):
        self._client()
        return await self._scripts[name](keys=keys, args=args)

    def _now(self) -> str:
        return "" if self.clock is None else _num(self.clock())

    def _client_part(self, client: str) -> str:
        if len(client) <= _MAX_CLIENT_CHARS:
            return client
        return "h:" + hashlib.blake2b(client.encode(), digest_size=16).hexdigest()

    def bucket_key(self, kind: str, client: str) -> str:
        """The Redis key of ``client``'s bucket of ``kind``."""
        return f"{self.prefix}:{kind}:{self._client_part(client)}"

    def open_key(self, address: str) -> str:
        """The Redis key of the connections open from ``address``."""
        return f"{self.prefix}:open:{self._client_part(address)}"

    @property
    def lease_ms(self) -> int:
        return max(1, round(self.lease_s * 1000))

    # ------------------------------------------------------------------ budgets
    async def take(self, *spends: Spend) -> list[float]:
        """See :meth:`~freeagentics.server.budgets.Budgets.take`; raises RedisError."""
        args: list[str | int] = [self._now()]
        for spend in spends:
            shape = self.shapes[spend.kind]
            args += [_num(shape.capacity), _num(shape.rate), spend.cost, spend.required]
        keys = [self.bucket_key(s.kind, s.client) for s in spends]
        return [float(w) for w in await self._run("take", keys, args)]

    async def admit(self, address: str, member: str) -> Refusal | None:
        """See :meth:`~freeagentics.server.budgets.Budgets.admit`; raises RedisError."""
        shape = self.shapes["ws_connects"]
        keys = [self.open_key(address), self.bucket_key("ws_connects", address)]
        args = [
            self._now(),
            self.connections_per_address,
            self.lease_ms,
            member,
            _num(shape.capacity),
            _num(shape.rate),
        ]
        verdict, wait = await self._run("admit", keys, args)
        return None if verdict == b"ok" else Refusal(verdict.decode(), float(wait))

    async def release(self, address: str, *members: str) -> None:
        """Stop counting ``members`` of ``address``; raises RedisError."""
        if members:
            await self._client().zrem(self.open_key(address), *members)

    async def refresh(self, open_: Mapping[str, Sequence[str]]) -> None:
        """Renew the leases of ``open_`` (address -> members), adding any that lapsed."""
        if not open_:
            return
        args: list[str | int] = [self._now(), self.lease_ms]
        for members in open_.values():
            args += [len(members), *members]
        await self._run("refresh", [self.open_key(a) for a in open_], args)

    async def count_open(self, address: str) -> int:
        """Connections counted for ``address`` now, over every process (lapsed ones not)."""
        client = self._client()
        if self.clock is not None:
            now_ms = int(self.clock() * 1000)
        else:
            seconds, micros = await client.time()
            now_ms = seconds * 1000 + micros // 1000
        return await client.zcount(self.open_key(address), f"({now_ms}", "+inf")

    async def aclose(self) -> None:
        """Close this loop's connections (a later call opens new ones)."""
        redis, self._redis, self._loop = self._redis, None, None
        if redis is not None:
            await redis.aclose(close_connection_pool=True)
