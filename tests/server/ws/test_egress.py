"""Egress in simulated time: the byte budget holds, subscribers and topics share it fairly,
only the newest frame of a topic goes out, and the loop is free between slices."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import socket
from collections import deque

import pytest

from freeagentics.server.ws.client import Client, Tally
from freeagentics.server.ws.egress import (
    BURST_S,
    TURN_BYTES,
    TURN_DELIVERIES,
    Egress,
    Line,
)


class SimLoop:
    """The two calls egress makes of a loop, in simulated time: ``call_soon`` callbacks
    run in turns, ``call_later`` ones once :meth:`run_until` reaches their time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.turns = 0
        self.posted: dict[str, int] = {}  # frames posted per line (kept by run_feed)
        self._ready: deque = deque()
        self._timers: list = []
        self._seq = itertools.count()

    def time(self) -> float:
        return self.now

    def call_soon(self, fn, *args):
        self._ready.append((fn, args))
        return fn

    def call_later(self, delay: float, fn, *args):
        heapq.heappush(self._timers, (self.now + delay, next(self._seq), fn, args))
        return fn

    def run_until(self, t: float) -> None:
        while True:
            for _ in range(len(self._ready)):  # one turn: what was ready when it began
                fn, args = self._ready.popleft()
                self.turns += 1
                fn(*args)
            if self._ready:
                continue
            if self._timers and self._timers[0][0] <= t:
                when, _, fn, args = heapq.heappop(self._timers)
                self.now = max(self.now, when)
                self._ready.append((fn, args))
                continue
            self.now = t
            return


class Socket:
    """A socket that always takes a write, recording ``(time, loop turn, bytes, line,
    frames of the line posted by then)`` of each in ``log`` (shared by all sockets of a
    test) and the payloads in ``got``."""

    def __init__(self, loop: SimLoop, log: list, name: str = "") -> None:
        self.loop, self.log, self.name = loop, log, name
        self.transport = self
        self.on_change = None
        self.got: list[bytes] = []
        self.writes: list[tuple[float, int, int]] = []  # (time, frame number, newest posted)

    def write(self, wire: bytes) -> None:
        posted = self.loop.posted.get(self.name, 0)
        self.log.append((self.loop.now, self.loop.turns, len(wire), self.name, posted))
        self.got.append(wire)
        self.writes.append((self.loop.now, int(wire.split(b":")[1]), posted))

    async def send(self, payload) -> None:  # never used: the socket always takes a write
        raise AssertionError("queued")

    async def close(self, code: int, reason: str) -> None:
        pass


def subscribers(line: Line, n: int, loop: SimLoop, log: list, tally: Tally) -> list[Socket]:
    sockets = [Socket(loop, log, line.key) for _ in range(n)]
    for s in sockets:
        line.add(Client(s.send, s.close, direct=s, tally=tally))
    return sockets


def frame(tag: str, seq: int, size: int) -> bytes:
    """A frame that names its topic and number, padded to ``size`` bytes."""
    head = f"{tag}:{seq}:".encode()
    return head + b"." * (size - len(head))


def numbers(sock: Socket) -> list[int]:
    return [int(w.split(b":")[1]) for w in sock.got]


def run_feed(egress: Egress, loop: SimLoop, lines, seconds: float, rate_hz: float = 10.0):
    """Post a frame of every ``(line, size)`` each 1/rate_hz s for ``seconds`` (simulated)."""
    posted = loop.posted
    for step in range(int(seconds * rate_hz)):
        loop.run_until(step / rate_hz)
        for line, size in lines:
            posted[line.key] = posted.get(line.key, 0) + 1
            payload = frame(line.key, posted[line.key], size)
            egress.post(line, payload, payload)
    loop.run_until(seconds)
    return dict(posted)


# ------------------------------------------------------------------ the budget
@pytest.mark.parametrize("rate", [200_000, 1_000_000, 7_000_000])
def test_bytes_written_in_any_window_stay_within_the_budget_plus_one_frame(rate):
    loop, log, tally = SimLoop(), [], Tally()
    egress = Egress(loop, rate)
    world, metrics = Line("world/1", "world"), Line("metrics/1", "metrics")
    subscribers(world, 40, loop, log, tally)
    subscribers(metrics, 40, loop, log, tally)
    world_size, seconds = 120_000, 10.0
    run_feed(egress, loop, [(world, world_size), (metrics, 900)], seconds)

    times = [t for t, *_ in log]
    sizes = [entry[2] for entry in log]
    prefix = list(itertools.accumulate(sizes, initial=0))
    slack = rate * BURST_S + world_size  # the bucket's burst and one overdrawing delivery
    for i in range(len(log)):  # every window from one write to a later one
        for j in range(i, len(log)):
            written = prefix[j + 1] - prefix[i]
            assert written <= rate * (times[j] - times[i]) + slack, (i, j, written)
    # the budget is used, not just respected: demand is far above it
    assert sum(sizes) >= 0.9 * rate * seconds
    assert egress.bytes_sent == sum(sizes)


def test_a_frame_larger_than_the_bucket_still_goes_out():
    loop, log, tally = SimLoop(), [], Tally()
    egress = Egress(loop, 100_000)  # the bucket holds 5 000 bytes
    line = Line("world/1", "world")
    sockets = subscribers(line, 3, loop, log, tally)
    run_feed(egress, loop, [(line, 60_000)], seconds=3.0)
    assert all(numbers(s) for s in sockets)  # every subscriber got frames
    assert sum(entry[2] for entry in log) <= 100_000 * 3.0 + 100_000 * BURST_S + 60_000


# ------------------------------------------------------------------ fairness, newest only
def test_every_subscriber_gets_the_newest_frame_within_a_bounded_number_of_intervals():
    n, size, per_interval = 60, 50_000, 4  # room for 4 deliveries per 0.1 s frame interval
    seconds = 30.0
    loop, log, tally = SimLoop(), [], Tally()
    egress = Egress(loop, per_interval * size * 10)
    line = Line("world/1", "world")
    sockets = subscribers(line, n, loop, log, tally)
    run_feed(egress, loop, [(line, size)], seconds)

    bound = (math.ceil(n / per_interval) + 1) * 0.1  # a round of all of them, and one interval
    for sock in sockets:
        # newest only: what a subscriber is handed is the frame newest at that moment
        assert all(number == newest for _, number, newest in sock.writes)
        got = numbers(sock)
        assert got == sorted(set(got))  # each frame once, in order
        # fair: no subscriber waits more than a round between two frames
        times = [0.0] + [t for t, _, _ in sock.writes] + [seconds]
        assert max(b - a for a, b in itertools.pairwise(times)) <= bound
    # the budget was the limit: most frames were missed, and each counted as skipped
    missed = sum(numbers(s)[-1] - len(s.got) for s in sockets)
    assert tally.skipped == {"world": missed} and missed > n * 300 // 2


def test_the_subscriber_that_waited_longest_is_served_first():
    loop, log, tally = SimLoop(), [], Tally()
    size = 10_000
    egress = Egress(loop, size * 20)  # one delivery per 50 ms
    line = Line("world/1", "world")
    sockets = subscribers(line, 5, loop, log, tally)
    order = []
    for s in sockets:
        s.write = (lambda sock: lambda wire: order.append(sock))(s)
    for step in range(40):
        loop.run_until(step * 0.05)
        payload = frame("world/1", step + 1, size)
        egress.post(line, payload, payload)
    loop.run_until(2.0)
    # round robin: each subscriber once before any twice, in the same order every round
    first_round = order[:5]
    assert sorted(map(id, first_round)) == sorted(map(id, sockets))
    assert order == (first_round * 10)[: len(order)] and len(order) >= 30


def test_a_subscriber_that_joins_waits_for_the_next_frame_and_one_that_leaves_is_forgotten():
    loop, log, tally = SimLoop(), [], Tally()
    egress = Egress(loop, None)
    line = Line("world/1", "world")
    (early,) = subscribers(line, 1, loop, log, tally)
    egress.post(line, b"w:1:", b"w:1:")
    late = Socket(loop, log)
    late_client = Client(late.send, late.close, direct=late, tally=tally)
    line.add(late_client)  # joins while frame 1 is owed to the first
    loop.run_until(1.0)
    assert numbers(early) == [1] and late.got == []
    egress.post(line, b"w:2:", b"w:2:")
    egress.post(line, b"w:3:", b"w:3:")  # replaces 2 before anyone got it
    assert line.owed == 2
    assert line.remove(late_client) == 1 and line.owed == 1  # it missed frame 2
    loop.run_until(2.0)
    assert numbers(early) == [1, 3] and late.got == []
    assert tally.skipped == {"world": 1}  # early's frame 2 (late's is counted by its owner)


def test_a_coalitions_line_keeps_its_backlog_and_sends_it_in_order():
    loop, log, tally = SimLoop(), [], Tally()
    egress = Egress(loop, None)
    line = Line("coalitions/1", "coalitions", backlog=3)
    (sock,) = subscribers(line, 1, loop, log, tally)
    for seq in range(1, 6):  # five frames before the loop turns: the first two fall out
        egress.post(line, b"c:%d:" % seq, b"c:%d:" % seq)
    loop.run_until(1.0)
    assert numbers(sock) == [3, 4, 5]
    assert tally.skipped == {"coalitions": 2}
    assert not line.frames  # all delivered: the line holds no frame until the next


# ------------------------------------------------------------------ topics share the budget
def test_small_topics_get_all_they_need_beside_a_flood_of_huge_world_frames():
    rate, seconds = 4_000_000, 10.0
    loop, log, tally = SimLoop(), [], Tally()
    egress = Egress(loop, rate)
    world = Line("world/1", "world")
    metrics = Line("metrics/1", "metrics")
    agent = Line("agent/1/7", "agent")
    world_socks = subscribers(world, 200, loop, log, tally)  # wants 200 MB/s of 100 kB
    metric_socks = subscribers(metrics, 100, loop, log, tally)  # wants 0.8 MB/s
    agent_socks = subscribers(agent, 5, loop, log, tally)
    posted = run_feed(egress, loop, [(world, 100_000), (metrics, 800), (agent, 300)], seconds)
    # each small topic's subscribers got every frame (the last may still be on its way)
    for sock in metric_socks:
        assert numbers(sock)[: posted["metrics/1"] - 1] == list(range(1, posted["metrics/1"]))
    for sock in agent_socks:
        assert numbers(sock)[: posted["agent/1/7"] - 1] == list(range(1, posted["agent/1/7"]))
    assert "metrics" not in tally.skipped and "agent" not in tally.skipped
    # and the world's subscribers shared what was left, every one of them served
    world_bytes = sum(e[2] for e in log if e[3] == "world/1")
    assert world_bytes >= 0.9 * (rate * seconds - 800 * 100 * 100 - 300 * 5 * 100)
    assert all(len(s.got) >= 1 for s in world_socks)
    assert tally.skipped["world"] > 0


def test_two_huge_topics_share_the_budget_evenly():
    rate, seconds = 2_000_000, 10.0
    loop, log, tally = SimLoop(), [], Tally()
    egress = Egress(loop, rate)
    a, b = Line("world/1", "world"), Line("world/2", "world")
    subscribers(a, 50, loop, log, tally)  # frames of 200 kB
    subscribers(b, 50, loop, log, tally)  # frames of 20 kB: ten times as many deliveries
    run_feed(egress, loop, [(a, 200_000), (b, 20_000)], seconds)
    by_topic = {"world/1": 0, "world/2": 0}
    for entry in log:
        by_topic[entry[3]] += entry[2]
    assert abs(by_topic["world/1"] - by_topic["world/2"]) <= 0.1 * sum(by_topic.values())


# ------------------------------------------------------------------ the loop stays free
def test_one_turn_of_the_loop_writes_a_bounded_share():
    loop, log, tally = SimLoop(), [], Tally()
    egress = Egress(loop, None)  # no budget: only the turn's bound
    big, small = Line("world/1", "world"), Line("metrics/1", "metrics")
    subscribers(big, 40, loop, log, tally)
    subscribers(small, 3 * TURN_DELIVERIES, loop, log, tally)
    egress.post(big, b"w:1:" + b"." * 300_000, b"w:1:" + b"." * 300_000)
    egress.post(small, b"m:1:", b"m:1:")
    loop.run_until(1.0)
    per_turn: dict[int, list[int]] = {}
    for entry in log:
        per_turn.setdefault(entry[1], []).append(entry[2])
    assert len(log) == 40 + 3 * TURN_DELIVERIES  # everyone served, in several turns
    for sizes in per_turn.values():
        assert sum(sizes) <= TURN_BYTES + 300_004 and len(sizes) <= TURN_DELIVERIES


def test_a_rate_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        Egress(SimLoop(), 0)


# ------------------------------------------------------------------ on a real event loop
def test_a_ping_arriving_mid_flood_is_answered_after_at_most_a_turn_of_frames():
    """Unlimited budget, 1 MB frames to 300 subscribers: a ping read from a real socket
    while the flood is under way is answered (written) long before the flood ends."""
    from freeagentics.server.ws import Hub, Topic

    from .conftest import FakeService, make_events

    size, n = 1_000_000, 300

    async def main():
        service = FakeService()
        from freeagentics.server.ws import ServiceSource

        hub = Hub(ServiceSource(service), frame_rate_hz=1e6)
        loop = asyncio.get_running_loop()
        log: list[tuple[str, int]] = []
        reader, writer = socket.socketpair()
        reader.setblocking(False)

        class Direct:
            def __init__(self, name: str) -> None:
                self.name, self.transport, self.on_change = name, self, None

            def write(self, wire: bytes) -> None:
                log.append((self.name, len(wire)))
                if len(log) == 2:  # the flood is under way: a ping comes in
                    writer.send(b"ping")
                    log.append(("ping", 0))

        pinger = hub.connect(None, None, direct=Direct("pong"))
        for i in range(n):
            client = hub.connect(None, None, direct=Direct(f"s{i}"))
            hub.subscribe(client, Topic("world", "1"), "msgpack")

        def on_ping() -> None:
            reader.recv(16)
            pinger.reply(b'{"type":"pong"}')

        loop.add_reader(reader, on_ping)
        big = make_events(1, n=size // 17)
        service.emit(1, big)
        while sum(1 for name, _ in log if name.startswith("s")) < n:
            await asyncio.sleep(0)
        loop.remove_reader(reader)
        reader.close()
        writer.close()
        return log

    log = asyncio.run(main())
    names = [name for name, _ in log]
    ping, pong = names.index("ping"), names.index("pong")
    between = sum(n for name, n in log[ping:pong] if name.startswith("s"))
    frame_bytes = max(n for name, n in log if name.startswith("s"))
    assert between <= 2 * TURN_BYTES + 2 * frame_bytes  # this turn and the next, at most
    after = sum(1 for name in names[pong:] if name.startswith("s"))
    assert after >= n - 10  # the flood was far from done
