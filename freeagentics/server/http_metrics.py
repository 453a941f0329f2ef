"""HTTP request latency and errors by route, for ``/metrics`` and the alert rules.

A pure ASGI middleware (no per-request task or body buffering): it times each HTTP
request from its arrival to its response's last byte and counts 4xx/5xx responses.
Labels are bounded whatever the traffic: ``route`` is the matched route's template
(``/api/v1/simulations/{sim_id}``), ``<unmatched>`` for paths no route serves, and
``method`` one of the standard methods or ``OTHER``. WebSocket and lifespan scopes pass
through untouched.

FastAPI keeps included routers as they were written, so a matched route knows its
template only below its router's prefix (``/simulations/{sim_id}``); the prefix is the
part of the request's path before the part the route matched. Router prefixes are
fixed text, and a cap on distinct routes (:data:`MAX_ROUTES`, then ``<other>``) keeps
the labels bounded even if one were not.
"""

from __future__ import annotations

import time
from typing import Any

from freeagentics.server.metrics import ServerMetrics

__all__ = ["MAX_ROUTES", "METHODS", "OTHER", "UNMATCHED", "HttpMetricsMiddleware"]

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "<unmatched>"
OTHER = "<other>"
MAX_ROUTES = 256


def _template(route: Any, path: str) -> str:
    """The whole template of ``route`` matched on ``path``: its router's prefix + its own."""
    own = getattr(route, "path_format", None) or getattr(route, "path", None)
    if not isinstance(own, str):
        return UNMATCHED
    regex = getattr(route, "path_regex", None)
    if regex is not None:
        for i, char in enumerate(path):
            if char == "/" and regex.match(path[i:]):
                return path[:i] + own
    return own


class HttpMetricsMiddleware:
    """Observe ``metrics.http_seconds`` and ``metrics.http_errors`` for every HTTP request."""

    def __init__(self, app: Any, metrics: ServerMetrics) -> None:
        self.app = app
        self.metrics = metrics
        self._seen: set[str] = {UNMATCHED}

    def _route(self, scope: dict[str, Any]) -> str:
        """The matched route's whole template; :data:`UNMATCHED` when none matched."""
        route = _template(scope.get("route"), str(scope.get("path", "")))
        if route not in self._seen:
            if len(self._seen) >= MAX_ROUTES:
                return OTHER
            self._seen.add(route)
        return route

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # an exception before the response started is answered 500

        async def send_and_watch(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        finally:
            method = scope.get("method", "GET")
            method = method if method in METHODS else "OTHER"
            route = self._route(scope)
            self.metrics.http_seconds.labels(method, route).observe(time.perf_counter() - start)
            if status >= 400:
                self.metrics.http_errors.labels(method, route, str(status)).inc()
