"""Liveness and readiness (the simulation host and the database included); no
authentication, no rate limit.

Liveness is answered on the event loop itself (``async def``, no database, no lock, no
host): it never waits for the worker threads, which busy routes may all be using.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from freeagentics.hosts import HostUnavailableError
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
    """200 when the simulations' host answers and its database answers a query, 503
    otherwise (``database`` names the error, or says the host is unavailable)."""
    try:
        health = service.health()
    except HostUnavailableError as exc:
        body = Health(status="unavailable", mode=settings.mode, database="unknown", host=str(exc))
        return JSONResponse(body.model_dump(), status_code=503)
    if health["database"] != "ok":
        body = Health(status="unavailable", mode=settings.mode, database=health["database"])
        return JSONResponse(body.model_dump(), status_code=503)
    return Health(status="ok", mode=settings.mode, database="ok", simulations=health["simulations"])
