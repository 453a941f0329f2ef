"""An API worker: ``python -m freeagentics.server.worker``, one of ``serve --workers N``.

The supervisor (:mod:`freeagentics.server.supervisor`) starts it with a pipe on stdin
and writes JSON lines to it:

* first ``{"index": i, "fd": n, "settings": {...}, "host": NEWS or null}``: the
  worker's number, the listening socket it inherited (shared by every worker), the
  server's settings (a map of :class:`~freeagentics.server.settings.Settings` fields);
* then ``{"host": NEWS}`` whenever the simulation host moved: ``NEWS`` is ``{"port",
  "token" (hex), "state", "restarts", "pid", "why"}`` (``port`` null while the host does
  not listen), applied to the worker's :class:`~freeagentics.hosts.AttachedHost`.

The pipe carries the host's token (nothing is written to disk or the environment) and
is the worker's lifeline: when it ends (the supervisor is done with the worker, or died)
the worker shuts down, and exits within :data:`GRACE_S` plus a few seconds whatever
happens. SIGTERM shuts it down too (uvicorn's graceful shutdown).

The worker serves the app (:func:`~freeagentics.server.app.create_app`) with uvicorn on
the inherited socket; every HTTP response and WebSocket handshake carries
:data:`WORKER_HEADER` with its number. It holds no simulation: every call goes to the
host, and frames come from Redis (``frames_through_redis``). Its ``/metrics`` shows the
whole server: every worker publishes its figures to Redis (:mod:`.worker_metrics`).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import threading
from typing import IO, Any

from freeagentics.hosts import AttachedHost
from freeagentics.lifeline import stop_within

__all__ = ["GRACE_S", "WORKER_HEADER", "main", "point"]

log = logging.getLogger("freeagentics.server.worker")

#: the response header naming the worker that answered
WORKER_HEADER = "X-FreeAgentics-Worker"
#: seconds a worker's graceful shutdown may take before open connections are dropped
GRACE_S = 10.0
#: longest line the supervisor writes (settings with their API keys included)
MAX_LINE_BYTES = 1 << 20


def point(host: AttachedHost, news: dict[str, Any]) -> None:
    """Apply the supervisor's ``news`` of the host (see the module docstring)."""
    token = news.get("token")
    host.point(
        news.get("port"),
        bytes.fromhex(token) if token else None,
        state=news.get("state", "up"),
        restarts=int(news.get("restarts", 0)),
        pid=news.get("pid"),
        why=news.get("why"),
    )


def _follow(stream: IO[bytes], host: AttachedHost, server: Any) -> None:
    """Apply the host's news until the supervisor's pipe ends, then stop this worker."""
    while line := stream.readline(MAX_LINE_BYTES):
        try:
            point(host, json.loads(line)["host"])
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("a line from the supervisor was not understood: %s", exc)
    stop_within(lambda: setattr(server, "should_exit", True), GRACE_S + 5.0, "API worker")


def main() -> None:
    """Serve as an API worker for the supervisor that started this process."""
    stdin = sys.stdin.buffer
    try:
        start = json.loads(stdin.readline(MAX_LINE_BYTES))
        index, fd, values = int(start["index"]), int(start["fd"]), start["settings"]
    except (ValueError, KeyError, TypeError):
        sys.stderr.write("API worker: no start line on stdin; exiting\n")
        os._exit(2)

    import uvicorn

    from freeagentics.server.app import create_app
    from freeagentics.server.logs import log_config
    from freeagentics.server.settings import Settings
    from freeagentics.server.ws.wire import PROTOCOL as WS_PROTOCOL

    settings = Settings.model_validate(values)
    host = AttachedHost(call_timeout_s=settings.host_call_timeout_seconds)
    if start.get("host"):
        point(host, start["host"])
    app = create_app(settings, host=host, own_host=True, worker=index)
    config = uvicorn.Config(
        app,
        log_config=log_config(settings.log_format),
        ws=WS_PROTOCOL,
        ws_max_size=settings.ws_max_message_bytes,
        headers=[(WORKER_HEADER, str(index))],
        timeout_graceful_shutdown=GRACE_S,
    )
    server = uvicorn.Server(config)
    listener = socket.socket(fileno=fd)
    threading.Thread(
        target=_follow, args=(stdin, host, server), daemon=True, name="worker-lifeline"
    ).start()
    server.run(sockets=[listener])
    if not server.started:
        sys.exit(3)  # uvicorn's code for a failed start


if __name__ == "__main__":
    main()
