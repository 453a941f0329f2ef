"""The hub without sockets: encode once, latest-wins, slow-client disconnect, release."""

from __future__ import annotations

import asyncio
import gc
import time
import weakref

import numpy as np
import orjson
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from freeagentics.loadtest.server import parse_metrics
from freeagentics.server.metrics import ServerMetrics
from freeagentics.server.ws import CLOSE_TOO_SLOW, Client, Hub, ServiceSource, Topic
from freeagentics.server.ws.egress import TURN_DELIVERIES
from freeagentics.server.ws.frames import build, decode_msgpack
from freeagentics.server.ws.metrics import MetricsSync


class Socket:
    """A fake socket: records what is sent; ``stall`` makes every send hang."""

    def __init__(self, stall: bool = False):
        self.sent: list = []
        self.closed: tuple[int, str] | None = None
        self.stall = stall
        self.release = asyncio.Event()  # ends a stall (create the socket inside the loop)

    async def send(self, payload) -> None:
        if self.stall:
            await self.release.wait()
        self.sent.append(payload)

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


def connect(hub: Hub, socket: Socket) -> Client:
    return hub.connect(socket.send, socket.close)


async def settle(rounds: int = 20) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)


def test_each_topic_is_encoded_once_and_the_same_object_goes_to_every_subscriber(service, events):
    async def main():
        hub = Hub(ServiceSource(service), frame_rate_hz=1e6)
        sockets = [Socket() for _ in range(3)]
        clients = [connect(hub, s) for s in sockets]
        world = Topic("world", "1")
        hub.subscribe(clients[0], world, "json")
        hub.subscribe(clients[1], world, "json")
        hub.subscribe(clients[2], world, "msgpack")
        service.emit(1, events(7))
        await settle()
        return sockets

    a, b, c = asyncio.run(main())
    assert len(a.sent) == len(b.sent) == len(c.sent) == 1
    assert a.sent[0] is b.sent[0]  # one encoding, shared
    assert isinstance(a.sent[0], str) and isinstance(c.sent[0], bytes)
    as_json, as_msgpack = orjson.loads(a.sent[0]), decode_msgpack(c.sent[0])
    assert as_json["tick"] == as_msgpack["tick"] == 7
    assert as_json["data"]["n"] == as_msgpack["data"]["n"] == 5


def test_messagepack_world_frame_round_trips_typed_arrays(service, events):
    async def main():
        hub = Hub(ServiceSource(service), frame_rate_hz=1e6)
        socket = Socket()
        client = connect(hub, socket)
        hub.subscribe(client, Topic("world", "1"), "msgpack")
        service.emit(1, events(3, n=6))
        await settle()
        return socket.sent

    (payload,) = asyncio.run(main())
    frame = decode_msgpack(payload)
    data = frame["data"]
    pos = data["positions"]
    assert pos["dtype"] == "int16" and pos["shape"] == [6, 2]
    positions = np.frombuffer(pos["data"], "<i2").reshape(pos["shape"])
    np.testing.assert_array_equal(positions, events(3, n=6).positions)
    kinds = np.frombuffer(data["kinds"]["data"], np.uint8)
    assert [data["kind_names"][k] for k in kinds] == ["explorer", "collector"] * 3
    assert data["coalition"]["dtype"] == "int16"  # every coalition id fits
    np.testing.assert_array_equal(
        np.frombuffer(data["coalition"]["data"], "<i2"), [0, 0, -1, -1, -1, -1]
    )
    assert len(payload) < 6 * 15 + 400  # 15 bytes an agent, and the frame's names


def test_world_arrays_widen_to_int32_only_when_a_value_does_not_fit_int16(events):
    batch = events(1, n=4)
    batch.coalition[:] = [-1, 3, 40_000, 3]
    batch.positions[0] = (-40_000, 5)
    data = build(Topic("world", "1"), batch)["data"]
    assert data["coalition"]["dtype"] == data["positions"]["dtype"] == "int32"
    np.testing.assert_array_equal(
        np.frombuffer(data["coalition"]["data"], "<i4"), [-1, 3, 40_000, 3]
    )
    narrow = build(Topic("world", "1"), events(1, n=4))["data"]
    assert narrow["coalition"]["dtype"] == narrow["positions"]["dtype"] == "int16"


def test_a_queued_frame_gives_way_to_its_topics_newer_one_and_coalition_changes_are_kept():
    async def main():
        client = Client(Socket().send, Socket().close, maxsize=3, max_lag=100)
        client.offer("w", "world", "w1")
        client.offer("m", "metrics", "m1")
        client.offer("w", "world", "w2")  # w1 goes: the newest world frame, behind m1
        replaced = [p for _, _, p in client._frames]
        client.offer("c", "coalitions", "c1")
        client.offer("c", "coalitions", "c2")  # full: the oldest coalitions frame goes
        full = [p for _, _, p in client._frames]
        client.offer("a", "agent", "a1")  # full, no agent frame queued: the oldest (m1) goes
        return replaced, full, [p for _, _, p in client._frames], client

    replaced, full, after, client = asyncio.run(main())
    assert replaced == ["m1", "w2"]
    assert full == ["m1", "w2", "c2"]
    assert after == ["w2", "c2", "a1"]
    assert client.dropped == 3
    assert client.tally.dropped == {"world": 1, "coalitions": 1, "metrics": 1}


def test_coalition_frames_queue_while_there_is_room():
    async def main():
        client = Client(Socket().send, Socket().close, maxsize=3, max_lag=100)
        for payload in ("c1", "c2", "c3"):
            client.offer("c", "coalitions", payload)
        return [p for _, _, p in client._frames], client

    queued, client = asyncio.run(main())
    assert queued == ["c1", "c2", "c3"] and client.dropped == 0


def test_slow_client_is_disconnected_while_fast_client_gets_every_frame_and_ticks_stay_fast(
    service, events
):
    ticks = 300

    async def main():
        hub = Hub(ServiceSource(service), frame_rate_hz=1e6, queue_size=8, max_lag=50)
        fast, slow = Socket(), Socket(stall=True)
        fast_client = connect(hub, fast)
        slow_client = connect(hub, slow)
        world = Topic("world", "1")
        hub.subscribe(fast_client, world, "msgpack")
        hub.subscribe(slow_client, world, "msgpack")
        tick_times = []
        for t in range(1, ticks + 1):
            start = time.perf_counter()
            service.emit(1, events(t))
            tick_times.append(time.perf_counter() - start)
            await settle(4)
        await settle()
        return fast, slow, slow_client, tick_times, hub

    fast, slow, slow_client, tick_times, _ = asyncio.run(main())
    assert [decode_msgpack(p)["tick"] for p in fast.sent] == list(range(1, ticks + 1))
    assert slow.closed is not None and slow.closed[0] == CLOSE_TOO_SLOW
    assert "too slow" in slow.closed[1]
    assert slow_client.dropped > 50
    # the publisher's cost does not depend on the stalled client (encode + one append each)
    assert max(tick_times) < 0.05, max(tick_times)


def test_disconnect_releases_queues_topics_and_the_tick_subscription(service, events):
    async def main():
        hub = Hub(ServiceSource(service), frame_rate_hz=1e6)
        socket = Socket(stall=True)
        client = connect(hub, socket)
        for topic in (Topic("world", "1"), Topic("agent", "1", 3), Topic("metrics", "1")):
            hub.subscribe(client, topic, "json")
        assert service.callbacks and hub.feed_count() == 1 and hub.topic_count() == 3
        for t in range(10):
            service.emit(1, events(t))
        await settle()
        assert client.depth > 0
        ref = weakref.ref(client)
        writer = client.writer
        assert writer is not None  # stuck in a send to the stalled socket
        hub.disconnect(client)
        await settle()
        await asyncio.sleep(0.05)  # the unsubscribe runs in the default executor
        assert writer.done() and socket.closed == (1000, "bye")
        del client, writer
        return hub, ref

    hub, ref = asyncio.run(main())
    gc.collect()
    assert ref() is None  # nothing (hub, feed, source) holds the client any more
    assert not hub.clients and hub.topic_count() == 0 and hub.feed_count() == 0
    assert not service.callbacks and service.unsubscribed == [1]


def test_unknown_simulation_is_refused_and_leaves_nothing_behind(service):
    async def main():
        hub = Hub(ServiceSource(service))
        client = connect(hub, Socket())
        try:
            hub.subscribe(client, Topic("world", "99"), "json")
        except KeyError as exc:
            return hub, client, exc
        raise AssertionError("subscribe to an unknown simulation succeeded")

    hub, client, exc = asyncio.run(main())
    assert "99" in str(exc)
    assert hub.topic_count() == 0 and hub.feed_count() == 0 and not client.topics


def test_frames_are_rate_limited_but_coalition_changes_are_not(service, events):
    async def main():
        hub = Hub(ServiceSource(service), frame_rate_hz=1.0)
        socket = Socket()
        client = connect(hub, socket)
        hub.subscribe(client, Topic("world", "1"), "json")
        hub.subscribe(client, Topic("coalitions", "1"), "json")
        for t in range(1, 6):
            change = {"kind": np.array([1]), "coalition": np.array([t])} if t % 2 else None
            service.emit(1, events(t, coalition_events=change))
        await settle()
        return [orjson.loads(p) for p in socket.sent]

    frames = asyncio.run(main())
    world = [f["tick"] for f in frames if f["topic"] == "world"]
    coalitions = [f["tick"] for f in frames if f["topic"] == "coalitions"]
    assert world == [1]
    assert coalitions == [1, 3, 5]
    assert frames[-1]["data"]["changes"] == {"kind": [1], "coalition": [5]}
    assert frames[-1]["data"]["sizes"] == {"0": 2}


def test_agent_metrics_and_knowledge_topics(service, events):
    async def main():
        hub = Hub(ServiceSource(service), frame_rate_hz=1e6)
        socket = Socket()
        client = connect(hub, socket)
        for topic in (Topic("agent", "1", 3), Topic("metrics", "1"), Topic("knowledge", "1")):
            hub.subscribe(client, topic, "json")
        service.emit(1, events(1))
        await settle()
        service.emit(1, events(2))  # knowledge unchanged: no second knowledge frame
        await settle()
        return [orjson.loads(p) for p in socket.sent]

    frames = asyncio.run(main())
    by_topic: dict[str, list] = {}
    for f in frames:
        by_topic.setdefault(f["topic"], []).append(f)
    agent = by_topic["agent"][0]
    assert agent["agent_id"] == 3 and agent["data"]["position"] == [4, 6]
    assert (
        agent["data"]["kind"] == "collector" and agent["data"]["metrics"]["belief_entropy"] == 0.5
    )
    assert by_topic["metrics"][0]["data"]["means"]["belief_entropy"] == 0.5
    assert [f["data"] for f in by_topic["knowledge"]] == [{"version": 1, "nodes": 10, "edges": 20}]


class Direct:
    """A fake direct writer: offers its own transport, which records frames, while
    ``accept`` is set (a socket with room); flipping it tells the client, as the protocol
    does."""

    def __init__(self) -> None:
        self.wires: list[bytes] = []
        self.transport: Direct | None = self
        self.on_change = None

    def write(self, wire: bytes) -> None:
        self.wires.append(wire)

    @property
    def accept(self) -> bool:
        return self.transport is not None

    @accept.setter
    def accept(self, value: bool) -> None:
        self.transport = self if value else None
        if self.on_change is not None:
            self.on_change()


def unframe(wire: bytes) -> tuple[Opcode, bytes]:
    """The opcode and payload of one unmasked server frame (websockets' own parser)."""
    reader = StreamReader()
    reader.feed_data(wire)
    parser = Frame.parse(reader.read_exact, mask=False)
    try:
        next(parser)
    except StopIteration as done:
        frame = done.value
    else:
        raise AssertionError("incomplete frame")
    assert not reader.buffer  # exactly one frame
    return frame.opcode, bytes(frame.data)


def test_a_pong_goes_ahead_of_the_frames_queued_for_a_client_that_is_behind(service, events):
    async def main():
        hub = Hub(ServiceSource(service), frame_rate_hz=1e6)
        socket = Socket(stall=True)  # its first send hangs: frames queue behind it
        client = connect(hub, socket)
        hub.subscribe(client, Topic("world", "1"), "json")
        hub.subscribe(client, Topic("metrics", "1"), "json")
        service.emit(1, events(1))
        await settle()
        service.emit(1, events(2))  # world and metrics of tick 2 wait in the queue
        await settle()
        assert client.depth == 2
        client.reply('{"type":"pong"}')
        socket.stall = False
        socket.release.set()
        await settle()
        return [orjson.loads(p) for p in socket.sent]

    sent = asyncio.run(main())
    kinds = [m.get("topic", m["type"]) for m in sent]
    # the frame already being sent, then the pong, then the queued frames
    assert kinds[1] == "pong" and kinds.count("pong") == 1
    assert sorted(kinds[2:]) == ["metrics", "world"]
    assert [m["tick"] for m in sent[2:]] == [2, 2]


def test_direct_writes_skip_the_queue_and_never_overtake_what_is_queued(service, events):
    async def main():
        hub = Hub(ServiceSource(service), frame_rate_hz=1e6)
        socket, direct = Socket(stall=True), Direct()
        client = hub.connect(socket.send, socket.close, direct=direct)
        hub.subscribe(client, Topic("world", "1"), "msgpack")
        client.reply("ack")
        service.emit(1, events(1))
        await settle()
        assert client.writer is None  # nothing queued: no task at all
        direct.accept = False  # the socket's buffer is above its high-water mark
        service.emit(1, events(2))
        await settle()  # the writer now waits in its send of tick 2
        direct.accept = True
        service.emit(1, events(3))  # tick 3 must queue behind the send of tick 2
        await settle()
        socket.stall = False
        socket.release.set()
        await settle()
        service.emit(1, events(4))  # caught up: direct again
        await settle()
        hub.disconnect(client)  # no writer runs: one is started to send the close
        await settle()
        return hub, socket, direct, client

    hub, socket, direct, client = asyncio.run(main())
    (op, text), *frames = [unframe(w) for w in direct.wires]
    assert (op, text) == (Opcode.TEXT, b"ack")
    assert [op for op, _ in frames] == [Opcode.BINARY, Opcode.BINARY]
    assert [decode_msgpack(p)["tick"] for _, p in frames] == [1, 4]
    assert [decode_msgpack(p)["tick"] for p in socket.sent] == [2, 3]
    assert client.sent == 5 and client.sent_direct == 3
    assert hub.sent_by_topic() == {"reply": 1, "world": 4} and hub.sent_total == 5
    assert socket.closed == (1000, "bye") and client.writer.done()


def test_a_loop_that_falls_behind_gets_the_newest_frame_not_a_backlog(service, events):
    async def main():
        hub = Hub(ServiceSource(service), frame_rate_hz=1e6)
        socket = Socket()
        client = connect(hub, socket)
        hub.subscribe(client, Topic("world", "1"), "json")
        hub.subscribe(client, Topic("coalitions", "1"), "json")
        for t in range(1, 41):  # forty ticks while the loop is busy elsewhere
            change = {"kind": np.array([1]), "coalition": np.array([t])}
            service.emit(1, events(t, coalition_events=change))
        await settle(100)  # 41 frames: at least one loop turn each
        metrics = ServerMetrics()
        MetricsSync(hub, metrics).update()
        return hub, [orjson.loads(p) for p in socket.sent], parse_metrics(metrics.render().decode())

    hub, frames, exported = asyncio.run(main())
    assert [f["tick"] for f in frames if f["topic"] == "world"] == [40]
    assert [f["tick"] for f in frames if f["topic"] == "coalitions"] == list(range(1, 41))
    assert hub.frames_superseded == 39
    assert exported["freeagentics_frames_superseded_total"] == 39
    assert exported['freeagentics_messages_sent_total{topic="coalitions"}'] == 40
    assert exported['freeagentics_messages_sent_total{topic="world"}'] == 1


def test_a_frame_for_many_subscribers_goes_out_in_slices_and_a_newer_one_replaces_it(
    service, events
):
    n = 3 * TURN_DELIVERIES

    async def main():
        hub = Hub(ServiceSource(service), frame_rate_hz=1e6)
        writers = [Direct() for _ in range(n)]
        for direct in writers:
            client = hub.connect(Socket().send, Socket().close, direct=direct)
            hub.subscribe(client, Topic("world", "1"), "msgpack")
        service.emit(1, events(1))
        progress = []  # clients holding frame 1, as other work on the loop sees it
        newer_sent = False
        while len(progress) < 50 and (not progress or progress[-1] < n):
            progress.append(sum(1 for d in writers if d.wires))
            if 0 < progress[-1] < n and not newer_sent:
                service.emit(1, events(2))  # a newer frame while the first is under way
                newer_sent = True
            await asyncio.sleep(0)
        await settle(50)
        return progress, writers, hub

    progress, writers, hub = asyncio.run(main())
    assert any(0 < p < n for p in progress)  # other work ran between the slices
    ticks = [[decode_msgpack(unframe(w)[1])["tick"] for w in d.wires] for d in writers]
    # those the first frame had not reached get the newer one only, never a stale one
    assert all(t in ([1, 2], [2]) for t in ticks)
    missed = sum(1 for t in ticks if t == [2])
    assert 0 < missed < n and hub.skipped_by_topic() == {"world": missed}
