"""Tokens: exchange an API key (or a token) for a fresh JWT; say who the caller is."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.exceptions import HTTPException

from freeagentics.server.api.schemas import PrincipalOut, TokenOut, TokenRequest, error_responses
from freeagentics.server.auth import issue_token_for
from freeagentics.server.deps import SettingsDep, Viewer

__all__ = ["router"]

router = APIRouter(prefix="/auth", tags=["auth"], responses=error_responses(401))


@router.post("/token", response_model=TokenOut, summary="Issue a JWT for the caller")
def token(principal: Viewer, settings: SettingsDep, body: TokenRequest | None = None) -> TokenOut:
    """A Bearer token carrying the caller's name and role, bound to the caller's API key.

    A token minted with a token expires no later than the one presented, so tokens
    cannot renew themselves; ``ttl_seconds`` over ``token_max_ttl_seconds`` is a 422.
    """
    ttl = (body.ttl_seconds if body else None) or settings.token_ttl_seconds
    if ttl > settings.token_max_ttl_seconds:
        raise HTTPException(
            422,
            f"ttl_seconds {ttl} is over the maximum token lifetime "
            f"{settings.token_max_ttl_seconds} s (token_max_ttl_seconds)",
        )
    access_token, lifetime = issue_token_for(settings, principal, ttl)
    return TokenOut(
        access_token=access_token, expires_in=lifetime, role=principal.role.name.lower()
    )


@router.get("/me", response_model=PrincipalOut, summary="The authenticated caller")
def me(principal: Viewer) -> PrincipalOut:
    """Name and role of whoever sent the request."""
    return PrincipalOut(name=principal.name, role=principal.role.name.lower())
