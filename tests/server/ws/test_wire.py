"""The direct-write protocol's parts: frames built once, its light queue and flag, and
when its direct writer offers the socket."""

from __future__ import annotations

import asyncio

import pytest
import uvicorn
from uvicorn.server import ServerState
from websockets.client import ClientProtocol
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader
from websockets.uri import parse_uri

from freeagentics.server.ws.wire import (
    COMPRESSION_STATE,
    StreamingWebSocketProtocol,
    _Flag,
    _Inbox,
    wire_frame,
)


def parse(wire: bytes) -> Frame:
    reader = StreamReader()
    reader.feed_data(wire)
    parser = Frame.parse(reader.read_exact, mask=False)
    with pytest.raises(StopIteration) as done:
        next(parser)
    assert not reader.buffer  # the whole input was one frame
    return done.value.value


@pytest.mark.parametrize("size", [0, 125, 126, 65_535, 65_536])
def test_wire_frames_parse_back_at_every_length_encoding(size):
    binary = parse(wire_frame(bytes(range(256)) * (size // 256) + bytes(size % 256)))
    assert binary.opcode is Opcode.BINARY and binary.fin and len(binary.data) == size
    text = parse(wire_frame("é" * size))
    assert text.opcode is Opcode.TEXT and bytes(text.data).decode() == "é" * size


def test_inbox_hands_items_over_in_order_and_survives_a_cancelled_reader():
    async def main():
        inbox = _Inbox()
        waiting = asyncio.create_task(inbox.get())
        await asyncio.sleep(0)
        waiting.cancel()  # a reader cancelled while waiting loses nothing
        await asyncio.gather(waiting, return_exceptions=True)
        inbox.put_nowait(1)
        inbox.put_nowait(2)
        first = await inbox.get()
        reader = asyncio.create_task(inbox.get())
        second = await reader
        assert inbox.empty()
        later = asyncio.create_task(inbox.get())
        await asyncio.sleep(0)
        inbox.put_nowait(3)  # wakes the waiting reader
        return first, second, await later

    assert asyncio.run(main()) == (1, 2, 3)


def test_flag_wait_returns_once_set_and_blocks_while_cleared():
    async def main():
        flag = _Flag()
        assert not flag.is_set()
        waiters = [asyncio.create_task(flag.wait()) for _ in range(3)]
        await asyncio.sleep(0)
        assert not any(w.done() for w in waiters)
        flag.set()
        await asyncio.gather(*waiters)
        await flag.wait()  # set: returns at once
        flag.clear()
        blocked = asyncio.create_task(flag.wait())
        await asyncio.sleep(0.01)
        return blocked.done(), flag._waiters

    done, waiters = asyncio.run(main())
    assert not done and len(waiters) == 1


class Transport(asyncio.Transport):
    """An in-memory transport: keeps what the protocol writes, closes when told."""

    def __init__(self) -> None:
        super().__init__()
        self.out = bytearray()
        self.closing = False

    def write(self, data) -> None:
        self.out += data

    def close(self) -> None:
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_extra_info(self, name, default=None):
        return {"peername": ("127.0.0.1", 5000), "sockname": ("127.0.0.1", 8000)}.get(name, default)


async def _app(scope, receive, send) -> None:
    """Accepts, then reads until the peer leaves; ``close`` in the query: closes first."""
    await receive()
    await send({"type": "websocket.accept"})
    if scope["query_string"] == b"close":
        await send({"type": "websocket.close", "code": 1000})
    while (await receive())["type"] != "websocket.disconnect":
        pass


class Peer:
    """A real server protocol on an in-memory transport, driven by websockets' client."""

    def __init__(self, query: str = "", compression: bool = False):
        config = uvicorn.Config(_app, ws=StreamingWebSocketProtocol, log_level="warning")
        config.load()
        extensions = [ClientPerMessageDeflateFactory()] if compression else None
        self.protocol = StreamingWebSocketProtocol(
            config, ServerState(), {COMPRESSION_STATE: compression}
        )
        self.transport = Transport()
        self.protocol.connection_made(self.transport)
        self.changes = 0
        self.protocol.direct.on_change = self.changed
        self.client = ClientProtocol(parse_uri(f"ws://test/ws?{query}"), extensions=extensions)
        self.client.send_request(self.client.connect())
        self.flush()

    def changed(self) -> None:
        self.changes += 1

    def flush(self) -> None:
        """Hand what the client wrote to the server and what the server wrote to the client."""
        self.protocol.data_received(b"".join(self.client.data_to_send()))
        self.client.receive_data(bytes(self.transport.out))
        self.transport.out.clear()

    @property
    def offered(self) -> bool:
        return self.protocol.direct.transport is self.transport


async def _settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


def test_the_direct_writer_offers_the_transport_exactly_while_a_direct_write_is_safe():
    async def main():
        peer = Peer()
        assert not peer.offered  # handshake under way: the app has not accepted yet
        await _settle()
        peer.flush()  # the client reads the handshake's response
        assert peer.offered and peer.changes == 1
        assert peer.protocol.direct.write(wire_frame(b"frame"))
        peer.protocol.pause_writing()  # buffer above its high-water mark
        assert not peer.offered and not peer.protocol.direct.write(b"x")
        peer.protocol.resume_writing()
        assert peer.offered
        peer.client.send_close(1000)
        peer.flush()  # the peer's close arrives: no frame may follow our close reply
        assert not peer.offered and peer.changes == 4
        peer.protocol.connection_lost(None)
        assert not peer.offered
        await _settle()

        closing = Peer(query="close")
        await _settle()  # accepted, then the app sent a close: nothing may follow it
        assert not closing.offered and closing.changes == 2
        closing.protocol.connection_lost(None)
        await _settle()

        lost = Peer()
        await _settle()
        lost.protocol.connection_lost(ConnectionResetError())
        assert not lost.offered
        await _settle()

        deflated = Peer(compression=True)  # its own compressor: frames are not shared
        await _settle()
        assert deflated.protocol.conn.extensions and not deflated.offered
        assert deflated.changes == 0
        deflated.protocol.connection_lost(None)
        await _settle()
        return peer

    peer = asyncio.run(main())
    frames = []
    for event in peer.client.events_received():
        if isinstance(event, Frame):
            frames.append((event.opcode, bytes(event.data)))
    assert frames[0] == (Opcode.BINARY, b"frame")  # the direct write reached the peer
