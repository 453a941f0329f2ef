"""Typed dependencies of the routes: settings, the service, the caller and role gates.

Routes declare what they need by type::

    def start(sim_id: int, service: ServiceDep, _: Operator) -> SimulationOut: ...

``Viewer``, ``Operator`` and ``Admin`` authenticate the caller (401 without valid
credentials outside development) and check the role (403 when too low).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from freeagentics.hosts import SimulationHost
from freeagentics.server.auth import Principal, Role, authenticate, require
from freeagentics.server.settings import Settings

__all__ = [
    "Admin",
    "Operator",
    "PrincipalDep",
    "ServiceDep",
    "SettingsDep",
    "Viewer",
    "api_key_scheme",
    "bearer_scheme",
    "get_principal",
    "get_service",
    "get_settings",
]

bearer_scheme = HTTPBearer(auto_error=False, description="A JWT from POST /api/v1/auth/token.")
api_key_scheme = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="A key from FREEAGENTICS_API_KEYS."
)


def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    return request.app.state.settings


def get_service(request: Request) -> SimulationHost:
    """The app's simulations: the service itself, or a proxy to the host process."""
    return request.app.state.service


SettingsDep = Annotated[Settings, Depends(get_settings)]
ServiceDep = Annotated[SimulationHost, Depends(get_service)]


def get_principal(
    request: Request,
    settings: SettingsDep,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
    _api_key: Annotated[str | None, Security(api_key_scheme)],
) -> Principal:
    """The authenticated caller (the security schemes above document the headers)."""
    principal = authenticate(
        request.headers.get("authorization"), request.headers.get("x-api-key"), settings
    )
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def _gate(role: Role) -> Callable[[Principal], Principal]:
    def gate(principal: PrincipalDep) -> Principal:
        require(principal, role)
        return principal

    gate.__name__ = f"require_{role.name.lower()}"
    return gate


Viewer = Annotated[Principal, Depends(_gate(Role.VIEWER))]
Operator = Annotated[Principal, Depends(_gate(Role.OPERATOR))]
Admin = Annotated[Principal, Depends(_gate(Role.ADMIN))]
