"""The direct-write protocol's parts: frames built once, and its light queue and flag."""

from __future__ import annotations

import asyncio

import pytest
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from freeagentics.server.ws.wire import _Flag, _Inbox, wire_frame


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
