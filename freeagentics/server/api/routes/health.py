"""Liveness and readiness (the database included); no authentication, no rate limit.

Liveness is answered on the event loop itself (``async def``, no database, no lock):
it never waits for the worker threads, which busy routes may all be using.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from freeagentics.server.api.schemas import Health
from freeagentics.server.deps import ServiceDep, SettingsDep

__all__ = ["router"]

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/live", response_model=Health, summary="The process is up")
async def live(request: Request) -> Health:
    """Always 200 while the server answers."""
    return Health(status="ok", mode=request.app.state.settings.mode)


@router.get(
    "/ready",
    response_model=Health,
    summary="Ready to serve: the database answers",
    responses={503: {"model": Health}},
)
def ready(request: Request, settings: SettingsDep, service: ServiceDep) -> Health | JSONResponse:
    """200 when the database answers a query, 503 otherwise."""
    try:
        with service.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception as exc:
        body = Health(status="unavailable", mode=settings.mode, database=type(exc).__name__)
        return JSONResponse(body.model_dump(), status_code=503)
    return Health(status="ok", mode=settings.mode, database="ok", simulations=len(service.ids()))
