"""The host's side of the socket: authenticate, run calls concurrently, push frames.

:class:`HostServer` listens on 127.0.0.1 (a random port). A connection must first send
``{"op": "hello", "token": <bytes>}`` with the token the host was started with, within
:data:`HANDSHAKE_TIMEOUT_S` and in at most :data:`HANDSHAKE_MAX_BYTES`; anything else
closes it. After the handshake it may send:

* ``{"op": "call", "id": int, "method": str, "args": [...], "kwargs": {...}}`` — the
  handler runs it on a worker thread (so a long ``step`` never holds up other calls) and
  the host answers ``{"op": "result", "id", "ok": true, "value"}`` or ``{"op": "result",
  "id", "ok": false, "error": {...}}`` (:func:`~freeagentics.hosts._errors.error_to_wire`);
* ``{"op": "want", "key": str}`` / ``{"op": "unwant", "key": str}`` — frames of that
  topic key are pushed to this connection as ``{"op": "frame", "key", "payload": bytes}``
  while it wants them; the handler hears when a key gains its first or loses its last
  connection.

A message over the size limit, bytes that are not MessagePack, or a message of the wrong
shape closes that connection only; the host and its other connections go on. Every
queue is bounded: connections (:attr:`max_connections`), calls in flight per connection
(answered with an error past :attr:`max_in_flight`), topics per connection, and frames
waiting per connection (the oldest are dropped, counted in :attr:`frames_dropped`).
"""

from __future__ import annotations

import collections
import hmac
import logging
import socket
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from freeagentics.hosts._codec import WireError, frame, read_message
from freeagentics.hosts._errors import error_to_wire

__all__ = ["HANDSHAKE_MAX_BYTES", "HANDSHAKE_TIMEOUT_S", "HostHandler", "HostServer"]

log = logging.getLogger("freeagentics.hosts")

HANDSHAKE_TIMEOUT_S = 5.0
HANDSHAKE_MAX_BYTES = 1024
#: longest topic key a connection may want
MAX_KEY_CHARS = 256


class HostHandler(Protocol):
    """What a :class:`HostServer` serves."""

    def call(self, method: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        """Run one call (on a worker thread); return plain data or raise."""

    def interest(self, key: str, wanted: bool) -> None:
        """Topic ``key`` gained its first (``wanted``) or lost its last interested connection."""


class _Connection:
    """One authenticated client: a reader thread, a writer thread and a bounded outbox."""

    def __init__(self, server: HostServer, sock: socket.socket, peer: Any):
        self.server, self.sock, self.peer = server, sock, peer
        self.wanted: set[str] = set()
        self.in_flight = 0
        self.closed = False
        self._results: collections.deque[bytes] = collections.deque()
        self._frames: collections.deque[bytes] = collections.deque()
        self._cond = threading.Condition()

    # ------------------------------------------------------------------ writing
    def send_result(self, data: bytes) -> None:
        with self._cond:
            self._results.append(data)
            self._cond.notify()

    def send_frame(self, data: bytes) -> None:
        with self._cond:
            if len(self._frames) >= self.server.max_frames:
                self._frames.popleft()
                self.server.frames_dropped += 1
            self._frames.append(data)
            self._cond.notify()

    def _write_loop(self) -> None:
        try:
            while True:
                with self._cond:
                    self._cond.wait_for(lambda: self._results or self._frames or self.closed)
                    if self.closed:
                        return
                    result = bool(self._results)
                    data = (self._results if result else self._frames).popleft()
                self.sock.sendall(data)
                if result:  # a call is in flight until its answer is written
                    with self._cond:
                        self.in_flight -= 1
        except OSError:
            self.close()

    # ------------------------------------------------------------------ reading
    def _handshake(self) -> bool:
        self.sock.settimeout(HANDSHAKE_TIMEOUT_S)
        try:
            hello = read_message(self.sock, HANDSHAKE_MAX_BYTES)
        except (OSError, WireError) as exc:
            log.warning("host connection from %s refused: %s", self.peer, exc)
            return False
        token = hello.get("token") if isinstance(hello, dict) else None
        if hello is None or hello.get("op") != "hello" or not isinstance(token, bytes):
            log.warning("host connection from %s refused: no hello", self.peer)
            return False
        if not hmac.compare_digest(token, self.server.token):
            log.warning("host connection from %s refused: wrong token", self.peer)
            return False
        self.sock.settimeout(None)
        self.sock.sendall(frame({"op": "hello", "ok": True}))
        return True

    def serve(self) -> None:
        try:
            if not self._handshake():
                return
            threading.Thread(target=self._write_loop, daemon=True, name="host-writer").start()
            while not self.closed:
                message = read_message(self.sock, self.server.max_message_bytes)
                if message is None:
                    return
                self._dispatch(message)
        except (OSError, WireError, _ProtocolError) as exc:
            if not self.closed:
                log.warning("host connection from %s closed: %s", self.peer, exc)
        finally:
            self.close()

    def _dispatch(self, message: dict[Any, Any]) -> None:
        op = message.get("op")
        if op == "call":
            self._call(message)
        elif op in ("want", "unwant"):
            key = message.get("key")
            if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY_CHARS:
                raise _ProtocolError(f"{op}: key must be a string of 1..{MAX_KEY_CHARS} chars")
            if op == "want":
                if key not in self.wanted and len(self.wanted) >= self.server.max_topics:
                    log.warning(
                        "host connection %s wants over %d topics", self.peer, len(self.wanted)
                    )
                    return
                self.server.want(self, key)
            else:
                self.server.unwant(self, key)
        else:
            raise _ProtocolError(f"unknown op {op!r:.40}")

    def _call(self, message: dict[Any, Any]) -> None:
        call_id, method = message.get("id"), message.get("method")
        args, kwargs = message.get("args", []), message.get("kwargs", {})
        if type(call_id) is not int or not isinstance(method, str):
            raise _ProtocolError("call: id must be an integer and method a string")
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise _ProtocolError("call: args must be an array and kwargs a map")
        if not all(isinstance(k, str) for k in kwargs):
            raise _ProtocolError("call: kwargs keys must be strings")
        with self._cond:
            busy = self.in_flight >= self.server.max_in_flight
            self.in_flight += 1
        if busy:
            error = {"type": "HostError", "message": f"over {self.server.max_in_flight} calls"}
            self.send_result(frame({"op": "result", "id": call_id, "ok": False, "error": error}))
            return
        self.server.pool.submit(self._run, call_id, method, args, kwargs)

    def _run(self, call_id: int, method: str, args: list, kwargs: dict) -> None:
        try:
            value = self.server.handler.call(method, args, kwargs)
            data = frame({"op": "result", "id": call_id, "ok": True, "value": value})
        except Exception as exc:  # every failure is the caller's answer, not the host's
            data = frame({"op": "result", "id": call_id, "ok": False, "error": error_to_wire(exc)})
        self.send_result(data)

    def close(self) -> None:
        with self._cond:
            if self.closed:
                return
            self.closed = True
            self._cond.notify_all()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.server.forget(self)


class _ProtocolError(Exception):
    """A message of the wrong shape: the connection is closed."""


class HostServer:
    """Serves ``handler`` on 127.0.0.1 to connections that present ``token``.

    Args:
        handler: runs the calls and hears topic interest.
        token: the secret a connection must present first (the host's start gave it).
        max_message_bytes: largest message a connection may send.
        workers: threads running calls (concurrent calls beyond wait for one).
        max_connections, max_in_flight, max_topics, max_frames: the bounds above.
    """

    def __init__(
        self,
        handler: HostHandler,
        token: bytes,
        *,
        max_message_bytes: int = 64 * 1024 * 1024,
        workers: int = 32,
        max_connections: int = 16,
        max_in_flight: int = 256,
        max_topics: int = 4096,
        max_frames: int = 1024,
    ):
        self.handler, self.token = handler, token
        self.max_message_bytes = max_message_bytes
        self.max_connections, self.max_in_flight = max_connections, max_in_flight
        self.max_topics, self.max_frames = max_topics, max_frames
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="host-call")
        self.frames_dropped = 0
        self._lock = threading.Lock()
        self._connections: set[_Connection] = set()
        self._interest: dict[str, set[_Connection]] = {}
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._closed = False

    def start(self) -> int:
        """Accept connections on a thread of their own; returns the port."""
        threading.Thread(target=self._accept_loop, daemon=True, name="host-accept").start()
        return self.port

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                sock, peer = self._listener.accept()
            except OSError:
                return
            if self._closed:
                sock.close()
                return
            with self._lock:
                full = len(self._connections) >= self.max_connections
                conn = None if full else _Connection(self, sock, peer)
                if conn is not None:
                    self._connections.add(conn)
            if conn is None:
                log.warning(
                    "host connection from %s refused: %d connections", peer, len(self._connections)
                )
                sock.close()
                continue
            threading.Thread(target=conn.serve, daemon=True, name="host-reader").start()

    # ------------------------------------------------------------------ topics
    def want(self, conn: _Connection, key: str) -> None:
        with self._lock:
            holders = self._interest.setdefault(key, set())
            first = not holders
            holders.add(conn)
            conn.wanted.add(key)
        if first:
            self._tell(key, True)

    def unwant(self, conn: _Connection, key: str) -> None:
        with self._lock:
            holders = self._interest.get(key)
            conn.wanted.discard(key)
            if holders is None or conn not in holders:
                return
            holders.discard(conn)
            last = not holders
            if last:
                del self._interest[key]
        if last:
            self._tell(key, False)

    def _tell(self, key: str, wanted: bool) -> None:
        try:
            self.handler.interest(key, wanted)
        except Exception:  # a bad key must not end the connection's reader
            log.exception(
                "host: interest in %r could not be %s", key, "added" if wanted else "dropped"
            )

    def publish(self, key: str, payload: bytes) -> None:
        """Push a frame of ``key`` to every connection that wants it (never blocks)."""
        with self._lock:
            holders = tuple(self._interest.get(key, ()))
        if holders:
            data = frame({"op": "frame", "key": key, "payload": payload})
            for conn in holders:
                conn.send_frame(data)

    def forget(self, conn: _Connection) -> None:
        """A connection closed: drop it and its topics."""
        for key in list(conn.wanted):
            self.unwant(conn, key)
        with self._lock:
            self._connections.discard(conn)

    def interests(self) -> list[str]:
        """The topic keys some connection wants now."""
        with self._lock:
            return list(self._interest)

    @property
    def connections(self) -> int:
        return len(self._connections)

    def close(self) -> None:
        """Stop accepting and close every connection."""
        self._closed = True
        try:  # wakes the accepting thread: closing alone leaves a blocked accept() accepting
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            held = list(self._connections)
        for conn in held:
            conn.close()
        self.pool.shutdown(wait=False, cancel_futures=True)
