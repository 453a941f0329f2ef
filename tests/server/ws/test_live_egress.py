"""The egress budget in the real server: frames are throttled to it and shared by every
subscriber, while pongs and acks are answered at once (they are not frames)."""

from __future__ import annotations

import asyncio
import time

import httpx
import orjson
import pytest
import websockets

from freeagentics.server.ws.egress import BURST_S

from .conftest import serving_demo

BUDGET = 64 * 1024  # bytes per second: a few 3.6 kB world frames per second per client
SUBSCRIBERS = 8
PINGS = 6


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serving_demo(
        tmp_path_factory.mktemp("ws-egress"),
        demo_agents=200,  # 8 subscribers of 3.6 kB frames at 50 Hz want 1.4 MB/s
        ws_egress_bytes_per_s=BUDGET,
    ) as served:
        yield served


def test_frames_keep_to_the_budget_every_subscriber_is_served_and_pongs_do_not_wait(server):
    url, app = server
    sim_id = app.state.service.ids()[0]
    subscribe = {"type": "subscribe", "topic": "world", "sim_id": sim_id, "format": "msgpack"}

    async def viewer(ws, received: list[int], stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                message = await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                continue
            if isinstance(message, bytes):
                received.append(len(message))

    async def main():
        start = time.monotonic()
        sockets = [await websockets.connect(url, max_size=None) for _ in range(SUBSCRIBERS)]
        for ws in sockets:
            await ws.send(orjson.dumps(subscribe).decode())
            assert orjson.loads(await ws.recv())["ok"]
        pinger, viewers = sockets[0], sockets[1:]
        received: list[list[int]] = [[] for _ in sockets]
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(viewer(ws, got, stop))
            for ws, got in zip(viewers, received[1:], strict=True)
        ]
        # the pinger pings just after each frame it gets: is the pong there before the
        # next frame, which the budget holds back until the others had theirs?
        pong_first = 0
        for i in range(PINGS):
            message = await ws_recv(pinger)
            while not isinstance(message, bytes):
                message = await ws_recv(pinger)
            received[0].append(len(message))
            await pinger.send(orjson.dumps({"type": "ping", "id": i}).decode())
            frames_first = 0
            message = await ws_recv(pinger)
            while isinstance(message, bytes):
                received[0].append(len(message))
                frames_first += 1
                message = await ws_recv(pinger)
            doc = orjson.loads(message)
            assert doc["type"] == "pong" and doc["id"] == i
            pong_first += frames_first == 0
        stop.set()
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - start
        for ws in sockets:
            await ws.close()
        return received, pong_first, elapsed

    received, pong_first, elapsed = asyncio.run(main())
    # the budget holds: what all subscribers got is within it (and a burst and a frame)
    largest = max(max(got) for got in received)
    assert sum(map(sum, received)) <= BUDGET * (elapsed + BURST_S) + largest
    # every subscriber was served, not only the first ones
    assert all(len(got) >= 1 for got in received)
    # pongs are answered at once, ahead of the frames the budget holds back
    assert pong_first >= PINGS - 1, pong_first
    assert app.state.hub.skipped_by_topic().get("world", 0) > 0


async def ws_recv(ws) -> str | bytes:
    return await asyncio.wait_for(ws.recv(), 30)


def test_the_budget_and_the_skipped_frames_are_exported(server):
    url, _ = server
    base = url.replace("ws://", "http://").removesuffix("/ws")
    deadline = time.monotonic() + 10
    while True:  # the metrics are copied from the hub once a second
        text = httpx.get(f"{base}/metrics", timeout=10).text
        if 'freeagentics_frames_skipped_total{topic="world"}' in text:
            break
        assert time.monotonic() < deadline, "no skipped frames exported"
        time.sleep(0.2)
    assert f"freeagentics_websocket_egress_limit_bytes_per_second {float(BUDGET)}" in text
    assert "freeagentics_websocket_egress_bytes_total" in text
