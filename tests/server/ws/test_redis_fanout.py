"""Two hubs (two server processes' worth) share one simulation's stream through real Redis.

Skipped when Redis is unreachable, unless ``FREEAGENTICS_REQUIRE_SERVICES=1`` (the
``redis_url`` fixture of ``tests/server/conftest.py``).
"""

from __future__ import annotations

import asyncio
import uuid

import orjson

from freeagentics.server.ws import Hub, ServiceSource, Topic
from freeagentics.server.ws.frames import decode_msgpack
from freeagentics.server.ws.redis_fanout import RedisFanout


class Socket:
    def __init__(self):
        self.sent: list = []

    async def send(self, payload) -> None:
        self.sent.append(payload)

    async def close(self, code: int, reason: str) -> None:
        pass


async def until(predicate, timeout: float = 5.0, tick=None) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        if tick is not None:
            tick()
        await asyncio.sleep(0.02)


def test_two_hubs_share_a_simulation_stream_through_redis(redis_url, events, make_service):
    owner_service, other_service = make_service(ids=(1,)), make_service(ids=())
    prefix = f"fa-test-{uuid.uuid4().hex[:8]}"
    options = {"prefix": prefix, "refresh_s": 0.1, "ttl_s": 0.5}

    async def main():
        owner = Hub(ServiceSource(owner_service), frame_rate_hz=1e6)
        other = Hub(ServiceSource(other_service), frame_rate_hz=1e6)
        owner_relay = await RedisFanout.start(owner, redis_url, **options)
        other_relay = await RedisFanout.start(other, redis_url, **options)
        local, remote_mp, remote_json = Socket(), Socket(), Socket()
        for hub, socket, fmt in (
            (owner, local, "msgpack"),
            (other, remote_mp, "msgpack"),
            (other, remote_json, "json"),
        ):
            client = hub.connect(socket.send, socket.close)
            hub.subscribe(client, Topic("world", "1"), fmt)
        tick = 0

        def step():
            nonlocal tick
            tick += 1
            owner_service.emit(1, events(tick))

        await until(lambda: len(remote_mp.sent) >= 3 and len(remote_json.sent) >= 3, tick=step)
        await asyncio.sleep(0.2)
        local_ticks = [decode_msgpack(p)["tick"] for p in local.sent]
        remote_ticks = [decode_msgpack(p)["tick"] for p in remote_mp.sent]
        json_frames = [orjson.loads(p) for p in remote_json.sent]
        # the remote process stops wanting the topic: the owner stops producing it
        for client in list(other.clients):
            other.disconnect(client)
        for client in list(owner.clients):
            owner.disconnect(client)
        await until(lambda: not owner_service.callbacks, timeout=5.0)
        echoes = owner_relay.relayed
        await owner_relay.close()
        await other_relay.close()
        return local_ticks, remote_ticks, json_frames, echoes, tick

    local_ticks, remote_ticks, json_frames, echoes, last = asyncio.run(main())
    assert local_ticks == list(range(1, last + 1))  # each frame once: no echo from Redis
    assert echoes == 0
    assert remote_ticks == sorted(set(remote_ticks)) and remote_ticks[-1] == last
    assert remote_ticks == [f["tick"] for f in json_frames]
    assert json_frames[-1]["data"]["n"] == 5 and isinstance(
        json_frames[-1]["data"]["ids"]["data"], str
    )
