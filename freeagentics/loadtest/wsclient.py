"""A lean WebSocket client connection (RFC 6455) for load generation: frames delimited, not decoded.

A load generator must cost less than the server it measures, or a shared machine
measures the clients. So a :class:`WsConnection` is a bare :class:`asyncio.Protocol`:

* the opening handshake is one pre-built request; the response must be ``101`` with the
  ``Sec-WebSocket-Accept`` the key implies (else the handshake fails, naming the status);
* frames it sends are masked text frames (RFC 6455 §5.3) built by :func:`client_frame`;
* frames it receives are delimited by their headers and checked -- final (no
  fragmentation), unmasked, no reserved bits (no extension is negotiated), a known
  opcode -- and then: a binary frame (the broadcast) is counted when its last byte has
  arrived, its payload skipped as it streams in, never buffered, after checking that
  it starts as a MessagePack map (what every frame is); a text frame (a reply, small) is
  handed over whole; the server's pings are answered; a close frame ends the connection.
  A frame that breaks these rules is a protocol error: counted by the owner, and the
  connection is closed (nothing after it could be delimited with confidence).

Callbacks, all optional, tell the owner what happened: ``on_binary(payload_length)``,
``on_text(payload: bytes)``, ``on_close(code)`` (a close frame from the server: 1005
when it carried no code), ``on_error(kind, detail)`` and ``on_lost()`` (the connection
is gone, for whatever reason).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import random
from collections.abc import Callable

from websockets.utils import apply_mask  # C-accelerated where websockets' speedups built

__all__ = [
    "MAX_TEXT_BYTES",
    "HandshakeError",
    "WsConnection",
    "accept_key",
    "client_frame",
    "open_ws",
]

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
#: a text frame (a reply) longer than this is a protocol error, never buffered
MAX_TEXT_BYTES = 1 << 20
#: a handshake response head longer than this is refused
MAX_HEAD_BYTES = 16 * 1024
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#: first bytes of a MessagePack map: fixmap, map 16, map 32
_MSGPACK_MAP = frozenset(range(0x80, 0x90)) | {0xDE, 0xDF}
_masks = random.Random()


class HandshakeError(ConnectionError):
    """The server did not accept the WebSocket; ``status`` is its HTTP status (0: none)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def accept_key(key: bytes) -> bytes:
    """The ``Sec-WebSocket-Accept`` a server must answer to ``Sec-WebSocket-Key: key``."""
    return base64.b64encode(hashlib.sha1(key + _GUID).digest())


def client_frame(payload: bytes, opcode: int = OP_TEXT) -> bytes:
    """One final, masked client frame carrying ``payload`` (RFC 6455 §5.2)."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 1 << 16:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    mask = _masks.getrandbits(32).to_bytes(4, "big")
    return head + mask + apply_mask(payload, mask)


def _ignore(*_args: object) -> None:
    return None


class WsConnection(asyncio.Protocol):
    """One client connection; see the module for what it checks and reports."""

    def __init__(
        self,
        host: str,
        path: str = "/ws",
        *,
        on_binary: Callable[[int], None] = _ignore,
        on_text: Callable[[bytes], None] = _ignore,
        on_close: Callable[[int], None] = _ignore,
        on_error: Callable[[str, str], None] = _ignore,
        on_lost: Callable[[], None] = _ignore,
    ):
        self.on_binary, self.on_text, self.on_close = on_binary, on_text, on_close
        self.on_error, self.on_lost = on_error, on_lost
        self._key = base64.b64encode(os.urandom(16))
        self._request = (
            (
                f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            ).encode()
            + b"Sec-WebSocket-Key: "
            + self._key
            + b"\r\n\r\n"
        )
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed = False
        self._buf = bytearray()  # handshake head, then an incomplete frame head or text frame
        self._skip = 0  # bytes of the current binary frame's payload still to come
        self._skip_length = 0  # that frame's payload length
        self._check_first = False  # its first payload byte has not been checked yet

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self._request)

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        if not self.opened.done():
            self._handshake(data)
        else:
            self._frames(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.opened.done():
            self.opened.set_exception(HandshakeError(0, f"closed during the handshake: {exc}"))
        self.on_lost()

    # -- sending
    def send(self, payload: bytes, opcode: int = OP_TEXT) -> None:
        """Send ``payload`` in one masked frame (dropped once the connection is closed)."""
        if not self.closed and self.transport is not None:
            self.transport.write(client_frame(payload, opcode))

    def abort(self) -> None:
        """Drop the connection at once (no closing handshake)."""
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def _fail(self, kind: str, detail: str) -> None:
        self.on_error(kind, detail)
        self.abort()

    # -- receiving
    def _handshake(self, data: bytes) -> None:
        self._buf += data
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buf) > MAX_HEAD_BYTES:
                self._refuse(0, "handshake response head too long")
            return
        head = bytes(self._buf[:end]).lower()
        rest = bytes(self._buf[end + 4 :])
        self._buf = bytearray()
        status = int(head[9:12]) if head[:7] == b"http/1." and head[9:12].isdigit() else 0
        if status != 101:
            self._refuse(status, f"handshake answered {head[:40]!r}")
            return
        if b"\r\nsec-websocket-accept: " + accept_key(self._key).lower() not in head:
            self._refuse(status, "wrong or missing Sec-WebSocket-Accept")
            return
        self.opened.set_result(None)
        if rest:
            self._frames(rest)

    def _refuse(self, status: int, message: str) -> None:
        self.opened.set_exception(HandshakeError(status, message))
        self.abort()

    def _frames(self, data: bytes) -> None:
        pos, n = 0, len(data)
        if self._skip:  # the rest of a binary frame's payload, counted, never copied
            if self._check_first and not self._payload_ok(data[0]):
                return
            self._check_first = False
            if n < self._skip:
                self._skip -= n
                return
            pos, self._skip = self._skip, 0
            self.on_binary(self._skip_length)
        if self._buf:
            self._buf += memoryview(data)[pos:]
            data, pos, n = bytes(self._buf), 0, len(self._buf)
            self._buf = bytearray()
        while n - pos >= 2:
            b0, b1 = data[pos], data[pos + 1]
            length, head = b1 & 0x7F, 2
            if length == 126:
                if n - pos < 4:
                    break
                length, head = int.from_bytes(data[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if n - pos < 10:
                    break
                length, head = int.from_bytes(data[pos + 2 : pos + 10], "big"), 10
            opcode = b0 & 0x0F
            if not b0 & 0x80 or b0 & 0x70 or b1 & 0x80:
                self._fail("ws_bad_frame", f"fragmented, reserved bits or masked: {b0:#x} {b1:#x}")
                return
            start = pos + head
            end = start + length
            if opcode == OP_BINARY:
                if length == 0:
                    self._fail("ws_bad_payload", "empty binary frame")
                    return
                if start < n and not self._payload_ok(data[start]):
                    return
                if end > n:  # the payload streams in: skip it as it comes
                    self._skip, self._skip_length = end - n, length
                    self._check_first = start >= n
                    return
                self.on_binary(length)
                pos = end
                continue
            if opcode not in (OP_TEXT, OP_CLOSE, OP_PING, OP_PONG) or length > MAX_TEXT_BYTES:
                self._fail("ws_bad_frame", f"opcode {opcode:#x}, {length} bytes")
                return
            if end > n:
                break
            payload = data[start:end]
            pos = end
            if opcode == OP_TEXT:
                self.on_text(payload)
            elif opcode == OP_PING:  # the server's keepalive: unanswered, it would close us
                self.send(payload, OP_PONG)
            elif opcode == OP_CLOSE:
                self.on_close(int.from_bytes(payload[:2], "big") if length >= 2 else 1005)
                self.abort()
                return
            if self.closed:  # a callback aborted the connection
                return
        if pos < n:
            self._buf = bytearray(memoryview(data)[pos:])

    def _payload_ok(self, first: int) -> bool:
        if first in _MSGPACK_MAP:
            return True
        self._fail("ws_bad_payload", f"binary frame starting {first:#x}, not a MessagePack map")
        return False


async def open_ws(
    host: str, port: int, path: str = "/ws", *, timeout_s: float = 60.0, **callbacks: object
) -> WsConnection:
    """A connected, handshaken :class:`WsConnection` (callbacks as in its constructor).

    Raises :class:`HandshakeError` (or ``OSError``, ``TimeoutError``) when it cannot open.
    """
    loop = asyncio.get_running_loop()
    _, conn = await asyncio.wait_for(
        loop.create_connection(
            lambda: WsConnection(f"{host}:{port}", path, **callbacks),  # type: ignore[arg-type]
            host,
            port,
        ),
        timeout_s,
    )
    try:
        await asyncio.wait_for(conn.opened, timeout_s)
    except BaseException:
        conn.abort()
        raise
    return conn
