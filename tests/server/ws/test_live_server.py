"""The WebSocket layer in the real app (create_app, SQLite) behind a real uvicorn server.

Every test runs under the protocol ``freeagentics serve`` uses (frames written directly
to uncompressed sockets), with the simulations in a host process (frames relayed from
it) and in this one, and under uvicorn's plain ``websockets`` one (every frame through
ASGI).
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import time

import msgpack
import orjson
import pytest
import websockets

from freeagentics.server.ws import CLOSE_TOO_SLOW
from freeagentics.server.ws.wire import PROTOCOL as WS_PROTOCOL

from .conftest import serving_demo


@pytest.fixture(
    scope="module",
    # frames relayed from a host reach clients as a feed's do, whichever the protocol
    params=[(WS_PROTOCOL, "process"), (WS_PROTOCOL, "inline"), ("websockets", "inline")],
    ids=lambda p: f"{'direct' if p[0] == WS_PROTOCOL else 'asgi'}-{p[1]}",
)
def server(request, tmp_path_factory):
    protocol, host = request.param
    with serving_demo(
        tmp_path_factory.mktemp("ws-live"),
        ws=protocol,
        demo_agents=2000,
        ws_queue_size=4,
        ws_max_lag_frames=8,
        ws_compression=True,  # these tests serve compressed clients beside plain ones
        simulation_host=host,
    ) as (url, app):
        yield url, app, protocol == WS_PROTOCOL


def test_permessage_deflate_is_negotiated_when_offered(server):
    url, _, _ = server

    async def main():
        async with websockets.connect(url, compression="deflate") as ws:
            offered = ws.response.headers.get("Sec-WebSocket-Extensions", "")
        async with websockets.connect(url, compression=None) as ws:
            plain = ws.response.headers.get("Sec-WebSocket-Extensions", "")
        return offered, plain

    offered, plain = asyncio.run(main())
    assert "permessage-deflate" in offered
    assert plain == ""


def test_frames_and_command_acks_from_the_running_demo(server):
    url, app, _ = server
    sim_id = app.state.service.ids()[0]

    async def main():
        async with websockets.connect(url) as ws:
            await ws.send(
                orjson.dumps(
                    {"type": "subscribe", "id": "s", "topic": "world", "sim_id": sim_id}
                ).decode()
            )
            frames, ack = [], None
            while len(frames) < 3:
                doc = orjson.loads(await ws.recv())
                if doc["type"] == "ack":
                    ack = doc
                else:
                    frames.append(doc)
            await ws.send(
                msgpack.packb({"type": "command", "id": 42, "action": "pause", "sim_id": sim_id})
            )
            while True:
                reply = await ws.recv()
                if isinstance(reply, bytes):
                    return ack, frames, msgpack.unpackb(reply)

    ack, frames, paused = asyncio.run(main())
    assert ack == {"type": "ack", "id": "s", "ok": True, "result": {"topic": f"world/{sim_id}"}}
    ticks = [f["tick"] for f in frames]
    assert ticks == sorted(ticks) and len(set(ticks)) == 3
    data = frames[-1]["data"]
    assert data["n"] == 2000 and len(base64.b64decode(data["positions"]["data"])) == 2000 * 2 * 2
    assert paused["id"] == 42 and paused["ok"] is True and paused["result"]["status"] == "paused"
    app.state.service.resume(sim_id)


def test_plain_and_compressed_clients_get_the_same_frames(server):
    url, app, direct = server
    sim_id = app.state.service.ids()[0]
    hub = app.state.hub

    async def connect(compression):
        ws = await websockets.connect(url, compression=compression, max_size=None)
        subscribe = {"type": "subscribe", "topic": "world", "sim_id": sim_id, "format": "msgpack"}
        await ws.send(orjson.dumps(subscribe).decode())
        assert orjson.loads(await ws.recv())["ok"]
        return ws, max(hub.clients, key=lambda c: c.id)  # the newest: this one

    async def collect(ws, n):
        frames = {}
        while len(frames) < n:
            doc = msgpack.unpackb(await ws.recv())
            frames[doc["tick"]] = doc
        await ws.close()
        return frames

    async def main():
        (plain_ws, plain_client), (deflated_ws, deflated_client) = [
            await connect(None),
            await connect("deflate"),
        ]
        # plain has a head start: it counts far enough to overlap the other's frames
        plain, deflated = await asyncio.gather(collect(plain_ws, 40), collect(deflated_ws, 5))
        return plain, deflated, plain_client, deflated_client

    plain, deflated, plain_client, deflated_client = asyncio.run(main())
    common = sorted(set(plain) & set(deflated))
    assert common and all(plain[t] == deflated[t] for t in common)
    assert deflated_client.sent >= 6 and deflated_client.sent_direct == 0  # own compressor
    if direct:  # the ack and every frame written straight to the socket
        assert plain_client.sent_direct == plain_client.sent >= 6
    else:
        assert plain_client.sent >= 6 and plain_client.sent_direct == 0


@pytest.mark.slow
def test_a_client_that_stops_reading_is_closed_4008_while_another_keeps_up(server):
    url, app, _ = server
    sim_id = app.state.service.ids()[0]
    port = int(url.split(":")[2].split("/")[0])
    # a raw socket with a tiny receive buffer that never reads after the handshake
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    stalled.sendall(
        (
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    assert b"101" in stalled.recv(4096).split(b"\r\n")[0]
    body = orjson.dumps(
        {"type": "subscribe", "topic": "world", "sim_id": sim_id, "format": "msgpack"}
    )
    mask = os.urandom(4)
    stalled.sendall(
        bytes([0x81, 0x80 | len(body)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(body))
    )

    async def keep_up():
        async with websockets.connect(url, max_size=None) as ws:
            await ws.send(
                orjson.dumps({"type": "subscribe", "topic": "world", "sim_id": sim_id}).decode()
            )
            hub = app.state.hub
            start, received = time.monotonic(), 0
            while time.monotonic() - start < 60:
                await asyncio.wait_for(ws.recv(), 5)
                received += 1
                if hub.close_codes.get(CLOSE_TOO_SLOW) and len(hub.clients) == 1:
                    after = received
                    for _ in range(10):  # the client that keeps up still gets every frame
                        await asyncio.wait_for(ws.recv(), 5)
                        received += 1
                    return received - after, list(hub.clients)
            raise AssertionError("the stalled client was never disconnected")

    more, clients = asyncio.run(keep_up())
    stalled.close()
    assert more == 10
    (reader,) = clients
    assert reader.dropped == 0
