"""One B4 client process: hold many WebSocket connections, count frames, time pings.

Run as ``python -m benchmarks._ws_worker SPEC.json`` (by :func:`benchmarks._common.run_worker`).
The spec names the server ``url``, ``sim_id``, how many ``connections`` to open (in
batches of ``ramp_batch``), how many of them ping (``pingers``, one ping each
``ping_interval_s``, with a fresh id whose send time is remembered), ``slow`` (open
one more raw connection, with a tiny receive buffer, that subscribes and never reads),
``duration_s`` and a ``sync_dir``: the worker writes ``ready-<index>`` there once
connected and starts counting when the parent writes ``go`` (holding the start time).

A load generator must cost less than the server it measures, or the two cores measure
the clients. So each connection is the load test's lean client
(:class:`freeagentics.loadtest.wsclient.WsConnection`, a bare :class:`asyncio.Protocol`
on uvloop): incoming frames are only delimited, by their headers, checked and counted --
binary frames are the broadcast, counted when their last byte has arrived; text frames
are JSON replies (pongs are matched by id); the server's keepalive pings are answered.
A malformed frame is an error and ends its connection.
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

from freeagentics.loadtest.fdlimit import raise_fd_limit
from freeagentics.loadtest.wsclient import WsConnection, open_ws


class Counters:
    def __init__(self) -> None:
        self.counting = False
        self.messages = 0
        self.message_bytes = 0  # payload bytes of the counted messages
        self.latencies: list[float] = []
        self.errors = 0
        self.closed: dict[str, int] = {}

    def binary(self, length: int) -> None:
        if self.counting:
            self.messages += 1
            self.message_bytes += length

    def close(self, code: int) -> None:
        self.closed[str(code)] = self.closed.get(str(code), 0) + 1

    def error(self, _kind: str, _detail: str) -> None:
        self.errors += 1


async def _connect(url: str, sim_id: Any, counters: Counters, sent: dict) -> WsConnection:
    parts = urlsplit(url)
    replies: asyncio.Queue[dict] = asyncio.Queue()  # text frames while subscribing
    ramping = True

    def on_text(payload: bytes) -> None:
        doc = orjson.loads(payload)
        start = sent.pop(doc.get("id"), None)
        if start is not None:
            if counters.counting:
                counters.latencies.append(time.perf_counter() - start)
        elif ramping:
            replies.put_nowait(doc)

    conn = await open_ws(
        parts.hostname,
        parts.port,
        parts.path,
        timeout_s=30,
        on_binary=counters.binary,
        on_text=on_text,
        on_close=counters.close,
        on_error=counters.error,
    )
    subscribe = {"type": "subscribe", "topic": "world", "sim_id": sim_id, "format": "msgpack"}
    conn.send(orjson.dumps(subscribe))
    ack = await asyncio.wait_for(replies.get(), 30)
    ramping = False
    if not ack.get("ok"):
        counters.errors += 1
    return conn


async def _ping(conn: WsConnection, interval: float, sent: dict[int, float], ids: Any) -> None:
    await asyncio.sleep(interval * (next(ids) % 97) / 97)  # spread the pingers out
    while True:
        mid = next(ids)
        sent[mid] = time.perf_counter()
        conn.send(orjson.dumps({"type": "ping", "id": mid}))
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
    connections: list[WsConnection] = []
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
        conn.abort()  # a graceful close of thousands would only time the close
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
