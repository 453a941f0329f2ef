"""One B4 client process: hold many WebSocket connections, count frames, time pings.

Run as ``python -m benchmarks._ws_worker SPEC.json`` (by :func:`benchmarks._common.run_worker`).
The spec names the server ``url``, ``sim_id``, how many ``connections`` to open (in
batches of ``ramp_batch``), how many of them ping (``pingers``, one ping each
``ping_interval_s``, with a fresh id whose send time is remembered), ``slow`` (open
one more raw connection, with a tiny receive buffer, that subscribes and never reads),
``duration_s`` and a ``sync_dir``: the worker writes ``ready-<index>`` there once
connected and starts counting when the parent writes ``go`` (holding the start time).

A load generator must cost less than the server it measures, or the two cores measure
the clients. So each connection is a bare :class:`asyncio.Protocol` on uvloop: the
opening handshake and every frame the client sends (masked, as RFC 6455 requires) are
made by ``websockets``' sans-I/O :class:`~websockets.client.ClientProtocol`, while
incoming frames are only delimited, by their headers, and counted -- binary frames are
the broadcast, text frames are JSON replies (pongs are matched by id), the server's
keepalive pings are answered. A frame counts when its last byte has arrived; a
fragmented or masked frame is an error.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import uvloop
from websockets.client import ClientProtocol
from websockets.http11 import Response
from websockets.uri import parse_uri

from freeagentics.loadtest.server import raise_fd_limit

_OP_TEXT, _OP_BINARY, _OP_CLOSE, _OP_PING = 0x1, 0x2, 0x8, 0x9


class Counters:
    def __init__(self) -> None:
        self.counting = False
        self.messages = 0
        self.message_bytes = 0  # payload bytes of the counted messages
        self.latencies: list[float] = []
        self.errors = 0
        self.closed: dict[str, int] = {}


class Connection(asyncio.Protocol):
    """One WebSocket client connection that counts what it receives."""

    def __init__(self, url: str, counters: Counters, sent: dict[int, float]):
        self.handshake = ClientProtocol(parse_uri(url))
        self.counters, self.sent = counters, sent
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.replies: asyncio.Queue[dict] = asyncio.Queue()  # text frames while ramping
        self.ramping = True
        self.buffer = bytearray()

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.handshake.send_request(self.handshake.connect())
        self._flush()

    def data_received(self, data: bytes) -> None:
        if not self.opened.done():
            self._handshake_data(data)
        else:
            self.buffer += data
            self._frames()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"closed during the handshake: {exc}"))

    # -- sending
    def send_text(self, text: bytes) -> None:
        self.handshake.send_text(text)
        self._flush()

    def _flush(self) -> None:
        assert self.transport is not None
        self.transport.write(b"".join(self.handshake.data_to_send()))

    # -- receiving
    def _handshake_data(self, data: bytes) -> None:
        self.handshake.receive_data(data)
        for event in self.handshake.events_received():
            if isinstance(event, Response):
                if self.handshake.handshake_exc is not None:
                    self.opened.set_exception(self.handshake.handshake_exc)
                else:
                    self.opened.set_result(None)

    def _frames(self) -> None:
        buf, counters = self.buffer, self.counters
        pos, end_of_data = 0, len(buf)
        while end_of_data - pos >= 2:
            first, length = buf[pos], buf[pos + 1] & 0x7F
            head = 2
            if length == 126:
                if end_of_data - pos < 4:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if end_of_data - pos < 10:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            end = pos + head + length
            if end > end_of_data:
                break
            opcode = first & 0x0F
            if not first & 0x80 or buf[pos + 1] & 0x80:  # fragmented, or masked by a server
                counters.errors += 1
            elif opcode == _OP_BINARY:
                if counters.counting:
                    counters.messages += 1
                    counters.message_bytes += length
            elif opcode == _OP_TEXT:
                self._reply(orjson.loads(bytes(buf[pos + head : end])))
            elif opcode == _OP_PING:  # the server's keepalive: unanswered, it closes us
                self.handshake.send_pong(bytes(buf[pos + head : end]))
                self._flush()
            elif opcode == _OP_CLOSE:
                code = int.from_bytes(buf[pos + head : pos + head + 2], "big") if length else 1005
                counters.closed[str(code)] = counters.closed.get(str(code), 0) + 1
            pos = end
        del buf[:pos]

    def _reply(self, doc: dict) -> None:
        start = self.sent.pop(doc.get("id"), None)
        if start is not None:
            if self.counters.counting:
                self.counters.latencies.append(time.perf_counter() - start)
        elif self.ramping:
            self.replies.put_nowait(doc)


async def _connect(url: str, sim_id: Any, counters: Counters, sent: dict) -> Connection:
    parts = urlsplit(url)
    loop = asyncio.get_running_loop()
    _, conn = await loop.create_connection(
        lambda: Connection(url, counters, sent), parts.hostname, parts.port
    )
    await asyncio.wait_for(conn.opened, 30)
    subscribe = {"type": "subscribe", "topic": "world", "sim_id": sim_id, "format": "msgpack"}
    conn.send_text(orjson.dumps(subscribe))
    ack = await asyncio.wait_for(conn.replies.get(), 30)
    conn.ramping = False
    if not ack.get("ok"):
        counters.errors += 1
    return conn


async def _ping(conn: Connection, interval: float, sent: dict[int, float], ids: Any) -> None:
    await asyncio.sleep(interval * (next(ids) % 97) / 97)  # spread the pingers out
    while True:
        mid = next(ids)
        sent[mid] = time.perf_counter()
        conn.send_text(orjson.dumps({"type": "ping", "id": mid}))
        await asyncio.sleep(interval)


def _stalled_client(url: str, sim_id: Any) -> socket.socket:
    """A raw connection with a 4 KB receive buffer that subscribes and never reads."""
    parts = urlsplit(url)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((parts.hostname, parts.port))
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /ws HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    sock.sendall(request.encode())
    sock.recv(1024)  # the 101 response
    body = orjson.dumps({"type": "subscribe", "topic": "world", "sim_id": sim_id})
    mask = os.urandom(4)  # client frames are masked (RFC 6455)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(body))
    sock.sendall(bytes([0x81, 0x80 | len(body)]) + mask + masked)
    return sock


async def _wait_for(path: Path, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path.name} never came")
        await asyncio.sleep(0.02)
    return path.read_text()


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    counters = Counters()
    sent: dict[int, float] = {}
    ids = itertools.count(spec["index"] * 10_000_000)
    connections: list[Connection] = []
    start = time.perf_counter()
    total, batch = spec["connections"], spec["ramp_batch"]
    for first in range(0, total, batch):
        size = min(batch, total - first)
        made = await asyncio.gather(
            *(_connect(spec["url"], spec["sim_id"], counters, sent) for _ in range(size)),
            return_exceptions=True,
        )
        for conn in made:
            if isinstance(conn, BaseException):
                counters.errors += 1
            else:
                connections.append(conn)
    ramp_s = time.perf_counter() - start
    pingers = connections[: spec["pingers"]]
    tasks = [
        asyncio.create_task(_ping(conn, spec["ping_interval_s"], sent, ids)) for conn in pingers
    ]
    stalled = _stalled_client(spec["url"], spec["sim_id"]) if spec["slow"] else None
    sync = Path(spec["sync_dir"])
    (sync / f"ready-{spec['index']}").write_text(json.dumps({"connected": len(connections)}))
    go = float(await _wait_for(sync / "go", spec["ready_timeout_s"]))
    await asyncio.sleep(max(0.0, go - time.time()))
    counters.counting = True
    began = time.perf_counter()
    await asyncio.sleep(spec["duration_s"])
    counters.counting = False
    elapsed = time.perf_counter() - began
    for task in tasks:
        task.cancel()
    if stalled is not None:
        stalled.close()
    for conn in connections:
        assert conn.transport is not None
        conn.transport.abort()  # a graceful close of thousands would only time the close
    return {
        "connected": len(connections),
        "ramp_s": ramp_s,
        "messages": counters.messages,
        "message_bytes": counters.message_bytes,
        "elapsed_s": elapsed,
        "latencies": counters.latencies,
        "errors": counters.errors,
        "closed": counters.closed,
    }


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    raise_fd_limit()
    result = uvloop.run(run(spec))
    Path(spec["result_path"]).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
