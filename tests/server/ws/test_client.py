"""A client's two ways to the socket -- written directly or queued for its writer -- under
any interleaving of frames, replies, a socket that fills and drains, and a kick."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from freeagentics.server.ws.client import Client
from freeagentics.server.ws.egress import deliver
from freeagentics.server.ws.wire import wire_frame


class Socket:
    """Both ways lead here, in the order they happen: ``delivered`` is what the peer reads."""

    def __init__(self) -> None:
        self.delivered: list[bytes] = []
        self.accept = True  # the socket's buffer is below its high-water mark
        self.open = asyncio.Event()  # a queued send waits while it is cleared
        self.open.set()
        self.on_change = None  # set by the client, as on the protocol's DirectWriter
        self.closed: tuple[int, str] | None = None

    @property
    def transport(self) -> Socket | None:
        return self if self.accept else None

    def set_accept(self, accept: bool) -> None:
        self.accept = accept
        if self.on_change is not None:
            self.on_change()

    def write(self, wire: bytes) -> None:  # the direct way
        assert self.closed is None, "a direct write after the close"
        self.delivered.append(wire)

    async def send(self, payload: bytes) -> None:  # the writer's way
        await self.open.wait()
        self.delivered.append(payload)

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


operations = st.lists(
    st.one_of(
        st.tuples(st.just("frame"), st.sampled_from("ab")),
        st.tuples(st.just("queue"), st.sampled_from("ab")),
        st.tuples(st.just("reply"), st.none()),
        st.tuples(st.just("accept"), st.booleans()),
        st.tuples(st.just("stall"), st.booleans()),
        st.tuples(st.just("run"), st.integers(1, 4)),
        st.tuples(st.just("kick"), st.none()),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(operations)
def test_nothing_overtakes_what_is_queued_and_direct_writes_happen_only_when_safe(ops):
    async def main():
        socket = Socket()
        client = Client(socket.send, socket.close, maxsize=4, max_lag=1000, direct=socket)
        offered: list[bytes] = []
        for seq, (op, arg) in enumerate(ops):
            if op == "frame":
                payload = f"{arg}:{seq}".encode()
                offered.append(payload)
                wire = wire_frame(payload)
                before = client.sent_direct
                assert deliver(client, arg, arg, payload, wire) == (
                    0 if client.closing else len(wire)
                )
                written = client.sent_direct - before
                assert written == (socket.delivered[-1:] == [wire])
            elif op == "queue":  # a frame its caller could not share: always queued
                payload = f"{arg}:{seq}".encode()
                offered.append(payload)
                client.offer(arg, arg, payload)
            elif op == "reply":
                payload = f"r:{seq}".encode()
                offered.append(payload)
                client.reply(payload)
            elif op == "accept":
                socket.set_accept(arg)
            elif op == "stall":
                socket.open.clear() if arg else socket.open.set()
            elif op == "run":
                for _ in range(arg):
                    await asyncio.sleep(0)
            else:
                client.kick(4000, "kicked")
            # the one attribute the fan-out reads is set exactly when a write is safe
            safe = socket.accept and client.writer is None and not client.closing
            assert (client.direct_transport is socket) == safe
            assert len(client._frames or ()) <= client.maxsize
        socket.open.set()
        for _ in range(20):
            await asyncio.sleep(0)
        return socket, client, offered

    socket, client, offered = asyncio.run(main())
    # a payload arrives as itself (sent by the writer) or framed (written directly)
    order = {p: i for i, payload in enumerate(offered) for p in (payload, wire_frame(payload))}
    replies_offered = {i for i, payload in enumerate(offered) if payload.startswith(b"r:")}
    arrived = [order[p] for p in socket.delivered]
    frames = [i for i in arrived if i not in replies_offered]
    replies = [i for i in arrived if i in replies_offered]
    assert frames == sorted(set(frames))  # frames in order, none twice (some thinned)
    assert replies == sorted(set(replies))
    if not client.closing:  # caught up: every reply arrived, and the way is direct again
        assert len(replies) == len(replies_offered)
        assert client.writer is None and (client.direct_transport is not None) == socket.accept
    assert client.sent == len(socket.delivered)
