"""A debugging hook: ``FREEAGENTICS_DEBUG_DELAY_MS`` delays every HTTP response.

Off unless the variable is set to a positive number. The load-testing framework's own
tests use it to check that a known delay shows up in what it measures; it also lets
anyone rehearse how clients behave against a slow server. WebSocket traffic is not
delayed (the middleware only sees HTTP requests).
"""

from __future__ import annotations

import asyncio
import os

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["DELAY_VARIABLE", "install_debug_delay"]

DELAY_VARIABLE = "FREEAGENTICS_DEBUG_DELAY_MS"


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
