"""Tokens: exchange an API key (or a token) for a fresh JWT; say who the caller is."""

from __future__ import annotations

from fastapi import APIRouter

from freeagentics.server.api.schemas import PrincipalOut, TokenOut, TokenRequest, error_responses
from freeagentics.server.auth import issue_token
from freeagentics.server.deps import SettingsDep, Viewer

__all__ = ["router"]

router = APIRouter(prefix="/auth", tags=["auth"], responses=error_responses(401))


@router.post("/token", response_model=TokenOut, summary="Issue a JWT for the caller")
def token(principal: Viewer, settings: SettingsDep, body: TokenRequest | None = None) -> TokenOut:
    """A Bearer token carrying the caller's name and role."""
    ttl = (body.ttl_seconds if body else None) or settings.token_ttl_seconds
    return TokenOut(
        access_token=issue_token(settings, principal.name, principal.role, ttl),
        expires_in=ttl,
        role=principal.role.name.lower(),
    )


@router.get("/me", response_model=PrincipalOut, summary="The authenticated caller")
def me(principal: Viewer) -> PrincipalOut:
    """Name and role of whoever sent the request."""
    return PrincipalOut(name=principal.name, role=principal.role.name.lower())
