"""Several server processes share simulations' frames through Redis pub/sub.

The process that owns a simulation encodes its frames (MessagePack) and publishes them
on ``{prefix}:frame:{topic key}``; every process relays the frames of topics its own
clients want to them (MessagePack as received, JSON re-encoded once per topic). Each
message starts with the publisher's 16-byte origin id, so a process ignores its own.

Interest travels the other way. A process whose client subscribes to a simulation it
does not own records the topic in the sorted set ``{prefix}:want:{key}`` (member: its
origin, score: time) and announces it on ``{prefix}:interest``; it refreshes both every
``refresh_s``. The owner produces the topic while a fresh entry (under ``ttl_s`` old)
remains, so a process that dies without saying goodbye stops costing anything soon.
An owner that starts (or starts again, after its process died) takes up the topics
already wanted (:meth:`RedisFanout.resume_interest`) instead of waiting for the next
refresh.

A process that owns simulations but serves no clients (a simulation host) starts with
``follow_frames=False``: it publishes and hears interest, and never receives frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

import redis.asyncio as aioredis

from freeagentics.server.ws.frames import Topic
from freeagentics.server.ws.hub import Hub

__all__ = ["RedisFanout"]

#: frames waiting to be published; more are dropped (counted), as for a slow client
_PUBLISH_QUEUE = 1024


class RedisFanout:
    """The :class:`~freeagentics.server.ws.hub.Relay` of one hub; make it with :meth:`start`."""

    def __init__(
        self,
        hub: Hub,
        client: aioredis.Redis,
        *,
        prefix: str = "freeagentics:ws",
        refresh_s: float = 5.0,
        ttl_s: float = 15.0,
    ):
        self.hub, self.redis, self.prefix = hub, client, prefix
        self.refresh_s, self.ttl_s = refresh_s, ttl_s
        self.origin = uuid.uuid4().bytes
        self.wanted: set[str] = set()
        self.published = self.relayed = self.dropped = 0
        self._outbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(_PUBLISH_QUEUE)
        self._frame_prefix = f"{prefix}:frame:"
        self._interest = f"{prefix}:interest"
        self._tasks: list[asyncio.Task] = []
        self._chores: set[asyncio.Task] = set()
        self._pubsub = client.pubsub()

    @classmethod
    async def start(
        cls, hub: Hub, url: str, *, follow_frames: bool = True, **options
    ) -> RedisFanout:
        """Connect to ``url``, attach to ``hub`` and start relaying (``follow_frames``:
        also relay other processes' frames to this hub's clients)."""
        client = aioredis.from_url(url)
        await client.ping()  # fail at start-up, not on the first frame
        self = cls(hub, client, **options)
        if follow_frames:
            await self._pubsub.psubscribe(f"{self._frame_prefix}*")
        await self._pubsub.subscribe(self._interest)
        hub.relay = self
        await self.resume_interest()
        self._tasks = [
            asyncio.create_task(self._read()),
            asyncio.create_task(self._publish()),
            asyncio.create_task(self._refresh()),
        ]
        return self

    async def close(self) -> None:
        """Withdraw interest, stop relaying and disconnect."""
        self.hub.relay = None
        for task in (*self._tasks, *self._chores):
            task.cancel()
        with contextlib.suppress(Exception):
            for key in self.wanted:
                await self.redis.zrem(self._want_key(key), self.origin.hex())
            await self._pubsub.aclose()
            await self.redis.aclose()

    # ------------------------------------------------------------------ Relay (loop thread)
    def publish(self, key: str, payload: bytes) -> None:
        try:
            self._outbox.put_nowait((key, payload))
        except asyncio.QueueFull:
            self.dropped += 1

    def want(self, key: str) -> None:
        self.wanted.add(key)
        self._spawn(self._announce(key))

    def unwant(self, key: str) -> None:
        self.wanted.discard(key)
        self._spawn(self.redis.zrem(self._want_key(key), self.origin.hex()))

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)

    # ------------------------------------------------------------------ background
    def _want_key(self, key: str) -> str:
        return f"{self.prefix}:want:{key}"

    async def _announce(self, key: str) -> None:
        want = self._want_key(key)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(want, {self.origin.hex(): time.time()})
            pipe.expire(want, int(self.ttl_s * 4))
            pipe.publish(self._interest, self.origin + key.encode())
            await pipe.execute()

    async def resume_interest(self) -> int:
        """Produce every topic of this hub's simulations that some process wants now (a
        fresh entry in its want set); returns how many were taken up."""
        prefix = f"{self.prefix}:want:"
        taken = 0
        async for raw in self.redis.scan_iter(match=f"{prefix}*", count=500):
            want = raw.decode()
            if not await self.redis.zcount(want, time.time() - self.ttl_s, "+inf"):
                continue
            try:
                taken += self.hub.add_remote_interest(Topic.from_key(want[len(prefix) :]))
            except ValueError:  # not a topic key: someone else's garbage
                continue
        return taken

    async def _publish(self) -> None:
        while True:
            batch = [await self._outbox.get()]
            while not self._outbox.empty():
                batch.append(self._outbox.get_nowait())
            async with self.redis.pipeline(transaction=False) as pipe:
                for key, payload in batch:  # one pipeline keeps the frames in order
                    pipe.publish(self._frame_prefix + key, self.origin + payload)
                await pipe.execute()
            self.published += len(batch)

    async def _read(self) -> None:
        origin, n = self.origin, len(self.origin)
        async for message in self._pubsub.listen():
            data = message.get("data")
            if not isinstance(data, bytes) or data[:n] == origin:
                continue  # subscription confirmations, and our own frames
            channel = message["channel"].decode()
            try:
                if message["type"] == "pmessage":
                    self.hub.relay_frame(channel[len(self._frame_prefix) :], data[n:])
                    self.relayed += 1
                elif message["type"] == "message" and channel == self._interest:
                    self.hub.add_remote_interest(Topic.from_key(data[n:].decode()))
            except Exception:  # a foreign publisher's garbage must not stop the relay
                self.dropped += 1

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_s)
            for key in list(self.wanted):
                await self._announce(key)
            for key in self.hub.remote_interests():
                want = self._want_key(key)
                await self.redis.zremrangebyscore(want, 0, time.time() - self.ttl_s)
                if not await self.redis.zcard(want):
                    self.hub.drop_remote_interest(key)
