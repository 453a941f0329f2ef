"""The FastAPI server: REST routes, WebSocket hub, authentication and metrics."""

from __future__ import annotations

__all__: list[str] = []
