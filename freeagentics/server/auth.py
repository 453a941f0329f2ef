"""Who is calling, and what may they do: Bearer JWTs, API keys and three roles.

:func:`authenticate` turns the ``Authorization`` and ``X-API-Key`` headers into a
:class:`Principal`; :func:`require` checks its role. Both raise :class:`AuthError`,
whose ``status`` is 401 (who are you?) or 403 (not allowed). REST dependencies and
the WebSocket layer share these functions so both enforce the same rules.

Tokens stay tied to where they came from. One minted from an API key carries the
key's fingerprint (``kid``, an HMAC of the key under the secret), checked against the
configured keys on every request: removing the key revokes its tokens, across
restarts, and lowering its role lowers theirs. A token minted from a token carries the
parent's ``kid`` and never outlives it; no token may live longer than
``token_max_ttl_seconds``. Tokens minted by the anonymous development caller are
marked ``dev`` and refused outside development.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass, field
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
    "issue_token_for",
    "key_id",
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
    """An authenticated caller.

    ``key_id`` names the API key behind the caller (directly or through tokens minted
    from it), ``expires_at`` the Unix time the caller's token expires (None for a key),
    and ``dev`` marks the anonymous development caller and tokens it minted.
    """

    name: str
    role: Role
    key_id: str | None = None
    expires_at: int | None = field(default=None, compare=False)
    dev: bool = False

    @property
    def rate_key(self) -> str:
        """Whose budget a request spends: the key behind it, else the name."""
        return f"key:{self.key_id}" if self.key_id else f"name:{self.name}"


#: The caller in development mode when no credentials are sent.
ANONYMOUS_DEV = Principal("anonymous-dev", Role.ADMIN, dev=True)


class AuthError(Exception):
    """Authentication (``status`` 401) or authorisation (``status`` 403) failed."""

    def __init__(self, message: str, *, status: int = 401):
        super().__init__(message)
        self.status = status
        self.message = message


def key_id(settings: Settings, api_key: str) -> str:
    """The fingerprint tokens minted from ``api_key`` carry (reveals nothing of the key)."""
    digest = hmac.new(settings.secret_key.encode(), api_key.encode(), hashlib.sha256)
    return digest.hexdigest()[:24]


def issue_token(
    settings: Settings,
    name: str,
    role: Role,
    ttl_seconds: int | None = None,
    *,
    kid: str | None = None,
    not_after: int | None = None,
    dev: bool = False,
) -> str:
    """A signed JWT naming ``name`` with ``role``, expiring after ``ttl_seconds`` but not
    after ``not_after``; ``kid`` binds it to an API key (see the module docstring)."""
    now = int(time.time())
    ttl = settings.token_ttl_seconds if ttl_seconds is None else ttl_seconds
    exp = now + ttl if not_after is None else min(now + ttl, not_after)
    claims: dict[str, object] = {"sub": name, "role": role.name.lower(), "iat": now, "exp": exp}
    if kid is not None:
        claims["kid"] = kid
    if dev:
        claims["dev"] = True
    return jwt.encode(claims, settings.secret_key, algorithm=settings.jwt_algorithm)


def issue_token_for(settings: Settings, principal: Principal, ttl_seconds: int) -> tuple[str, int]:
    """A token for ``principal`` and its lifetime in seconds: bound to the same key, and
    never outliving the principal's own token."""
    lifetime = ttl_seconds
    if principal.expires_at is not None:
        lifetime = min(lifetime, principal.expires_at - int(time.time()))
    token = issue_token(
        settings,
        principal.name,
        principal.role,
        ttl_seconds,
        kid=principal.key_id,
        not_after=principal.expires_at,
        dev=principal.dev,
    )
    return token, max(0, lifetime)


def _key_role(kid: str, settings: Settings) -> Role:
    """The current role of the API key with fingerprint ``kid``; 401 once it is gone."""
    for key, role in settings.api_keys.items():
        if hmac.compare_digest(key_id(settings, key), kid):
            return Role.parse(role)
    raise AuthError("token's API key has been revoked")


def _from_token(authorization: str, settings: Settings) -> Principal:
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("Authorization header must be 'Bearer <token>'")
    try:
        claims = jwt.decode(
            token.strip(),
            settings.secret_key,
            algorithms=[settings.jwt_algorithm],
            options={"require": ["exp", "iat", "sub"]},
        )
    except jwt.ExpiredSignatureError:
        raise AuthError("token has expired") from None
    except jwt.InvalidTokenError as exc:
        raise AuthError(f"invalid token: {exc}") from None
    role = claims.get("role")
    if not isinstance(role, str):
        raise AuthError("invalid token: claim 'role' is missing")
    exp, iat, kid, dev = claims["exp"], claims["iat"], claims.get("kid"), claims.get("dev", False)
    if not all(isinstance(t, int) for t in (exp, iat)):
        raise AuthError("invalid token: 'exp' and 'iat' must be integers")
    if exp - iat > settings.token_max_ttl_seconds:
        raise AuthError(
            f"token lifetime {exp - iat} s is over the maximum {settings.token_max_ttl_seconds} s"
        )
    if dev is not False and not settings.development:
        raise AuthError("token was minted by the anonymous development caller")
    granted = Role.parse(role)
    if kid is not None:
        if not isinstance(kid, str):
            raise AuthError("invalid token: claim 'kid' must be a string")
        granted = min(granted, _key_role(kid, settings))
    return Principal(str(claims["sub"]), granted, key_id=kid, expires_at=exp, dev=dev is True)


def _from_api_key(api_key: str, settings: Settings) -> Principal:
    for key, role in settings.api_keys.items():
        if hmac.compare_digest(key.encode(), api_key.encode()):
            return Principal(f"api-key:{key[-4:]}", Role.parse(role), key_id=key_id(settings, key))
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
