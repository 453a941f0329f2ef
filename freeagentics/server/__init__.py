"""The FastAPI server: REST routes, WebSocket hub, authentication and metrics."""

from __future__ import annotations

__all__ = ["HOST_PROGRAM", "WORKER_PROGRAM"]

#: the program of a server's simulation host process (:mod:`freeagentics.server.hostproc`)
HOST_PROGRAM = "freeagentics.server.hostproc"
#: the program of an API worker of ``serve --workers N`` (:mod:`freeagentics.server.worker`)
WORKER_PROGRAM = "freeagentics.server.worker"
