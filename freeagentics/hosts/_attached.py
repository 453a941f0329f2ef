"""A host that another process started and watches: :class:`AttachedHost`.

Several API worker processes share one simulation host. The supervisor that started
them holds the host (a :class:`~freeagentics.hosts.LocalHostProcess`: it opens it,
restarts it, stops it); each worker holds an :class:`AttachedHost`, which only
connects. The supervisor tells it where the host listens with :meth:`AttachedHost.point`
whenever that changes: a restarted host listens on a new port with a new token, and a
host that stays down has no port and a reason.

It is a :class:`~freeagentics.hosts.Transport`: calls go to the current connection and
raise :class:`~freeagentics.hosts.HostUnavailableError` at once while there is none,
and :class:`~freeagentics.hosts.HostTimeoutError` when the host does not answer within
``call_timeout_s``.
One keeper thread (re)connects: after :meth:`point`, and after a connection breaks
while the host is still said to listen there (every :data:`RETRY_S` until it answers
or is pointed elsewhere).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from freeagentics.hosts._client import (
    DEFAULT_CALL_TIMEOUT_S,
    FrameHandler,
    LinkedTransport,
    SocketTransport,
)
from freeagentics.hosts._errors import HostUnavailableError

__all__ = ["RETRY_S", "AttachedHost"]

log = logging.getLogger("freeagentics.hosts")

#: seconds between attempts to reach a host that is said to listen but does not answer
RETRY_S = 0.5


class AttachedHost(LinkedTransport):
    """A connection, kept, to a host process another process runs.

    ``state`` is ``starting`` (never pointed yet), ``up`` (connected), ``restarting``
    (not connected; the host is coming back), ``down`` (the host is gone for good,
    :meth:`why` says why) or ``stopped``.
    """

    def __init__(
        self, *, connect_timeout_s: float = 10.0, call_timeout_s: float = DEFAULT_CALL_TIMEOUT_S
    ):
        self.connect_timeout_s, self.call_timeout_s = connect_timeout_s, call_timeout_s
        #: called with ``(key, payload)`` for every frame the host pushes
        self.on_frame: FrameHandler | None = None
        #: called after every (re)connection (on the keeper thread)
        self.on_connected: Callable[[], None] | None = None
        self.state = "starting"
        self.restarts = 0  # the host's restarts, as its keeper counts them
        self.port: int | None = None
        self.host_pid: int | None = None
        self._token: bytes | None = None
        self._why: str | None = None
        self._link: SocketTransport | None = None
        self._cond = threading.Condition()
        self._stopped = False
        self._keeper: threading.Thread | None = None

    # ------------------------------------------------------------------ Transport
    def why(self) -> str:
        """Why calls fail now, in words for an HTTP 503."""
        if self.state == "down" and self._why:
            return self._why
        if self.state in ("starting", "restarting"):
            return f"the simulation host is {self.state}; try again in a few seconds"
        return "the simulation host is not running"

    # ------------------------------------------------------------------ where it is
    def point(
        self,
        port: int | None,
        token: bytes | None,
        *,
        state: str = "up",
        restarts: int = 0,
        pid: int | None = None,
        why: str | None = None,
    ) -> None:
        """The host now listens on 127.0.0.1:``port`` for ``token`` (``port`` None: it
        does not listen; ``state`` — ``restarting`` or ``down`` — and ``why`` say why).
        A new place drops the connection to the old one; the keeper connects."""
        with self._cond:
            if self._stopped:
                return
            self.restarts, self.host_pid = restarts, pid
            moved = (port, token) != (self.port, self._token)
            old = self._link if moved else None
            if moved:
                self.port, self._token, self._link = port, token, None
            if port is None:
                self.state = "down" if state == "down" else "restarting"
                self._why = why
            elif moved and self.state != "starting":
                self.state, self._why = "restarting", None  # until the keeper connects
            self._cond.notify_all()
        if old is not None:
            old.close()

    # ------------------------------------------------------------------ lifecycle
    def start(self, timeout_s: float | None = None) -> None:
        """Start the keeper and wait until the host is reached (or said to be down);
        :class:`HostUnavailableError` after ``timeout_s`` (None: as long as the host's
        starter takes to open it, or to say it failed)."""
        with self._cond:
            self._stopped = False
            if self._keeper is None:
                self._keeper = threading.Thread(target=self._keep, daemon=True, name="host-keeper")
                self._keeper.start()
            if not self._cond.wait_for(lambda: self.state in ("up", "down"), timeout_s):
                raise HostUnavailableError(
                    f"the simulation host was not reached within {timeout_s} s ({self.state})"
                )

    def stop(self) -> None:
        """Drop the connection and stop reconnecting (the host itself is not touched)."""
        with self._cond:
            self._stopped = True
            link, self._link = self._link, None
            self.state = "stopped"
            self._cond.notify_all()
        if link is not None:
            link.close()
        keeper = self._keeper
        if keeper is not None and keeper is not threading.current_thread():
            keeper.join(self.connect_timeout_s + 1)
        self._keeper = None

    def _wanted(self) -> tuple[int, bytes] | None:
        """Where to connect now, if anywhere (called holding the lock)."""
        if self._link is None and self.port is not None and self._token is not None:
            return self.port, self._token
        return None

    def _moved_from(self, target: tuple[int, bytes]) -> bool:
        """Stopped, or pointed elsewhere than ``target`` (called holding the lock)."""
        return self._stopped or (self.port, self._token) != target

    def _keep(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._stopped or self._wanted() is not None)
                if self._stopped:
                    return
                target = self._wanted()
            assert target is not None
            try:
                link = SocketTransport(
                    target[0],
                    target[1],
                    on_frame=self._frame,
                    on_lost=self._lost,
                    connect_timeout_s=self.connect_timeout_s,
                    call_timeout_s=self.call_timeout_s,
                )
            except (HostUnavailableError, OSError) as exc:
                log.warning("simulation host at port %d not reached: %s", target[0], exc)
                with self._cond:  # a new place wakes it early
                    self._cond.wait_for(lambda t=target: self._moved_from(t), RETRY_S)
                continue
            with self._cond:
                current = not self._moved_from(target)
                if current and not link.closed:
                    self._link, self.state, self._why = link, "up", None
                    self._cond.notify_all()
            if not current or link.closed:
                link.close()
                continue
            log.info("connected to the simulation host (port %d)", target[0])
            connected = self.on_connected
            if connected is not None:
                try:
                    connected()
                except Exception:  # the listener's trouble must not undo the connection
                    log.exception("simulation host: the connection listener failed")

    def _lost(self) -> None:
        with self._cond:
            link = self._link
            if link is None or not link.closed:
                return  # a link this host no longer holds
            self._link = None
            if not self._stopped:
                self.state = "restarting"
            self._cond.notify_all()

    def _frame(self, key: str, payload: bytes) -> None:
        handler = self.on_frame
        if handler is not None:
            handler(key, payload)
