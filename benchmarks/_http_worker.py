"""One lean HTTP client process: keep-alive connections, each a closed loop of GETs.

Run as ``python -m benchmarks._http_worker SPEC.json`` (by :func:`benchmarks._common.run_worker`).
The spec names the server's ``host`` and ``port``, the ``path`` to GET, how many
``connections`` to open, ``duration_s`` and a ``sync_dir``: the worker writes
``ready-<index>`` there once connected and starts counting when the parent writes
``go`` (holding the start time), as :mod:`benchmarks._ws_worker` does.

A load generator must cost less than the server it measures, so each connection is a
bare :class:`asyncio.Protocol` on uvloop: the request is one prebuilt byte string, and
a response is only delimited (status line, ``Content-Length``, the body's bytes) and
counted, with its latency and the API worker that answered (``X-FreeAgentics-Worker``).
A response that is not 200, or not delimited by a length, is an error.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import uvloop

from benchmarks._ws_worker import _wait_for
from freeagentics.loadtest.server import raise_fd_limit

_HEAD_END = b"\r\n\r\n"
_LENGTH = b"\r\ncontent-length:"
_WORKER = b"\r\nx-freeagentics-worker:"


class Counters:
    def __init__(self) -> None:
        self.counting = False
        self.requests = 0
        self.errors = 0
        self.latencies: list[float] = []
        self.by_worker: dict[str, int] = {}


def _header(head: bytes, name: bytes) -> bytes | None:
    at = head.lower().find(name)
    if at < 0:
        return None
    end = head.find(b"\r\n", at + 2)
    return head[at + len(name) : end if end >= 0 else len(head)].strip()


class Connection(asyncio.Protocol):
    """One keep-alive connection sending the next GET as soon as a response is whole."""

    def __init__(self, request: bytes, counters: Counters):
        self.request, self.counters = request, counters
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.sent_at = 0.0
        self.running = True
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.running:
            self.counters.errors += 1
        if not self.closed.done():
            self.closed.set_result(None)

    def _send(self) -> None:
        assert self.transport is not None
        self.sent_at = time.perf_counter()
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(_HEAD_END)
        if end < 0:
            return
        head = bytes(self.buffer[:end])
        length = _header(head, _LENGTH)
        if length is None:  # chunked or unframed: not what this client measures
            self.counters.errors += 1
            assert self.transport is not None
            self.transport.close()
            return
        whole = end + 4 + int(length)
        if len(self.buffer) < whole:
            return
        del self.buffer[:whole]
        counters = self.counters
        if counters.counting:
            if head[9:12] == b"200":
                counters.requests += 1
                counters.latencies.append(time.perf_counter() - self.sent_at)
                worker = (_header(head, _WORKER) or b"-").decode()
                counters.by_worker[worker] = counters.by_worker.get(worker, 0) + 1
            else:
                counters.errors += 1
        if self.running:
            self._send()


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    counters = Counters()
    host, port = spec["host"], spec["port"]
    request = f"GET {spec['path']} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    loop = asyncio.get_running_loop()
    connections: list[Connection] = []
    for _ in range(spec["connections"]):
        try:
            _, conn = await loop.create_connection(
                lambda: Connection(request, counters), host, port
            )
            connections.append(conn)
        except OSError:
            counters.errors += 1
    sync = Path(spec["sync_dir"])
    (sync / f"ready-{spec['index']}").write_text(json.dumps({"connected": len(connections)}))
    go = float(await _wait_for(sync / "go", spec["ready_timeout_s"]))
    await asyncio.sleep(max(0.0, go - time.time()))
    counters.counting = True
    began = time.perf_counter()
    await asyncio.sleep(spec["duration_s"])
    counters.counting = False
    elapsed = time.perf_counter() - began
    for conn in connections:
        conn.running = False
        assert conn.transport is not None
        conn.transport.abort()
    return {
        "connected": len(connections),
        "requests": counters.requests,
        "elapsed_s": elapsed,
        "latencies": counters.latencies,
        "errors": counters.errors,
        "by_worker": counters.by_worker,
    }


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    raise_fd_limit()
    result = uvloop.run(run(spec))
    Path(spec["result_path"]).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
