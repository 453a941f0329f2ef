"""HTTP middleware: request size limit, rate limiting, origin check, security headers, CORS.

The first three are plain ASGI middleware (no per-request task or body copy); each
answers in the API's error format. WebSocket traffic passes through untouched except
for CORS, which Starlette applies to HTTP only.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from freeagentics.server.gate import Gate, RateLimited, origin_refusal
from freeagentics.server.settings import Settings

__all__ = [
    "OriginMiddleware",
    "RateLimitMiddleware",
    "RequestTooLarge",
    "SecurityHeadersMiddleware",
    "SizeLimitMiddleware",
    "install_middleware",
]

RATE_EXEMPT_PREFIXES = ("/api/v1/health", "/metrics")
DOCS_PATHS = ("/docs", "/redoc", "/docs/oauth2-redirect")


async def _reply(send: Send, status: int, detail: str, kind: str, headers=()) -> None:
    body = orjson.dumps({"detail": detail, "type": kind})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestTooLarge(HTTPException):
    """A request body went past the limit while it was being read."""

    def __init__(self, limit: int):
        super().__init__(413, f"request body is larger than {limit} bytes")


class SizeLimitMiddleware:
    """Refuse bodies over ``limit`` bytes with 413, by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.limit
            except ValueError:
                await _reply(send, 400, "Content-Length is not a number", "bad_request")
                return
            if too_big:
                message = f"request body is larger than {self.limit} bytes"
                await _reply(send, 413, message, "too_large")
                return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise RequestTooLarge(self.limit)
            return message

        await self.app(scope, limited, send)


def _address(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


def _header(headers: dict[bytes, bytes], name: bytes) -> str | None:
    value = headers.get(name)
    return value.decode("latin-1") if value else None


class RateLimitMiddleware:
    """429 with ``Retry-After`` once a caller spends its per-minute budget (health exempt).

    The budget is the principal's when valid credentials are sent, else the address's;
    bad credentials spend the address's budget of failed authentications, after which
    every credentialed request from it is refused (see :mod:`~freeagentics.server.gate`).
    The route still authenticates on its own; this only decides whose budget is spent.
    """

    def __init__(self, app: ASGIApp, gate: Gate):
        self.app, self.gate = app, gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(RATE_EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        authorization = _header(headers, b"authorization")
        api_key = _header(headers, b"x-api-key")
        try:
            await self.gate.admit_request(_address(scope), authorization, api_key)
        except RateLimited as exc:
            retry = str(exc.retry_after).encode()
            await _reply(send, 429, exc.message, "rate_limited", headers=[(b"retry-after", retry)])
            return
        await self.app(scope, receive, send)


STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class OriginMiddleware:
    """403 for state-changing calls from a foreign browser ``Origin`` (CSRF; see
    :func:`~freeagentics.server.gate.origin_refusal`)."""

    def __init__(self, app: ASGIApp, settings: Settings):
        self.app, self.settings = app, settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in STATE_CHANGING:
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            reason = origin_refusal(headers, self.settings)
            if reason is not None:
                await _reply(send, 403, reason, "forbidden_origin")
                return
        await self.app(scope, receive, send)


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
API_CSP = b"default-src 'self'; frame-ancestors 'none'; base-uri 'none'"
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


class SecurityHeadersMiddleware:
    """Add the security headers to every HTTP response (HSTS outside development).

    The interactive docs load their scripts from a CDN, so they get no CSP.
    """

    def __init__(self, app: ASGIApp, hsts: bool):
        self.app, self.hsts = app, hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = list(SECURITY_HEADERS)
        if scope["path"] not in DOCS_PATHS:
            extra.append((b"content-security-policy", API_CSP))
        if self.hsts:
            extra.append(HSTS)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *(h for h in extra if h[0] not in present),
                ]
            await send(message)

        await self.app(scope, receive, with_headers)


def install_middleware(app: FastAPI, settings: Settings, gate: Gate) -> None:
    """Add the middleware in order: CORS outermost, then headers, origin check, rate
    limit (spending ``gate``'s budgets), size limit."""
    app.add_middleware(SizeLimitMiddleware, limit=settings.max_request_bytes)
    app.add_middleware(RateLimitMiddleware, gate=gate)
    app.add_middleware(OriginMiddleware, settings=settings)
    app.add_middleware(SecurityHeadersMiddleware, hsts=not settings.development)
    options: dict[str, Any] = {
        "allow_origins": settings.cors_origins,
        "allow_methods": ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        "allow_headers": ["Authorization", "X-API-Key", "Content-Type"],
        "allow_credentials": "*" not in settings.cors_origins,
        "max_age": 600,
    }
    app.add_middleware(CORSMiddleware, **options)
