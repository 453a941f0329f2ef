"""The hub: topics, the client registry, and fan-out of frames encoded once per topic.

A simulation's tick batches reach the hub through a :class:`TickSource` subscription
that exists only while some client (here, or in another process via Redis) wants one
of its topics. The batch is turned into frames on the source's consumer thread (off
the simulation's tick and off the event loop), each topic encoded once per format that
has a subscriber, and the payloads are handed to the loop, which frames each payload
once and posts it to the topic's :class:`~.egress.Line`: :class:`~.egress.Egress` writes
the same bytes to every subscriber's socket (or, for a client that is behind or
compressed, appends the payload to its queue) within the server's egress budget, the
newest frame of each topic to the subscriber that waited longest first, topics taking
turns. Nothing here waits on a socket.

Frames are rate-limited to ``frame_rate_hz`` per simulation; coalition frames that carry
changes are never skipped. When the loop falls behind (more subscribers than it can
write to in a frame interval), frames do not pile up on it: each simulation has at most
one batch waiting for the loop, and a newer frame of a topic replaces a waiting one
(counted in ``frames_superseded``), so memory stays bounded and subscribers get the
newest state at the rate the loop can sustain. Egress writes a bounded share per turn
of the loop (:data:`~.egress.TURN_BYTES`, :data:`~.egress.TURN_DELIVERIES`), so that
with thousands of subscribers new connections, pings and commands are still served
between the slices.

When the simulations live in another process (a host process, see
:mod:`freeagentics.server.hostproc`), this hub follows no simulation itself: every topic
comes through the relay (:meth:`Hub.relay_frame`, posted like a feed's frames, a newer
frame superseding a waiting one), and :meth:`Hub.admit` asks
:attr:`Hub.verify` off the loop whether a simulation exists before a client subscribes.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from freeagentics.errors import LimitError, UnknownIdError
from freeagentics.server.ws import frames
from freeagentics.server.ws.client import Client, Tally
from freeagentics.server.ws.egress import Egress, Line
from freeagentics.server.ws.frames import KEEP_EVERY_FRAME, Format, Payload, Topic
from freeagentics.server.ws.framing import wire_frame

if TYPE_CHECKING:  # the host process's headless hub loads no server protocol, and an
    # API process's hub, which relays frames, no simulation (nor numpy)
    from freeagentics.server.ws.wire import DirectWriter
    from freeagentics.simulation._events import TickEvents

__all__ = ["Hub", "Relay", "TickSource"]


class TickSource(Protocol):
    """Where tick batches come from (the simulation service, or a fake in tests)."""

    def check(self, sim_id: str) -> None:
        """Raise :class:`UnknownIdError` unless ``sim_id`` is here."""

    def subscribe(self, sim_id: str, callback: Callable[[TickEvents], None]) -> Any:
        """Start delivering ``sim_id``'s batches; :class:`UnknownIdError` if it is not here."""

    def unsubscribe(self, sim_id: str, handle: Any) -> None:
        """Stop the delivery started by :meth:`subscribe` and release its thread."""

    def knowledge(self, sim_id: str) -> tuple[int, int, int] | None:
        """The knowledge graph's ``(version, nodes, edges)``, or None when there is none."""


class Relay(Protocol):
    """Cross-process fan-out (see :mod:`freeagentics.server.ws.redis_fanout`)."""

    def publish(self, key: str, payload: bytes) -> None: ...

    def want(self, key: str) -> None: ...

    def unwant(self, key: str) -> None: ...


@dataclass(eq=False)
class _TopicState:
    topic: Topic
    #: the subscribers per format, and the frames they are owed (coalitions: ``backlog``)
    subscribers: dict[str, Line] = field(init=False)
    backlog: int = 1
    remote_interest: bool = False  # another process wants it (we own the simulation)
    remote_source: bool = False  # another process owns the simulation; frames come by relay

    def __post_init__(self) -> None:
        key, kind = self.topic.key, self.topic.kind
        backlog = self.backlog if kind in KEEP_EVERY_FRAME else 1
        self.subscribers = {f: Line(key, kind, backlog) for f in frames.FORMATS}

    @property
    def empty(self) -> bool:
        return not self.remote_interest and not any(self.subscribers.values())


#: threads asking :attr:`Hub.verify` at once (a host answers each at once; a long
#: command in the loop's default executor never holds a subscription up)
VERIFY_THREADS = 4

#: one topic's frame for the loop: (topic key, payload per format, MessagePack for Redis)
_Frame = tuple[str, dict[str, Payload], bytes | None]


@dataclass(eq=False)
class _Feed:
    """One simulation's subscription and the topics drawn from it."""

    handle: Any
    topics: tuple[_TopicState, ...] = ()
    next_frame: float = float("-inf")
    knowledge_version: int = -1
    #: frames built but not yet posted by the loop, in order (see the module docstring)
    pending: list[_Frame] = field(default_factory=list)


class Hub:
    """Topics, clients and fan-out. Create it inside the running event loop.

    Args:
        source: where tick batches come from.
        frame_rate_hz: most frames per second and simulation.
        queue_size, max_lag: each client's queue bound and lag limit (:class:`Client`).
        max_subscriptions: topics one client may hold at once.
        max_feeds: simulations followed at once (each feed is one consumer thread), and
            topics brought from other processes at once.
        egress_bytes_per_s: most bytes of frames written (or queued) per second, shared
            fairly among subscribers and topics (see :mod:`.egress`); None: no limit.
        relay: set by :class:`~freeagentics.server.ws.redis_fanout.RedisFanout` (or a
            host relay) to share frames with other processes.
    """

    def __init__(
        self,
        source: TickSource,
        *,
        frame_rate_hz: float = 10.0,
        queue_size: int = 64,
        max_lag: int = 256,
        max_subscriptions: int = 64,
        max_feeds: int = 256,
        egress_bytes_per_s: float | None = None,
    ):
        self.source = source
        self.max_subscriptions, self.max_feeds = max_subscriptions, max_feeds
        self.min_interval = 1.0 / frame_rate_hz
        self.queue_size, self.max_lag = queue_size, max_lag
        self.relay: Relay | None = None
        #: set when simulations live elsewhere: ``verify(sim_id)`` raises UnknownIdError
        #: unless one exists anywhere (it blocks: :meth:`admit` runs it off the loop)
        self.verify: Callable[[str], None] | None = None
        self._verifier: ThreadPoolExecutor | None = None
        self._relayed = _Feed(handle=None)  # frames from the relay, waiting for the loop
        self.loop = asyncio.get_running_loop()
        self.egress = Egress(self.loop, egress_bytes_per_s)
        self.clients: set[Client] = set()
        self._topics: dict[str, _TopicState] = {}
        self._feeds: dict[str, _Feed] = {}
        #: messages sent and dropped per kind, by every client this hub has had
        self.tally = Tally()
        self.frames_published = 0
        #: frames replaced by a newer frame of their topic before the loop could send them
        self.frames_superseded = 0
        self._pending_lock = threading.Lock()
        #: how many clients left with each close code (1000: they or the server said bye)
        self.close_codes: dict[int, int] = {}

    # ------------------------------------------------------------------ clients
    def connect(
        self, send, close, principal: Any = None, direct: DirectWriter | None = None
    ) -> Client:
        """Register a client (arguments as for :class:`Client`); the caller later calls
        :meth:`disconnect`."""
        client = Client(
            send,
            close,
            maxsize=self.queue_size,
            max_lag=self.max_lag,
            principal=principal,
            on_closing=self.disconnect,
            direct=direct,
            tally=self.tally,
        )
        self.clients.add(client)
        return client

    def disconnect(self, client: Client) -> None:
        """Forget ``client``: its subscriptions, queue and (if it was the last) feeds."""
        if client not in self.clients:
            return
        for key in list(client.topics):
            self._leave(client, key)
        self.clients.discard(client)
        code = client.close_code if client.close_code is not None else 1000
        self.close_codes[code] = self.close_codes.get(code, 0) + 1
        client.kick(1000, "bye")  # empties its queues

    @property
    def sent_total(self) -> int:
        return sum(self.tally.sent.values())

    def sent_by_topic(self) -> dict[str, int]:
        """Messages sent per topic kind (and ``reply``), clients gone included."""
        return dict(self.tally.sent)

    def dropped_by_topic(self) -> dict[str, int]:
        """Frames dropped per topic kind, clients gone included."""
        return dict(self.tally.dropped)

    def skipped_by_topic(self) -> dict[str, int]:
        """Frames per topic kind that subscribers missed because a newer frame replaced
        them before the egress budget reached them, clients gone included."""
        return dict(self.tally.skipped)

    @property
    def dropped_total(self) -> int:
        return sum(self.tally.dropped.values())

    @property
    def queue_depth(self) -> int:
        return sum(c.depth for c in self.clients)

    def topic_count(self) -> int:
        return len(self._topics)

    def feed_count(self) -> int:
        return len(self._feeds)

    # ------------------------------------------------------------------ subscriptions
    async def admit(self, topic: Topic) -> None:
        """Before :meth:`subscribe`: raise :class:`UnknownIdError` when :attr:`verify` says
        ``topic``'s simulation exists nowhere (asked on a worker thread; nothing to ask
        without ``verify`` or for a topic already followed)."""
        if self.verify is None or topic.key in self._topics:
            return
        if self._verifier is None:  # threads of its own: never queued behind commands
            self._verifier = ThreadPoolExecutor(VERIFY_THREADS, thread_name_prefix="hub-verify")
        await self.loop.run_in_executor(self._verifier, self.verify, topic.sim_id)

    def subscribe(self, client: Client, topic: Topic, fmt: Format) -> None:
        """Add ``client`` to ``topic`` in ``fmt`` (a second subscribe changes the format).

        Raises :class:`UnknownIdError` when no simulation ``topic.sim_id`` exists here
        and no relay could bring it from another process, and :class:`LimitError` past
        ``max_subscriptions`` topics for the client or ``max_feeds`` feeds.
        """
        key = topic.key
        if key not in client.topics and len(client.topics) >= self.max_subscriptions:
            raise LimitError(
                f"this connection holds {len(client.topics)} subscriptions, the limit "
                f"max_subscriptions_per_connection={self.max_subscriptions}",
                limit="max_subscriptions_per_connection",
            )
        if key in client.topics:
            self._remove(self._topics[key].subscribers[client.topics[key]], client)
        else:
            self._ensure_topic(topic, local=True)
        self._topics[key].subscribers[fmt].add(client)
        client.topics[key] = fmt

    def unsubscribe(self, client: Client, topic: Topic) -> bool:
        """Remove ``client`` from ``topic``; False when it was not subscribed."""
        if topic.key not in client.topics:
            return False
        self._leave(client, topic.key)
        return True

    def _leave(self, client: Client, key: str) -> None:
        fmt = client.topics.pop(key)
        state = self._topics[key]
        self._remove(state.subscribers[fmt], client)
        self._maybe_release(state)

    def _remove(self, line: Line, client: Client) -> None:
        missed = line.remove(client)
        if missed:
            self.tally.count_skipped(line.kind, missed)

    def _ensure_topic(self, topic: Topic, *, local: bool) -> _TopicState:
        state = self._topics.get(topic.key)
        if state is not None:
            return state
        try:
            feed = self._feed(topic.sim_id)
        except UnknownIdError:
            if not local or self.relay is None:
                raise
            remote = {s.topic.sim_id for s in self._topics.values() if s.remote_source}
            if topic.sim_id not in remote:  # counted per simulation, as local feeds are
                self._check_feeds(len(remote), "simulations of other processes")
            state = _TopicState(topic, self.queue_size, remote_source=True)
            self._topics[topic.key] = state
            self.relay.want(topic.key)
            return state
        state = _TopicState(topic, self.queue_size)
        self._topics[topic.key] = state
        feed.topics = (*feed.topics, state)
        return state

    def _check_feeds(self, held: int, what: str) -> None:
        if held >= self.max_feeds:
            raise LimitError(
                f"the server follows {held} {what}, the limit max_feeds={self.max_feeds}",
                limit="max_feeds",
            )

    def _feed(self, sim_id: str) -> _Feed:
        feed = self._feeds.get(sim_id)
        if feed is None:
            self.source.check(sim_id)  # an unknown id is refused before the limit counts
            self._check_feeds(len(self._feeds), "simulations")
            feed = _Feed(handle=None)
            feed.handle = self.source.subscribe(sim_id, lambda ev: self._on_tick(feed, ev))
            self._feeds[sim_id] = feed
        return feed

    def _maybe_release(self, state: _TopicState) -> None:
        if not state.empty:
            return
        topic = state.topic
        del self._topics[topic.key]
        if state.remote_source:
            if self.relay is not None:
                self.relay.unwant(topic.key)
            return
        feed = self._feeds[topic.sim_id]
        feed.topics = tuple(s for s in feed.topics if s is not state)
        if not feed.topics:
            del self._feeds[topic.sim_id]
            self._release_feed(topic.sim_id, feed.handle)

    def _release_feed(self, sim_id: str, handle: Any) -> None:
        # unsubscribing joins the consumer thread: keep that wait off the loop
        self.loop.run_in_executor(None, self.source.unsubscribe, sim_id, handle)

    # ------------------------------------------------------------------ remote interest
    def add_remote_interest(self, topic: Topic) -> bool:
        """Another process wants ``topic``: produce it here if the simulation is ours."""
        state = self._topics.get(topic.key)
        if state is not None and state.remote_source:
            return False
        try:
            state = self._ensure_topic(topic, local=False)
        except UnknownIdError:
            return False
        state.remote_interest = True
        return True

    def drop_remote_interest(self, key: str) -> None:
        """No other process wants ``key`` any more."""
        state = self._topics.get(key)
        if state is not None and state.remote_interest:
            state.remote_interest = False
            self._maybe_release(state)

    def remote_interests(self) -> list[str]:
        return [k for k, s in self._topics.items() if s.remote_interest]

    # ------------------------------------------------------------------ frames
    def _on_tick(self, feed: _Feed, events: TickEvents) -> None:
        """Build and encode this tick's frames (consumer thread), then fan out on the loop."""
        now, interval = time.monotonic(), self.min_interval
        # a quarter-interval of slack: ticks at the frame rate arriving a little early still
        # count; the schedule advances a full interval per frame, so the average rate holds
        slack = interval / 4
        due = now >= feed.next_frame - slack
        batch: list[_Frame] = []
        newest: set[str] = set()  # topics whose waiting frames this batch supersedes
        for state in feed.topics:  # a tuple swapped whole by the loop: safe to iterate here
            topic = state.topic
            if not due and not (topic.kind in KEEP_EVERY_FRAME and events.coalition_events):
                continue
            doc = self._document(feed, topic, events)
            if doc is None:
                continue
            formats = [f for f, subs in state.subscribers.items() if subs]
            payloads = {f: frames.encode(doc, f) for f in formats}
            remote = None
            if state.remote_interest:
                remote = payloads.get("msgpack") or frames.encode(doc, "msgpack")
            batch.append((topic.key, payloads, remote))
            if topic.kind not in KEEP_EVERY_FRAME:  # a coalition frame's changes must all arrive
                newest.add(topic.key)
        if due:  # resynchronise after a pause rather than bursting to catch up
            feed.next_frame = max(feed.next_frame + interval, now + interval - slack)
        if batch:
            self._hand_to_loop(feed, batch, newest)

    def _hand_to_loop(self, feed: _Feed, batch: list[_Frame], newest: set[str]) -> None:
        """Add ``batch`` to the feed's waiting frames, dropping the waiting frames of the
        ``newest`` topics; wake the loop unless it is already woken."""
        with self._pending_lock:
            pending = feed.pending
            woken = bool(pending)
            if pending and newest:
                kept = [frame for frame in pending if frame[0] not in newest]
                self.frames_superseded += len(pending) - len(kept)
                pending[:] = kept
            pending.extend(batch)
        if not woken:
            with contextlib.suppress(RuntimeError):  # the loop closed under us: shutting down
                self.loop.call_soon_threadsafe(self._deliver, feed)

    def _document(self, feed: _Feed, topic: Topic, events: TickEvents) -> dict | None:
        if topic.kind != "knowledge":
            return frames.build(topic, events)
        stats = self.source.knowledge(topic.sim_id)
        if stats is None or stats[0] == feed.knowledge_version:
            return None  # the graph did not change since the last frame
        feed.knowledge_version = stats[0]
        data = {"version": stats[0], "nodes": stats[1], "edges": stats[2]}
        return frames.envelope(topic, events.tick, data)

    def _deliver(self, feed: _Feed) -> None:
        """Post the feed's waiting frames to their topics' lines (egress sends them) and
        share them with other processes."""
        with self._pending_lock:
            batch, feed.pending = feed.pending, []
        for key, payloads, remote in batch:
            self.post(key, payloads)
            if remote is not None and self.relay is not None:
                self.relay.publish(key, remote)

    def post(self, key: str, payloads: dict[str, Payload]) -> int:
        """Make ``payloads[format]`` the newest frame of ``key`` for its subscribers in that
        format (egress sends it as the budget allows); returns how many subscribers are
        owed it."""
        state = self._topics.get(key)
        if state is None:
            return 0
        owed = 0
        for fmt, line in state.subscribers.items():
            payload = payloads.get(fmt)
            if payload is None or not line:
                continue
            self.egress.post(line, payload, wire_frame(payload))  # framed once for all
            owed += line.owed
        self.frames_published += 1
        return owed

    def relay_frame(self, key: str, payload: bytes) -> None:
        """A MessagePack frame of ``key`` from the relay, on any thread: its JSON is made
        here (off the loop) when a subscriber wants JSON, then it is posted like a feed's
        frames; a newer frame of a topic supersedes a waiting one, except coalition
        frames, whose changes must all arrive."""
        state = self._topics.get(key)
        if state is None or not state.remote_source:
            return
        payloads: dict[str, Payload] = {"msgpack": payload}
        if state.subscribers["json"]:
            payloads["json"] = frames.encode(frames.decode_msgpack(payload), "json")
        newest = set() if state.topic.kind in KEEP_EVERY_FRAME else {key}
        self._hand_to_loop(self._relayed, [(key, payloads, None)], newest)

    # ------------------------------------------------------------------ shutdown
    def close(self) -> None:
        """Kick every client and release every feed."""
        for client in list(self.clients):
            client.kick(1001, "server shutting down")
        for sim_id, feed in list(self._feeds.items()):
            self.source.unsubscribe(sim_id, feed.handle)
        self._feeds.clear()
        self._topics.clear()
        if self._verifier is not None:
            self._verifier.shutdown(wait=False)
