"""A simulation host in a child process: started, watched, restarted once, stopped.

:class:`LocalHostProcess` starts ``python -m MODULE`` (a program that calls
:func:`~freeagentics.hosts._child.serve_child`), hands it a fresh random token on its
stdin, reads the port it listens on from its stdout, connects a
:class:`~freeagentics.hosts.SocketTransport` and calls ``host.open(config,
restart=...)`` on it; the host is up when that call returns. It is itself a
:class:`~freeagentics.hosts.Transport` that outlives restarts: calls go to the current
connection, and raise :class:`~freeagentics.hosts.HostUnavailableError` at once while
there is none. Every call has a deadline (``call_timeout_s``; ``host.open`` and
``host.close``, which restore or store every simulation, ``open_timeout_s``), past which
it raises :class:`~freeagentics.hosts.HostTimeoutError`.

When the child exits (or its connection breaks, and the child is killed for it) without
:meth:`stop` having been called, the host is restarted ``max_restarts`` times (``open``
with ``restart=True``: the program brings back the simulations from their checkpoints);
after that it stays down and every call says why. The child exits when this process
closes its stdin, which the operating system does if this process dies.
"""

from __future__ import annotations

import json
import logging
import secrets
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from freeagentics._children import child_environment
from freeagentics.hosts._client import (
    DEFAULT_CALL_TIMEOUT_S,
    FrameHandler,
    LinkedTransport,
    SocketTransport,
)
from freeagentics.hosts._errors import HostUnavailableError

__all__ = ["LocalHostProcess", "child_environment"]

log = logging.getLogger("freeagentics.hosts")

#: the default deadline of opening and closing a host (every simulation at once)
OPEN_TIMEOUT_S = 600.0


class LocalHostProcess(LinkedTransport):
    """The host program ``module`` in a child process, and the transport to it.

    Args:
        module: the program, run as ``python -m module``.
        config: plain data passed to the program's ``host.open`` at every start (None:
            started without opening; :meth:`open` opens it).
        max_restarts: restarts after unexpected exits before the host stays down.
        start_timeout_s: longest wait for the child to listen.
        env: the child's environment (default: this process's).
        call_timeout_s: the deadline of every call but opening and closing the host.
        open_timeout_s: the deadline of ``host.open`` (which restores the simulations
            a previous run left alive from their checkpoints) and ``host.close`` (which
            stops them and flushes their storage): longer than a request's, as they
            handle every simulation at once.
    """

    def __init__(
        self,
        module: str,
        config: Mapping[str, Any] | None,
        *,
        max_restarts: int = 1,
        start_timeout_s: float = 120.0,
        env: Mapping[str, str] | None = None,
        call_timeout_s: float = DEFAULT_CALL_TIMEOUT_S,
        open_timeout_s: float = OPEN_TIMEOUT_S,
    ):
        self.module = module
        self.call_timeout_s, self.open_timeout_s = call_timeout_s, open_timeout_s
        self.config = None if config is None else dict(config)
        self.max_restarts, self.start_timeout_s = max_restarts, start_timeout_s
        self.env = child_environment(env)
        #: called with ``(key, payload)`` for every frame the host pushes
        self.on_frame: FrameHandler | None = None
        #: called after every (re)connection, e.g. to say again which topics are wanted
        self.on_connected: Callable[[], None] | None = None
        self.state = "stopped"  # starting, up, restarting, down, stopped
        self.restarts = 0
        self.opened: Any = None  # what the last host.open returned
        self.port: int | None = None  # where the child listens (on 127.0.0.1)
        #: the secret a connection to it presents (other processes may be given it)
        self.token: bytes | None = None
        self._proc: subprocess.Popen | None = None
        self._link: SocketTransport | None = None
        self._exit_code: int | None = None
        self._spawned: tuple[subprocess.Popen, bytes] | None = None
        self._stopping = False
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ Transport
    def why(self) -> str:
        """Why calls fail now, in words for an HTTP 503."""
        if self.state in ("starting", "restarting"):
            return f"the simulation host is {self.state}; try again in a few seconds"
        if self.state == "down":
            return (
                f"the simulation host exited (code {self._exit_code}) and was not restarted "
                f"after {self.restarts} restart(s); restart the server"
            )
        return "the simulation host is not running"

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None else None

    # ------------------------------------------------------------------ lifecycle
    def spawn(self) -> None:
        """Start the child now without waiting for it (it imports what it runs while this
        process goes on); :meth:`start` then connects. A second call does nothing."""
        if self._spawned is None and self._proc is None:
            self._spawned = self._spawn()

    def start(self) -> Any:
        """Start the child (unless :meth:`spawn` did) and open the host; returns what
        ``host.open`` returned."""
        self._stopping = False
        self.state = "starting"
        spawned, self._spawned = self._spawned, None
        try:
            return self._launch(restart=False, spawned=spawned)
        except BaseException:
            self.state = "down"
            raise

    def _spawn(self) -> tuple[subprocess.Popen, bytes]:
        token = secrets.token_bytes(32)
        proc = subprocess.Popen(
            [sys.executable, "-m", self.module],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=self.env,
            start_new_session=True,  # a Ctrl-C at the terminal is this process's to handle
        )
        try:
            assert proc.stdin is not None
            proc.stdin.write((json.dumps({"token": token.hex()}) + "\n").encode())
            proc.stdin.flush()
        except BaseException:
            self._kill(proc)
            raise
        return proc, token

    def _launch(
        self, *, restart: bool, spawned: tuple[subprocess.Popen, bytes] | None = None
    ) -> Any:
        proc, token = spawned or self._spawn()
        try:
            port = self._read_port(proc)
            link = SocketTransport(
                port,
                token,
                on_frame=self._frame,
                on_lost=lambda: self._link_lost(proc),
                call_timeout_s=self.call_timeout_s,
            )
            opened = None
            if self.config is not None:
                opened = link.call(
                    "host.open",
                    [self.config],
                    {"restart": restart},
                    timeout_s=self.open_timeout_s,
                )
        except BaseException:
            self._kill(proc)
            raise
        with self._lock:
            self._proc, self._link, self.opened = proc, link, opened
            self.port, self.token = port, token
            self.state = "up"
        threading.Thread(target=self._watch, args=(proc,), daemon=True, name="host-watcher").start()
        log.info("simulation host up (pid %d, port %d)", proc.pid, port)
        connected = self.on_connected
        if connected is not None:
            try:
                connected()
            except Exception:  # the listener's trouble must not undo a started host
                log.exception("simulation host: the connection listener failed")
        return opened

    def open(self, config: Mapping[str, Any]) -> Any:
        """Open the running host again with ``config`` (after :meth:`close_host`); later
        restarts use it too. Returns what ``host.open`` returned."""
        self.config = dict(config)
        self.opened = self.call(
            "host.open", [self.config], {"restart": False}, timeout_s=self.open_timeout_s
        )
        return self.opened

    def close_host(self) -> None:
        """Close the host's simulations in order (``host.close``); the child stays up."""
        self.call("host.close", [], {}, timeout_s=self.open_timeout_s)

    def _read_port(self, proc: subprocess.Popen) -> int:
        assert proc.stdout is not None
        deadline = time.monotonic() + self.start_timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise HostUnavailableError(
                    f"the simulation host did not listen within {self.start_timeout_s:g} s"
                )
            ready, _, _ = select.select([proc.stdout], [], [], min(left, 1.0))
            if ready:
                line = proc.stdout.readline(4096)
                if not line:
                    code = proc.wait()
                    raise HostUnavailableError(f"the simulation host exited at start (code {code})")
                port = json.loads(line).get("port")
                if type(port) is not int:
                    raise HostUnavailableError(f"the simulation host said {line[:100]!r}")
                return port

    def _frame(self, key: str, payload: bytes) -> None:
        handler = self.on_frame
        if handler is not None:
            handler(key, payload)

    def _link_lost(self, proc: subprocess.Popen) -> None:
        # a live child we cannot talk to is no use: end it, and the watcher takes over
        if not self._stopping and proc is self._proc:
            self._kill(proc)

    def _watch(self, proc: subprocess.Popen) -> None:
        code = proc.wait()
        with self._lock:
            if proc is not self._proc or self._stopping:
                return
            link, self._link, self._proc = self._link, None, None
            self._exit_code = code
            restart = self.restarts < self.max_restarts
            self.state = "restarting" if restart else "down"
        if link is not None:
            link.close()
        log.error("simulation host (pid %d) exited with code %s", proc.pid, code)
        if not restart:
            return
        self.restarts += 1
        try:
            self._launch(restart=True)
        except Exception:
            log.exception("simulation host could not be restarted")
            self.state = "down"

    @staticmethod
    def _kill(proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass

    def stop(self, timeout_s: float = 30.0) -> None:
        """Close the host in order (``host.close``), then end the child."""
        self._stopping = True
        spawned, self._spawned = self._spawned, None
        if spawned is not None:  # spawned, never started
            self._kill(spawned[0])
        with self._lock:
            proc, link = self._proc, self._link
            self._proc = self._link = None
            self.state = "stopped"
        if link is not None:
            try:
                link.call("host.close", [], {}, timeout_s=self.open_timeout_s)
            except Exception:
                log.exception("simulation host did not close in order")
            link.close()
        if proc is None:
            return
        assert proc.stdin is not None
        try:
            proc.stdin.close()  # the child's signal to exit
        except OSError:
            pass
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            log.error("simulation host (pid %d) did not exit; killing it", proc.pid)
        self._kill(proc)
