"""The REST API: one router per resource under ``/api/v1``."""

from __future__ import annotations

from fastapi import APIRouter

from freeagentics.server.api.routes import (
    agents,
    auth,
    coalitions,
    health,
    knowledge,
    models,
    simulations,
)

__all__ = ["API_PREFIX", "api_router"]

API_PREFIX = "/api/v1"

api_router = APIRouter(prefix=API_PREFIX)
for _module in (health, auth, simulations, agents, coalitions, knowledge, models):
    api_router.include_router(_module.router)
