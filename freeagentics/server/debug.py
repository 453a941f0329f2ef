"""Debugging hooks, off unless their ``FREEAGENTICS_DEBUG_*`` variable is set.

* ``FREEAGENTICS_DEBUG_DELAY_MS`` delays every HTTP response. The load-testing
  framework's own tests use it to check that a known delay shows up in what it
  measures; it also lets anyone rehearse how clients behave against a slow server.
  WebSocket traffic is not delayed (the middleware only sees HTTP requests).
* ``FREEAGENTICS_DEBUG_HOST_STALL`` (``METHOD:SECONDS[,METHOD:SECONDS...]``, e.g.
  ``world:60,step:60``) makes the simulation host program sleep that long before it
  runs each call of those methods: a host that hangs, to rehearse (and test) how the
  API answers when a call misses its deadline. Read by the host program, in its own
  process (a host process, or a Ray actor started with the variable).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the host program reads its hook without loading the web server
    from fastapi import FastAPI
    from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["DELAY_VARIABLE", "STALL_VARIABLE", "host_stalls", "install_debug_delay"]

DELAY_VARIABLE = "FREEAGENTICS_DEBUG_DELAY_MS"
STALL_VARIABLE = "FREEAGENTICS_DEBUG_HOST_STALL"


class _Delay:
    def __init__(self, app: ASGIApp, seconds: float):
        self.app, self.seconds = app, seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await asyncio.sleep(self.seconds)
        await self.app(scope, receive, send)


def install_debug_delay(app: FastAPI) -> None:
    """Add the delay middleware when ``FREEAGENTICS_DEBUG_DELAY_MS`` is positive."""
    millis = float(os.environ.get(DELAY_VARIABLE, "0") or 0)
    if millis > 0:
        app.add_middleware(_Delay, seconds=millis / 1e3)


def host_stalls(env: Mapping[str, str] | None = None) -> dict[str, float]:
    """``{method: seconds}`` from ``FREEAGENTICS_DEBUG_HOST_STALL`` in ``env`` (default:
    this process's environment); empty when it is unset. A malformed entry raises
    :class:`ValueError` naming it (a hook that silently did nothing would mislead)."""
    text = (os.environ if env is None else env).get(STALL_VARIABLE, "").strip()
    stalls: dict[str, float] = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        method, _, seconds = entry.rpartition(":")
        try:
            value = float(seconds)
        except ValueError:
            value = -1.0
        if not method or not value >= 0:
            raise ValueError(f"{STALL_VARIABLE}: {entry!r} is not METHOD:SECONDS")
        stalls[method] = value
    return stalls
