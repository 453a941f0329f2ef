"""Who is calling, and what may they do: Bearer JWTs, API keys and three roles.

:func:`authenticate` turns the ``Authorization`` and ``X-API-Key`` headers into a
:class:`Principal`; :func:`require` checks its role. Both raise :class:`AuthError`,
whose ``status`` is 401 (who are you?) or 403 (not allowed). REST dependencies and
the WebSocket layer share these functions so both enforce the same rules.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING

import jwt

if TYPE_CHECKING:
    from freeagentics.server.settings import Settings

__all__ = [
    "ANONYMOUS_DEV",
    "AuthError",
    "Principal",
    "Role",
    "authenticate",
    "issue_token",
    "require",
]


class Role(IntEnum):
    """Roles in increasing power; a higher role may do whatever a lower one may."""

    VIEWER = 1
    OPERATOR = 2
    ADMIN = 3

    @classmethod
    def parse(cls, name: str) -> Role:
        """The role called ``name`` (case-insensitive); :class:`AuthError` if none is."""
        try:
            return cls[name.upper()]
        except (KeyError, AttributeError):
            raise AuthError(f"unknown role {name!r}", status=401) from None


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    name: str
    role: Role


#: The caller in development mode when no credentials are sent.
ANONYMOUS_DEV = Principal("anonymous-dev", Role.ADMIN)


class AuthError(Exception):
    """Authentication (``status`` 401) or authorisation (``status`` 403) failed."""

    def __init__(self, message: str, *, status: int = 401):
        super().__init__(message)
        self.status = status
        self.message = message


def issue_token(settings: Settings, name: str, role: Role, ttl_seconds: int | None = None) -> str:
    """A signed JWT naming ``name`` with ``role``, expiring after ``ttl_seconds``."""
    now = int(time.time())
    ttl = settings.token_ttl_seconds if ttl_seconds is None else ttl_seconds
    claims = {"sub": name, "role": role.name.lower(), "iat": now, "exp": now + ttl}
    return jwt.encode(claims, settings.secret_key, algorithm=settings.jwt_algorithm)


def _from_token(authorization: str, settings: Settings) -> Principal:
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("Authorization header must be 'Bearer <token>'")
    try:
        claims = jwt.decode(
            token.strip(),
            settings.secret_key,
            algorithms=[settings.jwt_algorithm],
            options={"require": ["exp", "sub"]},
        )
    except jwt.ExpiredSignatureError:
        raise AuthError("token has expired") from None
    except jwt.InvalidTokenError as exc:
        raise AuthError(f"invalid token: {exc}") from None
    role = claims.get("role")
    if not isinstance(role, str):
        raise AuthError("invalid token: claim 'role' is missing")
    return Principal(str(claims["sub"]), Role.parse(role))


def _from_api_key(api_key: str, settings: Settings) -> Principal:
    for key, role in settings.api_keys.items():
        if hmac.compare_digest(key.encode(), api_key.encode()):
            return Principal(f"api-key:{key[-4:]}", Role.parse(role))
    raise AuthError("unknown API key")


def authenticate(authorization: str | None, api_key: str | None, settings: Settings) -> Principal:
    """The caller named by a ``Bearer`` token or an API key.

    Credentials that are sent must be valid, in every mode. With none, development
    mode yields :data:`ANONYMOUS_DEV` (an admin); production raises 401.
    """
    if authorization:
        return _from_token(authorization, settings)
    if api_key:
        return _from_api_key(api_key, settings)
    if settings.development:
        return ANONYMOUS_DEV
    raise AuthError("authentication required: send 'Authorization: Bearer <token>' or X-API-Key")


def require(principal: Principal, role: Role) -> None:
    """Raise :class:`AuthError` (403) unless ``principal`` holds ``role`` or higher."""
    if principal.role < role:
        raise AuthError(
            f"{principal.name} has role {principal.role.name.lower()}; "
            f"this needs {role.name.lower()}",
            status=403,
        )
