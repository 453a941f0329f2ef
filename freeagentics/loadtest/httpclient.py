"""A lean HTTP/1.1 keep-alive client for load generation: pre-encoded requests, heads parsed.

:class:`HttpPool` holds up to ``limit`` keep-alive connections to one server and
sends requests written in advance as bytes (:func:`get_request`), one at a time per
connection (no pipelining); a request finding no idle connection opens one below the
limit, else waits its turn (FIFO). A :class:`HttpConnection` parses only what a
check needs: the status line, ``Content-Length``, ``Transfer-Encoding`` and
``Connection: close``; the body is counted off as it streams in and kept only when the
caller asks for it or the status is an error (then up to :data:`MAX_KEPT_BYTES`, for
the report's example).

Every response is checked: a well-formed head (``HTTP/1.x NNN``, at most
:data:`MAX_HEAD_BYTES`), a length (``Content-Length``; chunked responses are not
supported and fail, naming the reason). Each request ends in exactly one call of its
``done(status, body, error)``: ``status`` the response's (``None`` on failure), ``body``
the kept bytes or ``None``, ``error`` a short kind (``None`` on success).

As browsers do (RFC 9112 §9.3.1), a GET whose reused keep-alive connection closes
before any byte of its response came (the server closed the idle connection as the
request left) is sent once more on a fresh connection; :attr:`HttpPool.retried` counts
them. Any other loss fails the request.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

__all__ = ["MAX_HEAD_BYTES", "MAX_KEPT_BYTES", "Done", "HttpConnection", "HttpPool", "get_request"]

#: a response head longer than this fails the request
MAX_HEAD_BYTES = 64 * 1024
#: most body bytes kept for a caller (a longer body fails a request that wants it)
MAX_KEPT_BYTES = 4 << 20
#: body bytes kept of an error response, for the report's example
ERROR_BODY_BYTES = 300

Done = Callable[[int | None, bytes | None, str | None], None]


def get_request(host: str, path: str) -> bytes:
    """A GET request for ``path`` on ``host`` (``name:port``), encoded once, sent many times."""
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n\r\n".encode()


class HttpConnection(asyncio.Protocol):
    """One keep-alive connection, one request at a time; see the module."""

    def __init__(self, pool: HttpPool):
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.served = 0  # responses completed on this connection
        self._done: Done | None = None
        self._raw = b""
        self._keep = False
        self._head = bytearray()
        self._in_head = True
        self._got_bytes = False
        self._remaining = 0
        self._status = 0
        self._close_after = False
        self._body: bytearray | None = None

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        done, self._done = self._done, None
        self.pool._lost(self, done, self._raw, self._keep, self._got_bytes)

    def data_received(self, data: bytes) -> None:
        if self._done is None:
            self._fail("rest_unexpected_bytes")
            return
        self._got_bytes = True
        if self._in_head:
            self._head += data
            end = self._head.find(b"\r\n\r\n")
            if end < 0:
                if len(self._head) > MAX_HEAD_BYTES:
                    self._fail("rest_head_too_long")
                return
            if not self._parse_head(bytes(self._head[:end]).lower()):
                return
            data = bytes(self._head[end + 4 :])
            self._head = bytearray()
            self._in_head = False
        n = len(data)
        if n > self._remaining:
            self._fail("rest_extra_bytes")
            return
        self._remaining -= n
        if self._body is not None and n:
            room = (MAX_KEPT_BYTES if self._keep else ERROR_BODY_BYTES) - len(self._body)
            if self._keep and n > room:
                self._fail("rest_body_too_long")
                return
            self._body += data[: max(room, 0)]
        if self._remaining == 0:
            self._finish()

    # -- requests
    def send(self, raw: bytes, done: Done, keep_body: bool) -> None:
        assert self._done is None and self.transport is not None, "one request at a time"
        self._done, self._raw, self._keep = done, raw, keep_body
        self._in_head, self._got_bytes = True, False
        self.transport.write(raw)

    def _parse_head(self, head: bytes) -> bool:
        if head[:7] != b"http/1." or not head[9:12].isdigit():
            self._fail("rest_bad_status_line")
            return False
        self._status = status = int(head[9:12])
        if b"\r\ntransfer-encoding:" in head:
            self._fail("rest_chunked_unsupported")
            return False
        at = head.find(b"\r\ncontent-length:")
        if at >= 0:
            stop = head.find(b"\r\n", at + 2)
            try:
                self._remaining = int(head[at + 17 : stop if stop >= 0 else len(head)])
            except ValueError:
                self._fail("rest_bad_content_length")
                return False
            if self._remaining < 0:
                self._fail("rest_bad_content_length")
                return False
        elif status in (204, 304) or 100 <= status < 200:
            self._remaining = 0
        else:
            self._fail("rest_no_length")
            return False
        self._close_after = b"\r\nconnection: close" in head
        self._body = bytearray() if self._keep or status >= 400 else None
        return True

    def _finish(self) -> None:
        done, self._done = self._done, None
        body = None if self._body is None else bytes(self._body)
        self._body, self._head, self._in_head = None, bytearray(), True
        self.served += 1
        assert done is not None
        if self._close_after:
            self.closed = True
            assert self.transport is not None
            self.transport.close()
        done(self._status, body, None)
        self.pool._release(self)

    def _fail(self, kind: str) -> None:
        done, self._done = self._done, None
        self.closed = True
        if self.transport is not None:
            self.transport.abort()
        if done is not None:
            done(None, None, kind)


class HttpPool:
    """Up to ``limit`` keep-alive connections to ``host:port``; see the module."""

    def __init__(self, host: str, port: int, limit: int, connect_timeout_s: float = 60.0):
        if limit < 1:
            raise ValueError(f"a pool needs at least one connection, got {limit}")
        self.host, self.port, self.limit = host, port, limit
        self.connect_timeout_s = connect_timeout_s
        self.idle: list[HttpConnection] = []  # a stack: the warmest connection first
        self.waiting: deque[tuple[bytes, Done, bool]] = deque()
        self.open = 0  # connections open or opening
        self.opened = 0  # connections opened in all
        self.retried = 0
        self.queued = 0  # requests that waited for a connection
        self.closing = False
        self._connections: set[HttpConnection] = set()
        self._tasks: set[asyncio.Task] = set()

    def request(self, raw: bytes, done: Done, keep_body: bool = False) -> None:
        """Send ``raw``; ``done`` is called once with its outcome (see the module)."""
        if self.closing:
            done(None, None, "rest_pool_closed")
            return
        while self.idle:
            conn = self.idle.pop()
            if not conn.closed:
                conn.send(raw, done, keep_body)
                return
        if self.open < self.limit:
            self._connect(raw, done, keep_body)
        else:
            self.queued += 1
            self.waiting.append((raw, done, keep_body))

    def _connect(self, raw: bytes, done: Done, keep_body: bool) -> None:
        self.open += 1
        self.opened += 1
        task = asyncio.get_running_loop().create_task(self._open(raw, done, keep_body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _open(self, raw: bytes, done: Done, keep_body: bool) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(lambda: HttpConnection(self), self.host, self.port),
                self.connect_timeout_s,
            )
        except (OSError, TimeoutError) as exc:
            self.open -= 1
            done(None, None, f"rest_connect_{type(exc).__name__}")
            self._next()
            return
        self._connections.add(conn)
        conn.send(raw, done, keep_body)

    def _release(self, conn: HttpConnection) -> None:
        if conn.closed:
            return  # _lost will account for it
        if self.waiting and not self.closing:
            conn.send(*self.waiting.popleft())
        else:
            self.idle.append(conn)

    def _lost(
        self, conn: HttpConnection, done: Done | None, raw: bytes, keep: bool, got_bytes: bool
    ) -> None:
        self.open -= 1
        self._connections.discard(conn)
        if done is not None:
            if conn.served and not got_bytes and not self.closing:
                self.retried += 1
                self._connect(raw, done, keep)
                return
            done(None, None, "rest_connection_lost")
        self._next()

    def _next(self) -> None:
        """Open a connection for the longest-waiting request, if one waits and room is left."""
        if self.waiting and self.open < self.limit and not self.closing:
            self._connect(*self.waiting.popleft())

    def close(self) -> None:
        """Abort every connection; requests under way or waiting fail (``rest_connection_lost``,
        ``rest_pool_closed``)."""
        self.closing = True
        for conn in list(self._connections):
            if conn.transport is not None:
                conn.transport.abort()
        self.idle.clear()
        for task in self._tasks:
            task.cancel()
        while self.waiting:
            _raw, done, _keep = self.waiting.popleft()
            done(None, None, "rest_pool_closed")
