"""One connected client: its bounded send queue (latest-wins per topic) and writer task.

A frame or reply is written straight to the socket while the client's
:attr:`Client.direct_transport` is set: the connection offers a direct writer
(:mod:`~freeagentics.server.ws.wire`) whose socket takes a direct write now (handshake
done, uncompressed, no close under way, buffer below its high-water mark), no writer
task is running (so nothing queued or half-sent can be overtaken) and the client is not
being closed. Both sides keep that attribute current when their state changes, so the
hub's fan-out reads one attribute per subscriber and calls ``transport.write``, with no
check, call or allocation of its own. Otherwise the payload is queued and a writer task
-- started on demand, ended when the queues are empty -- sends it through ASGI. An idle
client therefore holds no task at all.

Frames wait in one queue of at most ``maxsize`` entries, at most one per topic: a newer
frame of a topic replaces the queued one (latest-wins, so a client that is behind gets
the newest state rather than a backlog), except frames of kinds in
:data:`~.frames.KEEP_EVERY_FRAME` (coalition changes), which are kept while there is
room. When the queue is full the oldest queued frame of the same topic is dropped for
the newest, or, with none of that topic queued, the oldest frame of any topic. ``lag``
counts frames dropped since the queue was last empty; past ``max_lag`` the client is
disconnected with :data:`CLOSE_TOO_SLOW`. Replies (acks, pongs, errors) wait
in a separate queue that is never thinned, sent before frames so that round-trip
latency does not queue behind broadcasts; a client that lets replies pile up past
``maxsize`` is too slow as well.

Messages sent and dropped are counted per topic kind in a :class:`Tally` that the hub
shares with all its clients (a client made alone has its own), so the metrics read a
handful of totals rather than every connection's counters.

All methods except :meth:`Client.run` are called on the event loop's thread and never
block: the hub's fan-out costs one write or one append per subscriber whatever the
network does.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from freeagentics.server.ws.frames import KEEP_EVERY_FRAME, Payload
from freeagentics.server.ws.framing import wire_frame

if TYPE_CHECKING:  # the host process's headless hub loads no server protocol
    from freeagentics.server.ws.wire import DirectWriter

__all__ = [
    "CLOSE_ABUSIVE",
    "CLOSE_RATE_LIMITED",
    "CLOSE_TOO_SLOW",
    "CLOSE_UNAUTHORIZED",
    "Client",
    "Tally",
]

#: the client did not keep up with its frames (RFC 6455 private-use range)
CLOSE_TOO_SLOW = 4008
#: credentials missing or invalid on connect
CLOSE_UNAUTHORIZED = 4001
#: policy violation: too many malformed (or over-rate) messages in a row
CLOSE_ABUSIVE = 1008
#: too many failed authentications from the client's address: retry later
CLOSE_RATE_LIMITED = 4029

_ids = itertools.count(1)


class Tally:
    """Messages sent and dropped per topic kind (``reply`` for acks, pongs and errors), and
    frames skipped: replaced by a newer frame of their topic before the egress budget
    reached a subscriber (see :mod:`.egress`)."""

    __slots__ = ("dropped", "sent", "skipped")

    def __init__(self) -> None:
        self.sent: dict[str, int] = {}
        self.dropped: dict[str, int] = {}
        self.skipped: dict[str, int] = {}

    def count_sent(self, kind: str, n: int = 1) -> None:
        self.sent[kind] = self.sent.get(kind, 0) + n

    def count_dropped(self, kind: str, n: int = 1) -> None:
        self.dropped[kind] = self.dropped.get(kind, 0) + n

    def count_skipped(self, kind: str, n: int = 1) -> None:
        self.skipped[kind] = self.skipped.get(kind, 0) + n


class Client:
    """A connected socket as the hub sees it.

    Args:
        send: sends one encoded payload (``str`` as a text frame, ``bytes`` as binary).
        close: closes the socket with a code and reason.
        maxsize: frames the queue may hold.
        max_lag: frames that may be dropped before the queue empties again.
        principal: who authenticated (:class:`~freeagentics.server.auth.Principal`).
        on_closing: called when the writer starts closing the socket after a kick (the
            hub forgets the client then, not after a close handshake that a stalled
            peer may never answer).
        direct: the connection's :class:`~freeagentics.server.ws.wire.DirectWriter`
            (anything with its ``transport`` and ``on_change`` attributes), or None when
            every payload must go through ``send``.
        tally: where sent and dropped messages are counted per kind.
    """

    __slots__ = (
        "__weakref__",
        "_close",
        "_direct",
        "_frames",
        "_on_closing",
        "_replies",
        "_send",
        "_sending",
        "_task",
        "close_code",
        "close_reason",
        "direct_transport",
        "dropped",
        "id",
        "lag",
        "max_lag",
        "maxsize",
        "principal",
        "sent_direct",
        "sent_queued",
        "tally",
        "topics",
    )

    def __init__(
        self,
        send: Callable[[Payload], Awaitable[Any]],
        close: Callable[[int, str], Awaitable[Any]],
        *,
        maxsize: int = 64,
        max_lag: int = 256,
        principal: Any = None,
        on_closing: Callable[[Client], Any] | None = None,
        direct: DirectWriter | None = None,
        tally: Tally | None = None,
    ):
        self.id = next(_ids)
        self._send, self._close, self._on_closing = send, close, on_closing
        self.maxsize, self.max_lag = maxsize, max_lag
        self.principal = principal
        self.tally = tally if tally is not None else Tally()
        # made on first use and dropped when emptied: most clients never queue anything
        self._frames: deque[tuple[str, str, Payload]] | None = None  # (key, kind, payload)
        self._replies: deque[Payload] | None = None
        self._sending = False  # the writer waits in a send
        self._task: asyncio.Task | None = None
        self.lag = self.dropped = 0
        #: payloads written straight to the socket, and those sent by the writer task
        self.sent_direct = self.sent_queued = 0
        self.close_code: int | None = None
        self.close_reason = ""
        #: topic key -> format, maintained by the hub
        self.topics: dict[str, str] = {}
        #: the socket's transport while a prebuilt frame may be written to it now, else
        #: None (see the module docstring); whoever writes to it counts in ``sent_direct``
        self.direct_transport: asyncio.WriteTransport | None = None
        self._direct = direct
        if direct is not None:
            direct.on_change = self._refresh_direct
            self._refresh_direct()

    def _refresh_direct(self) -> None:
        """Re-derive :attr:`direct_transport` after the client's or the socket's state changed."""
        direct = self._direct
        usable = direct is not None and self._task is None and self.close_code is None
        self.direct_transport = direct.transport if usable else None  # type: ignore[union-attr]

    @property
    def sent(self) -> int:
        """Payloads sent, directly or by the writer."""
        return self.sent_direct + self.sent_queued

    @property
    def depth(self) -> int:
        """Frames and replies waiting to be sent."""
        return len(self._frames or ()) + len(self._replies or ())

    @property
    def closing(self) -> bool:
        return self.close_code is not None

    def offer(self, key: str, kind: str, payload: Payload) -> None:
        """Queue a frame of topic ``key`` (of ``kind``) behind what is queued, replacing a
        queued frame of the same topic (latest-wins; see the module docstring).

        The hub writes a frame straight to the socket instead while
        :attr:`direct_transport` is set (and counts it in ``sent_direct``).
        """
        if self.close_code is not None:
            return
        frames = self._frames
        if frames is None:
            frames = self._frames = deque()
        full = len(frames) >= self.maxsize
        victim = None  # the queued frame this one replaces
        if full or kind not in KEEP_EVERY_FRAME:
            victim = next((i for i, queued in enumerate(frames) if queued[0] == key), None)
        if victim is None and full:
            victim = 0  # none of its topic queued: the oldest of any
        if victim is not None:
            self._count_drop(frames[victim][1])
            del frames[victim]
            self.lag += 1
            if self.lag > self.max_lag:
                self.kick(CLOSE_TOO_SLOW, f"too slow: {self.lag} frames dropped while behind")
                return
        frames.append((key, kind, payload))
        self._ensure_writer()

    def _count_drop(self, kind: str) -> None:
        self.dropped += 1
        self.tally.count_dropped(kind)

    def reply(self, payload: Payload) -> None:
        """Queue a reply to the client's own message (never dropped)."""
        if self.close_code is not None:
            return
        transport = self.direct_transport
        if transport is not None:
            transport.write(wire_frame(payload))
            self.sent_direct += 1
            self.tally.count_sent("reply")
            return
        replies = self._replies
        if replies is None:
            replies = self._replies = deque()
        if len(replies) >= self.maxsize:
            self.kick(CLOSE_TOO_SLOW, f"too slow: {len(replies)} replies unread")
            return
        replies.append(payload)
        self._ensure_writer()

    def kick(self, code: int, reason: str) -> None:
        """Ask the writer to close the socket with ``code`` (first reason wins)."""
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason[:120]  # close reasons ≤ 123 B
            if self._direct is not None:
                self._direct.on_change = None  # nothing is written directly any more
            for _, kind, _ in self._frames or ():
                self._count_drop(kind)
            self._frames = self._replies = None
            if self._task is None:
                self._ensure_writer()  # it sends the close
            elif self._sending:
                self._task.cancel()  # a send stuck on a full socket must not delay the close

    @property
    def writer(self) -> asyncio.Task | None:
        """The writer task while one runs (something is queued, or a close is being sent)."""
        return self._task

    def _ensure_writer(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.run())
            self.direct_transport = None  # queued payloads go first

    async def run(self) -> None:
        """Send queued payloads until none are left, the client is kicked or the socket fails."""
        send = self._send
        try:
            while self.close_code is None:
                replies, frames = self._replies, self._frames
                if replies:
                    kind, payload = "reply", replies.popleft()
                elif frames:
                    _, kind, payload = frames.popleft()
                else:
                    self.lag = 0  # caught up: dropped frames are forgiven
                    self._frames = self._replies = None
                    self._task = None  # the next queued payload starts a new writer
                    self._refresh_direct()
                    return
                self._sending = True
                try:
                    await send(payload)
                finally:
                    self._sending = False
                self.sent_queued += 1
                self.tally.count_sent(kind)
        except asyncio.CancelledError:
            if self.close_code is None:
                raise  # cancelled from outside (the endpoint ending), not kicked
        except Exception:  # the socket went away; the endpoint's reader sees it too
            if self.close_code is None:
                self.close_code, self.close_reason = 1006, "send failed"
            return
        if self._on_closing is not None:
            self._on_closing(self)
        await self._close(self.close_code, self.close_reason)
