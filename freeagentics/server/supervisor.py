"""``freeagentics serve --workers N``: N API worker processes on one port, one simulation host.

The supervisor (the ``serve`` process) owns three things::

    clients ──► listening socket (bound here, shared) ──► API workers 0..N-1
                                                            │ calls (token-checked socket)
                 frames once per topic, through Redis ◄──── simulation host (one process)

* the **listening socket**, bound before anything starts (a port in use fails at once)
  and inherited by every worker: the kernel hands each new connection to one worker;
  the port stays held while a worker is replaced, and connections wait in its queue;
* the **simulation host** (a :class:`~freeagentics.hosts.LocalHostProcess` running
  :mod:`freeagentics.server.hostproc`): opened here with the settings (database,
  restores, demo) and restarted by its keeper when it dies (``host_max_restarts``);
  it publishes each topic's frames once to Redis, where every worker takes them;
* the **workers** (:mod:`freeagentics.server.worker`), started with the host, each told
  on its stdin its number, the socket, the settings and where the host listens (port and
  token), again whenever that changes. No file or environment variable carries the token.

Supervision: a worker that exits is **restarted** (same number, new process), unless
workers died more than :data:`MAX_WORKER_DEATHS` times within :data:`DEATH_WINDOW_S`:
then the server stops in order and exits with code 1 (a crash loop serves nobody). A
host down for good leaves the workers answering 503 with the reason, as one process
does. SIGINT or SIGTERM stop the workers first (uvicorn's graceful shutdown; SIGKILL
after :data:`~freeagentics.server.worker.GRACE_S` plus a margin), then the host (every
simulation stopped, storage flushed); the exit code is 0. Every child is in a session
of its own, so a Ctrl-C at the terminal reaches only the supervisor, which stops them
in that order. Nothing outlives the supervisor: each child watches its stdin, which the
operating system closes when the supervisor dies, however it dies.

Several workers need PostgreSQL and Redis (:func:`missing_for_workers`): SQLite is one
file on one machine, and the frames, the shared admission budgets and the workers'
metrics travel through Redis (with ``redis_url`` set, every worker spends the same
budgets, and every worker's ``/metrics`` shows them all: :mod:`.worker_metrics`, whose
entries of a previous run the supervisor clears when it starts).
"""

from __future__ import annotations

import collections
import json
import logging
import logging.config
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

from freeagentics.hosts import LocalHostProcess, child_environment
from freeagentics.server import HOST_PROGRAM, WORKER_PROGRAM
from freeagentics.server.logs import log_config
from freeagentics.server.settings import Settings
from freeagentics.server.worker import GRACE_S
from freeagentics.server.worker_metrics import clear_worker_metrics

__all__ = [
    "DEATH_WINDOW_S",
    "MAX_WORKER_DEATHS",
    "Supervisor",
    "missing_for_workers",
]

log = logging.getLogger("freeagentics.server.supervisor")

#: worker deaths tolerated within :data:`DEATH_WINDOW_S` before the server stops
MAX_WORKER_DEATHS = 5
DEATH_WINDOW_S = 60.0
#: the listening socket's queue of connections not yet accepted by a worker
BACKLOG = 4096
#: seconds between looks at the workers and the host
POLL_S = 0.1


def missing_for_workers(settings: Settings) -> list[str]:
    """What several API workers need and ``settings`` lack, in words (empty: nothing)."""
    missing = []
    url = settings.database_url
    if url is None:
        missing.append(
            "PostgreSQL: FREEAGENTICS_DATABASE_URL is not set (the default is a SQLite file); "
            "set a postgresql:// URL"
        )
    else:
        from sqlalchemy.engine import make_url

        if make_url(url).get_backend_name() != "postgresql":
            backend = make_url(url).get_backend_name()
            missing.append(
                f"PostgreSQL: FREEAGENTICS_DATABASE_URL names {backend}; set a postgresql:// URL"
            )
    if not settings.redis_url:
        missing.append(
            "Redis: FREEAGENTICS_REDIS_URL is not set (frames and admission budgets are "
            "shared through it); set a redis:// URL"
        )
    if settings.simulation_host != "process":
        missing.append(
            f"a simulation host process: FREEAGENTICS_SIMULATION_HOST is "
            f"{settings.simulation_host!r}, which keeps simulations in each worker; "
            "set 'process'"
        )
    return missing


def redis_unreachable(url: str, timeout_s: float = 3.0) -> str | None:
    """Why Redis at ``url`` does not answer, or None when it does."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
    try:
        client.ping()
    except redis.RedisError as exc:
        return f"Redis at {url} does not answer: {exc}"
    finally:
        client.close()
    return None


class _Stop(BaseException):
    """A signal arrived before the workers were being watched: unwind and stop."""


class Supervisor:
    """N API workers and one simulation host for ``settings`` (``settings.workers``).

    :meth:`run` blocks until a signal or a crash loop and returns the exit code.
    """

    def __init__(self, settings: Settings, *, poll_s: float = POLL_S):
        self.settings = settings
        self.count = settings.workers
        self.poll_s = poll_s
        self.host = LocalHostProcess(
            HOST_PROGRAM,
            settings.model_dump(mode="json"),
            max_restarts=settings.host_max_restarts,
            call_timeout_s=settings.host_call_timeout_seconds,
        )
        self.workers: list[subprocess.Popen | None] = [None] * self.count
        #: when workers died lately (at most one more than tolerated is kept)
        self.deaths: collections.deque[float] = collections.deque(maxlen=MAX_WORKER_DEATHS + 1)
        self.listener: socket.socket | None = None
        self._news: dict[str, Any] | None = None  # what the workers were last told of the host
        self._stop = threading.Event()
        self._watching = False
        self._env = child_environment()

    # ------------------------------------------------------------------ run
    def run(self) -> int:
        """Serve until SIGINT or SIGTERM (0) or a crash loop of workers or a host that
        does not start (1); everything started is stopped in order before returning."""
        handlers = {s: signal.signal(s, self._signalled) for s in (signal.SIGINT, signal.SIGTERM)}
        code = 1
        try:
            self.listener = _listen(self.settings.host, self.settings.port)
            if self.settings.redis_url:  # this run's metric sums start from zero
                clear_worker_metrics(self.settings.redis_url, self.settings.ws_redis_prefix)
            self.host.spawn()  # the host and the workers import at the same time
            for index in range(self.count):
                self._start_worker(index)
            try:
                self.host.start()
            except Exception as exc:
                log.error("the simulation host did not start: %s", exc)
                return 1
            self._tell_workers()
            log.info(
                "%d API workers on %s:%d, simulation host pid %s",
                self.count,
                self.settings.host,
                self.settings.port,
                self.host.pid,
            )
            code = self._watch()
        except _Stop:
            code = 0
        finally:
            self._watching = True  # a second signal changes nothing now
            self._shutdown()
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
        return code

    def _signalled(self, signum: int, _frame: Any) -> None:
        self._stop.set()
        if not self._watching:
            raise _Stop()

    def _watch(self) -> int:
        self._watching = True
        while not self._stop.wait(self.poll_s):
            self._tell_workers()
            for index, proc in enumerate(self.workers):
                code = None if proc is None else proc.poll()
                if proc is None or code is None:
                    continue
                log.error("API worker %d (pid %d) exited with code %s", index, proc.pid, code)
                _close_stdin(proc)
                now = time.monotonic()
                self.deaths.append(now)
                if len(self.deaths) > MAX_WORKER_DEATHS and now - self.deaths[0] < DEATH_WINDOW_S:
                    log.error(
                        "API workers died %d times within %g s; stopping the server",
                        len(self.deaths),
                        DEATH_WINDOW_S,
                    )
                    return 1
                self._start_worker(index)
        return 0

    # ------------------------------------------------------------------ workers
    def _start_worker(self, index: int) -> None:
        assert self.listener is not None
        fd = self.listener.fileno()
        proc = subprocess.Popen(
            [sys.executable, "-m", WORKER_PROGRAM],
            stdin=subprocess.PIPE,
            env=self._env,
            pass_fds=(fd,),
            start_new_session=True,
        )
        self.workers[index] = proc
        settings = self.settings.model_dump(mode="json")
        _send(proc, {"index": index, "fd": fd, "settings": settings, "host": self._news})
        log.info("API worker %d started (pid %d)", index, proc.pid)

    def host_news(self) -> dict[str, Any]:
        """Where the host listens now, as the workers are told (see :mod:`.worker`)."""
        host = self.host
        up = host.state == "up" and host.port is not None and host.token is not None
        return {
            "port": host.port if up else None,
            "token": host.token.hex() if up and host.token else None,
            "state": host.state,
            "restarts": host.restarts,
            "pid": host.pid,
            "why": None if up else host.why(),
        }

    def _tell_workers(self) -> None:
        news = self.host_news()
        if news == self._news:
            return
        self._news = news
        for proc in self.workers:
            if proc is not None:
                _send(proc, {"host": news})

    # ------------------------------------------------------------------ stop
    def _shutdown(self) -> None:
        """Workers first (graceful, then killed), then the socket, then the host."""
        running = [p for p in self.workers if p is not None]
        waiting = self._news is None  # workers still waiting for a host to start serving
        stopping = {"port": None, "state": "down", "why": "the server is stopping"}
        for proc in running:
            if proc.poll() is None:
                if waiting:  # so that their start ends, and uvicorn can act on the signal
                    _send(proc, {"host": stopping})
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + GRACE_S + 5.0
        for proc in running:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("API worker (pid %d) did not stop; killing it", proc.pid)
                proc.kill()
                proc.wait()
            _close_stdin(proc)
        if self.listener is not None:
            self.listener.close()
        self.host.stop()


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket every worker inherits."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
    return socket.create_server((host, port), family=family, backlog=BACKLOG)


def _send(proc: subprocess.Popen, message: dict[str, Any]) -> None:
    """One JSON line to a worker's stdin (a worker gone meanwhile is the watcher's)."""
    try:
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(message).encode() + b"\n")
        proc.stdin.flush()
    except (OSError, ValueError):  # a broken pipe, or one already closed
        pass


def _close_stdin(proc: subprocess.Popen) -> None:
    if proc.stdin is not None:
        try:
            proc.stdin.close()
        except OSError:
            pass


def serve_workers(settings: Settings) -> int:
    """Run ``settings.workers`` API workers and their host until stopped; the exit code."""
    logging.config.dictConfig(log_config(settings.log_format))
    return Supervisor(settings).run()
