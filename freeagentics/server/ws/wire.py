"""Frames framed once: a WebSocket server frame built per payload, written to many sockets.

Server-to-client frames are not masked (RFC 6455 §5.1), so an uncompressed frame is the
same bytes for every connection. :func:`wire_frame` builds them once per topic frame,
and :class:`StreamingWebSocketProtocol` -- uvicorn's sans-I/O ``websockets`` protocol
with one addition -- lets the application write those bytes straight to the socket:
its ASGI scope carries a :class:`DirectWriter` under :data:`EXTENSION`. The fan-out
then costs one ``transport.write`` per subscriber, with no task switch and no per-
connection framing; everything else (handshake, reading, control frames, closing) is
uvicorn's.

The writer offers the connection's transport only while a direct write is right and
wise: once the handshake completed, before a close was sent or received and while the
peer is there, without permessage-deflate (each connection then has its own
compressor), and while the socket's buffer is below its high-water mark. The protocol
re-derives that after every call into it and tells the client when it changes, so a
fan-out to ten thousand sockets reads one attribute and calls ``transport.write`` per
subscriber, as a bare broadcaster would. Otherwise the caller queues the payload and
sends it through ASGI as before, so a slow client is thinned and closed by
:class:`~freeagentics.server.ws.client.Client` exactly as without this protocol.

permessage-deflate is offered only when the app asks for it (``ws_compression``,
published under :data:`COMPRESSION_STATE`; off by default): every compressed
connection costs a compression of every frame on the event loop, which with a handful
of browser viewers already held ``/health/live`` past 300 ms at p99, while frames framed
once cost one write each.

The protocol also holds incoming messages to the application's own size limit
(``ws_max_message_bytes``, published in the lifespan state under :data:`MAX_SIZE_STATE`)
whatever uvicorn's ``ws_max_size`` says: a frame that declares more is refused with close
code 1009 as soon as its header arrives, never buffered (uvicorn's default is 16 MiB).

Serve with ``uvicorn --ws freeagentics.server.ws.wire:StreamingWebSocketProtocol``
(``freeagentics serve`` does); under any other WebSocket implementation the scope has
no writer and every frame takes the ASGI path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

from freeagentics.server.ws.framing import wire_frame

__all__ = [
    "COMPRESSION_STATE",
    "EXTENSION",
    "MAX_SIZE_STATE",
    "PROTOCOL",
    "DirectWriter",
    "StreamingWebSocketProtocol",
    "wire_frame",
]

#: the ASGI scope extension under which the protocol offers its :class:`DirectWriter`
EXTENSION = "freeagentics.direct_write"
#: the lifespan-state key under which the app publishes its message size limit
MAX_SIZE_STATE = "freeagentics.ws_max_message_bytes"
#: lifespan state: whether to offer permessage-deflate (absent: uvicorn's setting)
COMPRESSION_STATE = "freeagentics.ws_compression"
#: the import string for uvicorn's ``--ws`` option
PROTOCOL = "freeagentics.server.ws.wire:StreamingWebSocketProtocol"


class DirectWriter:
    """One connection's socket as the fan-out sees it (see the module docstring).

    ``transport`` is the connection's transport while a prebuilt frame may be written to
    it now, else None. The protocol re-derives it after every call into it (socket
    events, timers, the application's sends, shutdown), the only places where its state
    changes, and calls ``on_change`` (the client's hook) when it flips, so a writer
    reads one attribute instead of checking the protocol's state per write.
    """

    __slots__ = ("_protocol", "on_change", "transport")

    def __init__(self, protocol: StreamingWebSocketProtocol):
        self._protocol = protocol
        self.transport: asyncio.WriteTransport | None = None
        self.on_change: Callable[[], Any] | None = None

    def _set(self, transport: asyncio.WriteTransport | None) -> None:
        if transport is not self.transport:
            self.transport = transport
            on_change = self.on_change
            if on_change is not None:
                on_change()

    def write(self, wire: bytes) -> bool:
        """Write ``wire`` (from :func:`wire_frame`) now; False when the caller must queue it."""
        transport = self.transport
        if transport is None:
            return False
        transport.write(wire)
        return True

    def abort(self) -> None:
        """Drop the connection at once (a peer that stopped reading never takes a close)."""
        self._set(None)
        self._protocol.transport.abort()


class _Inbox:
    """The receive queue uvicorn's protocol needs (``put_nowait``, ``get``, ``empty``),
    for one reader -- an ASGI app reads its messages in turn -- at a tenth of the memory
    of an :class:`asyncio.Queue`, which matters ten thousand connections over."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> Any:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.pop(0)

    def empty(self) -> bool:
        return not self._items


class _Flag:
    """The ``writable`` event uvicorn's protocol needs (``set``, ``clear``, ``is_set``,
    ``wait``), holding its waiters only while there are some."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = False
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> None:
        while not self._set:
            waiter = asyncio.get_running_loop().create_future()
            if self._waiters is None:
                self._waiters = []
            self._waiters.append(waiter)
            await waiter


def _then_sync(name: str) -> Callable[..., Any]:
    """uvicorn's protocol method ``name``, then re-deriving the direct writer's transport
    (whether the method returned or raised)."""
    method = getattr(WebSocketsSansIOProtocol, name)

    def call(self: StreamingWebSocketProtocol, *args: Any) -> Any:
        try:
            return method(self, *args)
        finally:
            self._sync_direct()

    call.__name__ = call.__qualname__ = name
    call.__doc__ = method.__doc__
    return call


class StreamingWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's ``websockets-sansio`` protocol, offering a :class:`DirectWriter` in the
    scope, with a lighter receive queue and ``writable`` event (same behaviour), and
    messages limited to the app's size (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if (self.app_state or {}).get(COMPRESSION_STATE) is False:
            self.conn.available_extensions = []  # nothing to negotiate: frames stay shared
        app_limit = (self.app_state or {}).get(MAX_SIZE_STATE)
        if app_limit is not None:
            configured = self.conn.max_message_size
            self.conn.max_message_size = (
                app_limit if configured is None else min(configured, app_limit)
            )
        self.queue = _Inbox()  # type: ignore[assignment]
        self.writable = _Flag()  # type: ignore[assignment]
        self.writable.set()
        self.direct = DirectWriter(self)

    # Every call into the protocol ends by re-deriving the direct writer's transport: its
    # state (handshake, close sent or received, connection lost, buffer paused) changes
    # only inside these calls.

    def _sync_direct(self) -> None:
        conn, transport = self.conn, self.transport
        usable = (
            transport is not None
            and self.handshake_complete
            and not self.close_sent
            and not self.disconnected
            and self.initial_response is None
            and self.writable.is_set()
            and not conn.extensions
            and conn.state is State.OPEN
            and not transport.is_closing()
        )
        self.direct._set(transport if usable else None)

    data_received = _then_sync("data_received")
    connection_lost = _then_sync("connection_lost")
    pause_writing = _then_sync("pause_writing")
    resume_writing = _then_sync("resume_writing")
    shutdown = _then_sync("shutdown")
    send_keepalive_ping = _then_sync("send_keepalive_ping")  # timers call these two
    keepalive_timeout = _then_sync("keepalive_timeout")

    async def run_asgi(self) -> None:
        extensions: dict[str, Any] = self.scope.setdefault("extensions", {})  # type: ignore[assignment]
        extensions[EXTENSION] = self.direct
        try:
            await super().run_asgi()
        finally:
            self._sync_direct()

    async def send(self, message: Any) -> None:
        try:
            await super().send(message)
        finally:
            self._sync_direct()
        if message["type"] == "websocket.accept" and self.handshake_complete:
            # the parsed handshake is not read again: do not hold it for the connection's life
            self.request = self.response = None  # type: ignore[assignment]
