"""Egress: which subscriber gets which topic's newest frame, within a byte budget.

The hub posts every frame to a :class:`Line` -- one per topic and format: its
subscribers and the newest frame they are owed -- and :class:`Egress` hands frames to
sockets, never waiting on one:

* **Budget.** The bytes of frames written (or queued) per second are bounded by a token
  bucket that fills at ``rate`` bytes per second and holds at most ``rate *``
  :data:`BURST_S`. A delivery is made while the bucket is not empty and may overdraw it
  by its own size, so over any ``w`` seconds at most ``rate * (w + BURST_S)`` bytes and
  one delivery go out. Replies (pongs, acks, errors) are not frames and never wait for
  the budget.
* **Newest only.** A line keeps the newest frame of its topic (a coalitions line the
  newest ``backlog``, since each carries that tick's changes); a newer frame replaces
  the one a subscriber has not had yet, so a subscriber the budget did not reach in
  time gets the newest state, never a backlog. Every frame a subscriber so missed is
  counted per topic kind (:attr:`Tally.skipped <.client.Tally.skipped>`) when it is
  next served or leaves.
* **Fair among subscribers.** A line holds its subscribers in the order they were last
  served: the one that waited longest goes first and, served, goes to the back. With
  ``n`` subscribers and room for ``k`` deliveries per frame interval, each gets a frame
  at least every ``ceil(n / k)`` intervals.
* **Fair among topics.** Lines with subscribers owed a frame take turns (deficit round
  robin): a turn may send :data:`QUANTUM` bytes, carrying over what a delivery
  overdrew. While topics want more than the budget, each gets the same bytes, so one of
  small frames (metrics, coalitions, one agent) gets all it needs beside one of huge
  world frames.
* **The loop stays free.** One call writes at most :data:`TURN_BYTES` (at least one
  delivery) and :data:`TURN_DELIVERIES` deliveries; the rest follows in later turns of
  the event loop, after its other work (reads, pings, handshakes, commands).

A subscriber whose socket does not take a write now (behind, compressed or closing) has
the frame queued by its :class:`~.client.Client` instead; the queued bytes count
against the budget when they are handed over.
"""

from __future__ import annotations

import asyncio
import math
from collections import OrderedDict, deque
from collections.abc import Iterator
from typing import TYPE_CHECKING

from freeagentics.server.ws.frames import Payload

if TYPE_CHECKING:
    from freeagentics.server.ws.client import Client

__all__ = [
    "BURST_S",
    "QUANTUM",
    "TURN_BYTES",
    "TURN_DELIVERIES",
    "ByteBudget",
    "Egress",
    "Line",
    "deliver",
]

#: seconds of the budget the bucket holds: how far a quiet moment lets a burst go, and
#: how late the loop may come back before egress loses bytes of its budget
BURST_S = 0.1
#: bytes one line may send per turn among the lines that are owed frames
QUANTUM = 64 * 1024
#: bytes written per turn of the event loop (a larger delivery goes alone)
TURN_BYTES = 1 << 20
#: deliveries per turn of the event loop: ten thousand small writes are sliced too
TURN_DELIVERIES = 500


class ByteBudget:
    """A token bucket of bytes: ``rate`` per second, at most ``rate * BURST_S`` held;
    ``rate=None`` never runs out. ``clock`` gives seconds (the event loop's time)."""

    __slots__ = ("_at", "burst", "clock", "rate", "tokens")

    def __init__(self, rate: float | None, clock):
        self.rate, self.clock = rate, clock
        self.burst = math.inf if rate is None else rate * BURST_S
        self.tokens = self.burst
        self._at = clock()

    def refill(self) -> float:
        """The bytes that may go now (below zero: overdrawn by the last delivery)."""
        if self.rate is not None:
            now = self.clock()
            self.tokens = min(self.burst, self.tokens + (now - self._at) * self.rate)
            self._at = now
        return self.tokens

    def spend(self, n: int) -> None:
        if self.rate is not None:
            self.tokens -= n

    def wait_s(self) -> float:
        """Seconds until the bucket is no longer empty."""
        return 0.0 if self.rate is None else max(0.0, -self.tokens) / self.rate + 1e-4


class Line:
    """One topic's subscribers in one format, and the newest frames they are owed.

    ``clients`` maps each subscriber to the number (``seq``) of the last frame it got
    -- on joining, the frame then newest, so it waits for the next -- in the order they
    were served; the first :attr:`owed` of them have not had frame :attr:`seq` yet.
    ``frames`` holds ``(seq, payload, wire)`` of the newest ``backlog`` frames.
    """

    __slots__ = ("clients", "deficit", "frames", "in_turn", "key", "kind", "owed", "seq")

    def __init__(self, key: str, kind: str, backlog: int = 1):
        self.key, self.kind = key, kind
        self.clients: OrderedDict[Client, int] = OrderedDict()
        self.frames: deque[tuple[int, Payload, bytes]] = deque(maxlen=backlog)
        self.seq = 0  # frames posted
        self.owed = 0
        self.deficit = 0  # bytes the line may still send in its turn (below 0: overdrawn)
        self.in_turn = False

    def __len__(self) -> int:
        return len(self.clients)

    def __iter__(self) -> Iterator[Client]:
        return iter(self.clients)

    def __contains__(self, client: object) -> bool:
        return client in self.clients

    def add(self, client: Client) -> None:
        """A new subscriber: owed nothing until the next frame, then served last."""
        self.clients[client] = self.seq

    def remove(self, client: Client) -> int:
        """Forget ``client``; returns the frames it missed (replaced before it got them)."""
        seq = self.clients.pop(client, None)
        if seq is None:
            return 0
        if seq < self.seq:
            self.owed -= 1
        return self.missed(seq)

    def missed(self, seq: int) -> int:
        """Frames after ``seq`` no longer held: a subscriber at ``seq`` never gets them."""
        first = self.frames[0][0] if self.frames else self.seq + 1
        return max(0, first - seq - 1)

    def post(self, payload: Payload, wire: bytes) -> None:
        """A new frame: every subscriber is owed it, in the order they were last served."""
        self.seq += 1
        self.frames.append((self.seq, payload, wire))
        self.owed = len(self.clients)

    def serve_next(self) -> int:
        """Hand the longest-waiting owed subscriber every held frame it has not had (the
        newest, or a coalitions backlog in order), and move it to the back; returns the
        bytes handed over. Call only while :attr:`owed`."""
        clients = self.clients
        client, seq = next(iter(clients.items()))
        clients[client] = self.seq
        clients.move_to_end(client)
        self.owed -= 1
        missed = self.missed(seq)
        if missed:
            client.tally.count_skipped(self.kind, missed)
        cost = 0
        for number, payload, wire in self.frames:
            if number > seq:
                cost += deliver(client, self.key, self.kind, payload, wire)
        return cost


def deliver(client: Client, key: str, kind: str, payload: Payload, wire: bytes) -> int:
    """Write ``wire`` to ``client``'s socket if it takes a write now, else queue ``payload``
    (behind or compressed); returns the bytes handed over (0 to a closing client).

    Per subscriber one attribute read and one ``transport.write``, as in a bare
    broadcaster (see :mod:`.client`).
    """
    if client.close_code is not None:
        return 0
    transport = client.direct_transport
    if transport is None:
        client.offer(key, kind, payload)
        return len(wire)
    try:
        transport.write(wire)
    except Exception:  # a transport gone under us: the queue's send reports it
        client.offer(key, kind, payload)
        return len(wire)
    client.sent_direct += 1
    client.tally.count_sent(kind)
    return len(wire)


class Egress:
    """Sends the lines' frames on ``loop`` within ``rate`` bytes per second (None: no
    limit), fairly (see the module docstring). Every method runs on the loop's thread.

    ``bytes_sent`` counts the bytes of frames handed over, written or queued.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, rate: float | None = None):
        if rate is not None and rate <= 0:
            raise ValueError(f"the egress rate must be positive bytes per second, got {rate}")
        self.loop = loop
        self.budget = ByteBudget(rate, loop.time)
        self.bytes_sent = 0
        self._ring: OrderedDict[Line, None] = OrderedDict()  # lines owed frames, in turn
        self._wakeup: asyncio.Handle | None = None

    @property
    def rate(self) -> float | None:
        return self.budget.rate

    def post(self, line: Line, payload: Payload, wire: bytes) -> None:
        """``line``'s newest frame: send it to its subscribers as the budget allows."""
        line.post(payload, wire)
        if line.owed:
            self._ring[line] = None  # a line already waiting keeps its place
            if self._wakeup is None:
                self._wakeup = self.loop.call_soon(self._pump)

    @property
    def waiting(self) -> int:
        """Lines with subscribers owed a frame."""
        return len(self._ring)

    def _pump(self) -> None:
        """One turn: serve the lines in turn until the budget or the turn's share is spent,
        then come back when the bucket refills or after the loop's other work."""
        self._wakeup = None
        budget, ring = self.budget, self._ring
        budget.refill()
        turn_bytes = deliveries = 0
        while ring:
            line = next(iter(ring))
            if not line.in_turn:
                line.in_turn = True
                line.deficit += QUANTUM
            while line.owed and line.deficit > 0:
                if budget.tokens <= 0:
                    self._wakeup = self.loop.call_later(budget.wait_s(), self._pump)
                    return
                if turn_bytes >= TURN_BYTES or deliveries >= TURN_DELIVERIES:
                    self._wakeup = self.loop.call_soon(self._pump)
                    return
                cost = line.serve_next()
                line.deficit -= cost
                budget.spend(cost)
                turn_bytes += cost
                deliveries += 1
                self.bytes_sent += cost
            line.in_turn = False
            if line.owed:
                ring.move_to_end(line)
            else:  # caught up: no credit is banked for later, a debt is kept
                del ring[line]
                line.deficit = min(line.deficit, 0)
                line.frames.clear()  # everyone has them: a world frame is not held till the next
