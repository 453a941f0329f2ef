"""The lean clients' parsers, fed bytes directly: every split of a byte stream gives the same
events, and every malformed frame or response is reported, never passed over."""

from __future__ import annotations

import asyncio

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.frames import Frame, Opcode

from freeagentics.loadtest.httpclient import HttpConnection
from freeagentics.loadtest.wsclient import (
    OP_PONG,
    HandshakeError,
    WsConnection,
    accept_key,
)


class FakeTransport:
    """What the protocols write and whether they closed."""

    def __init__(self) -> None:
        self.written = bytearray()
        self.closed = self.aborted = False

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True


def server_frame(opcode: Opcode, payload: bytes) -> bytes:
    return Frame(opcode, payload).serialize(mask=False)


def world(n: int) -> bytes:
    return msgpack.packb({"type": "frame", "topic": "world", "data": {"blob": b"x" * n}})


# frames of every length encoding: 7-bit, 16-bit and 64-bit lengths
BINARIES = [world(10), world(300), world(70_000)]
STREAM = (
    server_frame(Opcode.BINARY, BINARIES[0])
    + server_frame(Opcode.TEXT, b'{"type":"pong","id":7}')
    + server_frame(Opcode.BINARY, BINARIES[1])
    + server_frame(Opcode.PING, b"keepalive")
    + server_frame(Opcode.BINARY, BINARIES[2])
    + server_frame(Opcode.CLOSE, (1001).to_bytes(2, "big") + b"going away")
)


def _open(events: list) -> tuple[WsConnection, FakeTransport]:
    """A connection past a good handshake, recording its callbacks into ``events``."""
    conn = WsConnection(
        "h:1",
        on_binary=lambda n: events.append(("binary", n)),
        on_text=lambda p: events.append(("text", bytes(p))),
        on_close=lambda c: events.append(("close", c)),
        on_error=lambda k, _d: events.append(("error", k)),
    )
    transport = FakeTransport()
    conn.connection_made(transport)
    key = transport.written.split(b"Sec-WebSocket-Key: ")[1].split(b"\r\n")[0]
    head = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    conn.data_received(head + b"Sec-WebSocket-Accept: " + accept_key(key) + b"\r\n\r\n")
    assert conn.opened.done() and conn.opened.exception() is None
    transport.written.clear()
    return conn, transport


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True) if b > a]


def _unmask(frame: bytes) -> tuple[int, bytes]:
    assert frame[1] & 0x80, "client frames must be masked"
    length, at = frame[1] & 0x7F, 2
    mask, body = frame[at : at + 4], frame[at + 4 : at + 4 + length]
    return frame[0] & 0x0F, bytes(b ^ mask[i % 4] for i, b in enumerate(body))


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=40))
def test_any_split_of_the_stream_gives_the_same_events(cuts):
    async def feed() -> tuple[list, FakeTransport]:
        events: list = []
        conn, transport = _open(events)
        for chunk in _split(STREAM, cuts):
            conn.data_received(chunk)
        return events, transport

    events, transport = asyncio.run(feed())
    assert events == [
        ("binary", len(BINARIES[0])),
        ("text", b'{"type":"pong","id":7}'),
        ("binary", len(BINARIES[1])),
        ("binary", len(BINARIES[2])),
        ("close", 1001),
    ]
    assert _unmask(bytes(transport.written)) == (OP_PONG, b"keepalive")  # the ping answered
    assert transport.aborted  # a close frame ends the connection


@pytest.mark.parametrize(
    ("frame", "kind"),
    [
        (Frame(Opcode.BINARY, world(5)).serialize(mask=True), "ws_bad_frame"),  # masked
        (server_frame(Opcode.BINARY, world(5))[:1] + b"\x00", "ws_bad_payload"),  # empty
        (bytes([0x02, 0x03]) + b"abc", "ws_bad_frame"),  # not final: fragmented
        (bytes([0xC2, 0x01, 0x85]), "ws_bad_frame"),  # reserved bit (no extension agreed)
        (server_frame(Opcode.BINARY, b"[1, 2]"), "ws_bad_payload"),  # not a MessagePack map
        (bytes([0x83, 0x00]), "ws_bad_frame"),  # unknown opcode
    ],
)
def test_malformed_frames_are_errors_and_end_the_connection(frame, kind):
    async def feed() -> tuple[list, FakeTransport]:
        events: list = []
        conn, transport = _open(events)
        conn.data_received(frame + server_frame(Opcode.BINARY, world(3)))
        return events, transport

    events, transport = asyncio.run(feed())
    assert events == [("error", kind)]  # nothing after it is believed
    assert transport.aborted


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n", 403),
        (b"HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: bogus\r\n\r\n", 101),
        (b"garbage\r\n\r\n", 0),
    ],
)
def test_a_refused_or_wrong_handshake_fails_naming_the_status(head, status):
    async def feed() -> BaseException | None:
        conn = WsConnection("h:1")
        conn.connection_made(FakeTransport())
        conn.data_received(head)
        return conn.opened.exception()

    exc = asyncio.run(feed())
    assert isinstance(exc, HandshakeError) and exc.status == status


class _Pool:
    """What an HttpConnection tells its pool."""

    def __init__(self) -> None:
        self.released = self.lost = 0

    def _release(self, _conn: HttpConnection) -> None:
        self.released += 1

    def _lost(self, *_args: object) -> None:
        self.lost += 1


def _http(response: bytes, cuts: list[int], keep: bool = False) -> tuple[list, FakeTransport]:
    outcomes: list = []
    conn = HttpConnection(_Pool())  # type: ignore[arg-type]
    transport = FakeTransport()
    conn.connection_made(transport)
    conn.send(b"GET / HTTP/1.1\r\n\r\n", lambda *o: outcomes.append(o), keep)
    for chunk in _split(response, cuts):
        conn.data_received(chunk)
    return outcomes, transport


OK = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"a": true}'


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=len(OK)), max_size=20), keep=st.booleans())
def test_a_response_split_anywhere_completes_once(cuts, keep):
    outcomes, transport = _http(OK, cuts, keep)
    assert outcomes == [(200, b'{"a": true}' if keep else None, None)]
    assert not transport.closed and not transport.aborted  # kept alive


H200 = b"HTTP/1.1 200 OK\r\n"


@pytest.mark.parametrize(
    ("response", "outcome"),
    [
        (b"HTTP/1.1 404 Not Found\r\ncontent-length: 3\r\n\r\nno!", (404, b"no!", None)),
        (b"HTTP/1.1 204 No Content\r\n\r\n", (204, None, None)),
        (H200 + b"transfer-encoding: chunked\r\n\r\n", (None, None, "rest_chunked_unsupported")),
        (H200 + b"server: x\r\n\r\n", (None, None, "rest_no_length")),
        (H200 + b"content-length: 2\r\n\r\nabc", (None, None, "rest_extra_bytes")),
        (H200 + b"content-length: x\r\n\r\n", (None, None, "rest_bad_content_length")),
        (b"SSH-2.0-OpenSSH\r\n\r\n", (None, None, "rest_bad_status_line")),
    ],
)
def test_each_response_is_checked(response, outcome):
    outcomes, _ = _http(response, [])
    assert outcomes == [outcome]


def test_connection_close_is_honoured():
    response = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
    outcomes, transport = _http(response, [])
    assert outcomes == [(200, None, None)] and transport.closed
