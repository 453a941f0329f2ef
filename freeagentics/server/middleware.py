"""HTTP middleware: request size limit, rate limiting, security headers and CORS.

The first three are plain ASGI middleware (no per-request task or body copy); each
answers in the API's error format. WebSocket traffic passes through untouched except
for CORS, which Starlette applies to HTTP only.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from typing import Any

import orjson
from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from freeagentics.server.settings import Settings

__all__ = [
    "RateLimitMiddleware",
    "RequestTooLarge",
    "SecurityHeadersMiddleware",
    "SizeLimitMiddleware",
    "TokenBuckets",
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


class TokenBuckets:
    """Per-client token buckets: ``capacity`` tokens, refilled at ``rate`` per second.

    At most ``max_clients`` buckets are kept (least recently used dropped), so memory
    stays bounded whatever the number of clients.
    """

    def __init__(self, capacity: float, rate: float, max_clients: int = 10_000):
        self.capacity, self.rate, self.max_clients = capacity, rate, max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, client: str, now: float | None = None) -> float:
        """Spend one token; 0.0 when allowed, else seconds until a token is available."""
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.pop(client, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[client] = (tokens, now)
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait


def _client_key(scope: Scope) -> str:
    """Who is asking: a digest of the credentials sent, else the client address."""
    headers = dict(scope["headers"])
    credential = headers.get(b"authorization") or headers.get(b"x-api-key")
    if credential:
        return "cred:" + hashlib.sha256(credential).hexdigest()[:32]
    client = scope.get("client")
    return f"addr:{client[0] if client else 'unknown'}"


class RateLimitMiddleware:
    """429 with ``Retry-After`` once a client spends its per-minute budget (health exempt)."""

    def __init__(self, app: ASGIApp, per_minute: int):
        self.app = app
        self.buckets = TokenBuckets(capacity=per_minute, rate=per_minute / 60.0)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(RATE_EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        wait = self.buckets.take(_client_key(scope))
        if wait > 0:
            retry = str(max(1, int(wait + 0.999))).encode()
            await _reply(
                send,
                429,
                f"rate limit exceeded; retry in {retry.decode()} s",
                "rate_limited",
                headers=[(b"retry-after", retry)],
            )
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


def install_middleware(app: FastAPI, settings: Settings) -> None:
    """Add the middleware in order: CORS outermost, then headers, rate limit, size limit."""
    app.add_middleware(SizeLimitMiddleware, limit=settings.max_request_bytes)
    app.add_middleware(RateLimitMiddleware, per_minute=settings.rate_limit_per_minute)
    app.add_middleware(SecurityHeadersMiddleware, hsts=not settings.development)
    options: dict[str, Any] = {
        "allow_origins": settings.cors_origins,
        "allow_methods": ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        "allow_headers": ["Authorization", "X-API-Key", "Content-Type"],
        "allow_credentials": "*" not in settings.cors_origins,
        "max_age": 600,
    }
    app.add_middleware(CORSMiddleware, **options)
