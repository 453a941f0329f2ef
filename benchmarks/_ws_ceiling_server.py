"""B4's ceiling: the least a Python server can do to serve the same clients the same load.

A bare uvloop server with nothing but WebSocket: each connection's handshake and
incoming frames go through ``websockets``' sans-I/O
:class:`~websockets.server.ServerProtocol`; a text message gets a JSON reply (``pong``
for a ``ping``, else an ``ack``) echoing its ``id``; and every ``1 / rate_hz`` seconds
one prebuilt binary frame of ``frame_bytes`` (a MessagePack map of random bytes, as
the clients check) is written to every open connection (the
next round starts at once when a round overruns). No simulation, no authentication, no
queues, no ASGI. What B4's clients receive from it is what this machine delivers over
loopback to those clients, the figure FreeAgentics' own is read against.

Run as ``python -m benchmarks._ws_ceiling_server PORT FRAME_BYTES RATE_HZ``; it prints
``ready`` once listening.
"""

from __future__ import annotations

import asyncio
import os
import sys

import msgpack
import orjson
import uvloop
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol

from freeagentics.loadtest.fdlimit import raise_fd_limit


class Connection(asyncio.Protocol):
    def __init__(self, open_connections: set[Connection]):
        self.open_connections = open_connections
        self.protocol = ServerProtocol()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        protocol = self.protocol
        protocol.receive_data(data)
        for event in protocol.events_received():
            if isinstance(event, Request):
                protocol.send_response(protocol.accept(event))
                if protocol.state is State.OPEN:
                    self.open_connections.add(self)
            elif isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                doc = orjson.loads(event.data)
                kind = "pong" if doc.get("type") == "ping" else "ack"
                protocol.send_text(orjson.dumps({"type": kind, "id": doc.get("id"), "ok": True}))
        assert self.transport is not None
        out = protocol.data_to_send()
        if out:
            self.transport.write(b"".join(out))
        if protocol.close_expected():
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.open_connections.discard(self)


def _payload(size: int) -> bytes:
    """A MessagePack map ``{"data": random bytes}`` of ``size`` bytes (at least its header)."""
    fill = max(0, size - len(msgpack.packb({"data": b""})))
    while fill and len(msgpack.packb({"data": bytes(fill)})) > size:
        fill -= 1
    return msgpack.packb({"data": os.urandom(fill)})


async def serve(port: int, frame_bytes: int, rate_hz: float) -> None:
    open_connections: set[Connection] = set()
    loop = asyncio.get_running_loop()
    await loop.create_server(lambda: Connection(open_connections), "127.0.0.1", port, backlog=8192)
    wire = Frame(Opcode.BINARY, _payload(frame_bytes)).serialize(mask=False)
    print("ready", flush=True)
    interval = 1.0 / rate_hz
    next_round = loop.time()
    while True:
        for connection in tuple(open_connections):
            connection.transport.write(wire)  # type: ignore[union-attr]
        next_round = max(next_round + interval, loop.time())
        await asyncio.sleep(next_round - loop.time())


def main() -> None:
    port, frame_bytes, rate_hz = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    raise_fd_limit()
    uvloop.run(serve(port, frame_bytes, rate_hz))


if __name__ == "__main__":
    main()
