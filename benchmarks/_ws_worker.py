"""One B4 client process: hold many WebSocket connections, count frames, time pings.

Run as ``python -m benchmarks._ws_worker SPEC.json`` (by :func:`benchmarks._common.run_worker`).
The spec names the server ``url``, ``sim_id``, how many ``connections`` to open (in
batches of ``ramp_batch``), how many of them ping (``pingers``, one ping each
``ping_interval_s``, with a fresh id whose send time is remembered), ``slow`` (open
one more raw connection, with a tiny receive buffer, that subscribes and never reads),
``duration_s`` and a ``sync_dir``: the worker writes ``ready-<index>`` there once
connected and starts counting when the parent writes ``go`` (holding the start time).
Frames are only counted, never decoded; pongs are matched by id.
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

import orjson
import websockets

from freeagentics.loadtest.server import raise_fd_limit


class Counters:
    def __init__(self) -> None:
        self.counting = False
        self.messages = 0
        self.latencies: list[float] = []
        self.errors = 0
        self.closed: dict[str, int] = {}


async def _connect(url: str, sim_id: Any, counters: Counters) -> Any:
    ws = await websockets.connect(url, compression=None, max_size=None, ping_interval=None)
    subscribe = {"type": "subscribe", "topic": "world", "sim_id": sim_id, "format": "msgpack"}
    await ws.send(orjson.dumps(subscribe).decode())
    ack = orjson.loads(await ws.recv())
    if not ack.get("ok"):
        counters.errors += 1
    return ws


async def _receive(ws: Any, counters: Counters, sent: dict[int, float]) -> None:
    try:
        async for message in ws:
            if isinstance(message, bytes):
                if counters.counting:
                    counters.messages += 1
                continue
            doc = orjson.loads(message)
            start = sent.pop(doc.get("id"), None)
            if start is not None and counters.counting:
                counters.latencies.append(time.perf_counter() - start)
    except websockets.ConnectionClosed as exc:
        code = str(exc.rcvd.code if exc.rcvd else "none")
        counters.closed[code] = counters.closed.get(code, 0) + 1


async def _ping(ws: Any, interval: float, sent: dict[int, float], ids: Any) -> None:
    await asyncio.sleep(interval * (next(ids) % 97) / 97)  # spread the pingers out
    while True:
        mid = next(ids)
        sent[mid] = time.perf_counter()
        await ws.send(orjson.dumps({"type": "ping", "id": mid}).decode())
        await asyncio.sleep(interval)


def _stalled_client(url: str, sim_id: Any) -> socket.socket:
    """A raw connection with a 4 KB receive buffer that subscribes and never reads."""
    host, port = url.split("//")[1].split("/")[0].split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /ws HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
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
    sockets: list[Any] = []
    start = time.perf_counter()
    total, batch = spec["connections"], spec["ramp_batch"]
    for first in range(0, total, batch):
        size = min(batch, total - first)
        made = await asyncio.gather(
            *(_connect(spec["url"], spec["sim_id"], counters) for _ in range(size)),
            return_exceptions=True,
        )
        for ws in made:
            if isinstance(ws, BaseException):
                counters.errors += 1
            else:
                sockets.append(ws)
    ramp_s = time.perf_counter() - start
    tasks = [asyncio.create_task(_receive(ws, counters, sent)) for ws in sockets]
    pingers = sockets[: spec["pingers"]]
    tasks += [asyncio.create_task(_ping(ws, spec["ping_interval_s"], sent, ids)) for ws in pingers]
    stalled = _stalled_client(spec["url"], spec["sim_id"]) if spec["slow"] else None
    sync = Path(spec["sync_dir"])
    (sync / f"ready-{spec['index']}").write_text(json.dumps({"connected": len(sockets)}))
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
    for ws in sockets:
        ws.transport.abort()  # a graceful close of thousands would only time the close
    return {
        "connected": len(sockets),
        "ramp_s": ramp_s,
        "messages": counters.messages,
        "elapsed_s": elapsed,
        "latencies": counters.latencies,
        "errors": counters.errors,
        "closed": counters.closed,
    }


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    raise_fd_limit()
    result = asyncio.run(run(spec))
    Path(spec["result_path"]).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
