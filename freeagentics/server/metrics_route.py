"""``GET /metrics``: the app's metrics (:mod:`freeagentics.server.metrics`) for Prometheus.

A plain ``def`` route: FastAPI runs it on a worker thread, so a scrape that asks the
simulation host for its figures, or Redis for the other API workers'
(:mod:`.worker_metrics`), never holds up the event loop.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

__all__ = ["metrics_router"]

metrics_router = APIRouter(tags=["metrics"])


@metrics_router.get(
    "/metrics",
    response_class=Response,
    summary="Prometheus metrics",
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
def metrics(request: Request) -> Response:
    """Every metric in the Prometheus text format."""
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
