"""The caller's side of the socket: :class:`SocketTransport`, one multiplexed connection.

Calls from any number of threads share the connection: each gets a request id, its
message joins the outbox (written in order by one writer thread), and the caller waits
for the answer with that id, so a long ``step`` holds up only its own caller. No caller
waits longer than the call's deadline (``call_timeout_s``): past it the call's entry is
removed and :class:`~freeagentics.hosts.HostTimeoutError` raised; the host may still run
the call, and its late answer is dropped (counted in ``late_replies``). Frames the host
pushes go to ``on_frame`` on the reader thread. When the connection ends, every waiting
call raises :class:`~freeagentics.hosts.HostUnavailableError` and ``on_lost`` is called
once. The message protocol is described in :mod:`._server`.

Arrays in results arrive as :class:`~freeagentics.hosts.WireArray`: this side (an API
process) passes them on as bytes, without numpy; ``numpy.asarray`` makes one a numpy
array where that is wanted.
"""

from __future__ import annotations

import collections
import itertools
import logging
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from freeagentics.hosts._codec import WireError, frame, read_message
from freeagentics.hosts._errors import HostTimeoutError, HostUnavailableError, error_from_wire

__all__ = ["DEFAULT_CALL_TIMEOUT_S", "LinkedTransport", "SocketTransport"]

log = logging.getLogger("freeagentics.hosts")

FrameHandler = Callable[[str, bytes], None]

#: the longest a call waits for its answer unless its transport is told otherwise
DEFAULT_CALL_TIMEOUT_S = 30.0


class _Waiter:
    __slots__ = ("done", "reply")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.reply: dict[str, Any] | None = None


class SocketTransport:
    """A :class:`~freeagentics.hosts.Transport` to a host listening on 127.0.0.1:``port``.

    Args:
        port: the host's port.
        token: the host's secret (see :class:`~freeagentics.hosts.HostServer`).
        on_frame: called with ``(key, payload)`` for each pushed frame (reader thread).
        on_lost: called once when the connection ends.
        max_message_bytes: largest message accepted from the host.
        max_outbox: messages waiting to be written; past it calls raise
            :class:`HostUnavailableError` and notices are dropped.
        connect_timeout_s: the longest the connection and its handshake may take.
        call_timeout_s: a call's deadline unless it is given one (:meth:`call`).
    """

    def __init__(
        self,
        port: int,
        token: bytes,
        *,
        on_frame: FrameHandler | None = None,
        on_lost: Callable[[], None] | None = None,
        max_message_bytes: int = 1 << 30,
        max_outbox: int = 65_536,
        connect_timeout_s: float = 10.0,
        call_timeout_s: float = DEFAULT_CALL_TIMEOUT_S,
    ):
        self.port = port
        self.call_timeout_s = call_timeout_s
        #: answers that came after their caller had stopped waiting (dropped)
        self.late_replies = 0
        self.on_frame, self.on_lost = on_frame, on_lost
        self.max_message_bytes, self.max_outbox = max_message_bytes, max_outbox
        self._ids = itertools.count(1)
        self._pending: dict[int, _Waiter] = {}
        self._outbox: collections.deque[bytes] = collections.deque()
        self._cond = threading.Condition()
        self.closed = False
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=connect_timeout_s)
        try:
            self.sock.sendall(frame({"op": "hello", "token": token}))
            reply = read_message(self.sock, 1024)
            if not isinstance(reply, dict) or reply.get("ok") is not True:
                raise HostUnavailableError("the host refused the connection")
        except (OSError, WireError) as exc:
            self.sock.close()
            raise HostUnavailableError(f"no handshake with the host: {exc}") from None
        self.sock.settimeout(None)
        threading.Thread(target=self._read_loop, daemon=True, name="host-client-reader").start()
        threading.Thread(target=self._write_loop, daemon=True, name="host-client-writer").start()

    # ------------------------------------------------------------------ calls
    def call(
        self,
        method: str,
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
        *,
        timeout_s: float | None = None,
    ) -> Any:
        """Run ``method`` on the host and return its result (see :class:`Transport`);
        :class:`HostTimeoutError` when no answer came within ``timeout_s`` (default
        :attr:`call_timeout_s`)."""
        deadline = self.call_timeout_s if timeout_s is None else timeout_s
        call_id = next(self._ids)
        data = frame(
            {
                "op": "call",
                "id": call_id,
                "method": method,
                "args": list(args),
                "kwargs": dict(kwargs),
            }
        )
        waiter = _Waiter()
        with self._cond:
            if self.closed:
                raise HostUnavailableError("the simulation host is not connected")
            if len(self._outbox) >= self.max_outbox:
                raise HostUnavailableError("the simulation host is not reading its calls")
            self._pending[call_id] = waiter
            self._outbox.append(data)
            self._cond.notify()
        if not waiter.done.wait(deadline):
            with self._cond:
                # answered (or lost) in the meantime when the entry is gone already; the
                # reader sets ``reply`` under this lock as it removes the entry
                timed_out = self._pending.pop(call_id, None) is not None
            if timed_out:
                raise HostTimeoutError(method, deadline)
        reply = waiter.reply
        if reply is None:
            raise HostUnavailableError("the simulation host went away during the call")
        if reply.get("ok") is True:
            return reply.get("value")
        raise error_from_wire(reply.get("error"))

    def notify(self, op: str, key: str) -> bool:
        """Send ``{"op": op, "key": key}`` (``want``/``unwant``) without waiting; False
        when it could not be queued."""
        with self._cond:
            if self.closed or len(self._outbox) >= self.max_outbox:
                return False
            self._outbox.append(frame({"op": op, "key": key}))
            self._cond.notify()
        return True

    @property
    def in_flight(self) -> int:
        """Calls waiting for their answer now."""
        with self._cond:
            return len(self._pending)

    # ------------------------------------------------------------------ threads
    def _write_loop(self) -> None:
        try:
            while True:
                with self._cond:
                    self._cond.wait_for(lambda: self._outbox or self.closed)
                    if self.closed:
                        return
                    data = self._outbox.popleft()
                self.sock.sendall(data)
        except OSError as exc:
            self._lost(f"writing failed: {exc}")

    def _read_loop(self) -> None:
        reason = "the host closed the connection"
        try:
            while True:
                message = read_message(self.sock, self.max_message_bytes, wire_arrays=True)
                if message is None:
                    break
                op = message.get("op")
                if op == "result":
                    with self._cond:
                        waiter = self._pending.pop(message.get("id"), None)
                        if waiter is None:  # its caller stopped waiting: dropped
                            self.late_replies += 1
                        else:
                            waiter.reply = message
                    if waiter is not None:
                        waiter.done.set()
                elif op == "frame" and self.on_frame is not None:
                    key, payload = message.get("key"), message.get("payload")
                    if isinstance(key, str) and isinstance(payload, bytes):
                        try:
                            self.on_frame(key, payload)
                        except Exception:  # a frame the API cannot relay must not end the link
                            log.exception("frame of %s from the host was not relayed", key)
        except (OSError, WireError) as exc:
            reason = f"{type(exc).__name__}: {exc}"
        self._lost(reason)

    def _lost(self, reason: str) -> None:
        with self._cond:
            if self.closed:
                return
            self.closed = True
            waiting = list(self._pending.values())
            self._pending.clear()
            self._outbox.clear()
            self._cond.notify_all()
        log.info("connection to the simulation host ended: %s", reason)
        for waiter in waiting:
            waiter.done.set()  # reply None: HostUnavailableError in the caller
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        if self.on_lost is not None:
            self.on_lost()

    def close(self) -> None:
        """End the connection (waiting calls raise HostUnavailableError)."""
        self._lost("closed by this process")


class LinkedTransport:
    """A transport that outlives its connections (a host restarted, one reconnected):
    calls go to the current :class:`SocketTransport`, ``_link``, and raise
    :class:`~freeagentics.hosts.HostUnavailableError` at once, saying :meth:`why`, while
    there is none. A call's deadline is :attr:`call_timeout_s` unless it is given one."""

    _link: SocketTransport | None = None
    call_timeout_s: float = DEFAULT_CALL_TIMEOUT_S

    def why(self) -> str:
        """Why calls fail now, in words for an HTTP 503."""
        raise NotImplementedError

    def call(
        self,
        method: str,
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
        *,
        timeout_s: float | None = None,
    ) -> Any:
        link = self._link
        if link is None:
            raise HostUnavailableError(self.why())
        deadline = self.call_timeout_s if timeout_s is None else timeout_s
        return link.call(method, args, kwargs, timeout_s=deadline)

    @property
    def in_flight(self) -> int:
        """Calls waiting for their answer now (none without a connection)."""
        link = self._link
        return 0 if link is None else link.in_flight

    def notify(self, op: str, key: str) -> bool:
        """Send a ``want``/``unwant`` notice (dropped while the host is not connected)."""
        link = self._link
        return link is not None and link.notify(op, key)
