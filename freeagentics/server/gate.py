"""Admission before the application: rate budgets, failed-login lockout, origins.

One :class:`Gate` per app (``app.state.gate``), shared by the HTTP middleware and the
WebSocket endpoint so both paths spend the same budgets:

- requests per minute, keyed by the *principal* behind the credentials (the API key a
  token was minted from), not by the credential string, so minting tokens does not
  multiply the budget; anonymous requests are keyed by client address;
- failed authentications per minute per client address: once spent, every request
  from that address carrying credentials is refused (429) before they are checked, so
  guessing keys gains nothing, not even telling a right guess from a wrong one. The
  credentials are checked first, then the failure is spent (or, for good ones, the
  lockout looked at) in the same atomic call that spends the request, so concurrent
  guesses cannot all pass a budget that has one failure left;
- WebSocket handshakes per minute and connections held open, per client address.

The budgets live in a budget store: this process's memory
(:class:`~freeagentics.server.budgets.LocalBudgets`, the default), or, when
``redis_url`` is set, Redis (:class:`~freeagentics.server.shared_budgets.SharedBudgets`),
so every worker process that shares the Redis and ``shared_limits_prefix`` spends the
same budgets. Every check awaits the store and never blocks the event loop.

:func:`origin_refusal` says why a browser request from a foreign ``Origin`` must not
change state or open a WebSocket (CSRF, and DNS rebinding in development mode, where
anonymous callers are admins).
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry

from freeagentics.server.auth import AuthError, Principal, authenticate
from freeagentics.server.budgets import Budgets, LocalBudgets, Spend, TokenBuckets
from freeagentics.server.settings import Settings

__all__ = [
    "Gate",
    "RateLimited",
    "Ticket",
    "TokenBuckets",
    "gate_of",
    "install_gate",
    "make_gate",
    "origin_refusal",
]


def _retry_in(wait_s: float) -> int:
    return max(1, int(wait_s + 0.999))


class RateLimited(AuthError):
    """A budget is spent: answer 429 with ``Retry-After: retry_after``."""

    def __init__(self, message: str, wait_s: float):
        super().__init__(message, status=429)
        self.retry_after = _retry_in(wait_s)


class Ticket(NamedTuple):
    """A WebSocket connection admitted by :meth:`Gate.open_websocket`."""

    address: str
    member: str


class Gate:
    """The budgets of one app (see the module docstring), kept in ``budgets``."""

    def __init__(self, settings: Settings, budgets: Budgets | None = None):
        self.settings = settings
        self.budgets = budgets if budgets is not None else LocalBudgets.from_settings(settings)
        self._worker = uuid.uuid4().hex[:16]  # names this process's connections
        self._serial = itertools.count()

    @property
    def ws_open(self) -> dict[str, int]:
        """address -> WebSocket connections this process holds open (none: absent)."""
        return {address: len(members) for address, members in self.budgets.open.items()}

    def _checked(
        self, address: str, authorization: str | None, api_key: str | None
    ) -> tuple[Principal | AuthError, list[Spend]]:
        """The credentials' principal or error (checked here, no I/O), and the spend of
        the address's failure budget that goes with it: bad credentials spend a failure,
        good ones need one left (the lockout) and spend none; none sent, nothing."""
        if not (authorization or api_key):
            try:
                return authenticate(None, None, self.settings), []
            except AuthError as exc:
                return exc, []
        try:
            principal = authenticate(authorization, api_key, self.settings)
        except AuthError as exc:
            return exc, [Spend("failures", address, 1 if exc.status == 401 else 0, need=1)]
        return principal, [Spend("failures", address, 0, need=1)]

    @staticmethod
    def _locked_out(address: str, wait: float) -> RateLimited:
        return RateLimited(
            f"too many failed authentications from {address}; retry in {_retry_in(wait)} s", wait
        )

    async def authenticate(
        self, address: str, authorization: str | None, api_key: str | None
    ) -> Principal:
        """:func:`~freeagentics.server.auth.authenticate`, spending the address's budget of
        failures; :class:`RateLimited` once it is spent, whatever the credentials."""
        result, spends = self._checked(address, authorization, api_key)
        if spends:
            (wait,) = await self.budgets.take(*spends)
            if wait > 0:
                raise self._locked_out(address, wait)
        if isinstance(result, AuthError):
            raise result
        return result

    async def admit_request(
        self, address: str, authorization: str | None, api_key: str | None
    ) -> None:
        """Spend one request of the caller's per-minute budget: the principal's when the
        credentials are valid, else the address's (bad credentials also spend a failure;
        the route answers them). One call to the store. :class:`RateLimited` when a budget
        is spent."""
        result, spends = self._checked(address, authorization, api_key)
        sent = bool(authorization or api_key)  # anonymous callers: the address's budget
        key = result.rate_key if sent and isinstance(result, Principal) else f"addr:{address}"
        *lockout, wait = await self.budgets.take(*spends, Spend("requests", key))
        if lockout and lockout[0] > 0:
            raise self._locked_out(address, lockout[0])
        if wait > 0:
            raise RateLimited(f"rate limit exceeded; retry in {_retry_in(wait)} s", wait)

    async def open_websocket(self, address: str) -> Ticket:
        """Admit one WebSocket from ``address``; pass the ticket to :meth:`close_websocket`."""
        ticket = Ticket(address, f"{self._worker}:{next(self._serial)}")
        refusal = await self.budgets.admit(*ticket)
        if refusal is None:
            return ticket
        if refusal.reason == "open":
            limit = self.settings.ws_connections_per_address
            raise RateLimited(f"{limit} WebSocket connections already open from {address}", 1.0)
        per_minute = self.settings.ws_connects_per_minute
        raise RateLimited(f"over {per_minute} WebSocket connections per minute", refusal.wait_s)

    async def close_websocket(self, ticket: Ticket) -> None:
        await self.budgets.release(*ticket)

    async def start(self) -> None:
        await self.budgets.start()

    async def aclose(self) -> None:
        await self.budgets.aclose()


def make_gate(settings: Settings, registry: CollectorRegistry | None = None) -> Gate:
    """The gate for ``settings``: budgets in Redis when ``redis_url`` is set (shared by
    every process using it; metrics in ``registry``), else in this process."""
    local = LocalBudgets.from_settings(settings)
    if not settings.redis_url:
        return Gate(settings, local)
    from freeagentics.server.redis_budgets import RedisBudgets
    from freeagentics.server.shared_budgets import SharedBudgets

    shared = SharedBudgets(
        RedisBudgets.from_settings(settings),
        local,
        retry_s=settings.shared_limits_retry_seconds,
        registry=registry,
    )
    return Gate(settings, shared)


def install_gate(app: Any, settings: Settings, registry: CollectorRegistry | None = None) -> Gate:
    """Make the app's gate (``app.state.gate``), started and closed with the app."""
    app.state.gate = gate = make_gate(settings, registry)
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app_: Any) -> AsyncIterator[Any]:
        await gate.start()
        try:
            async with inner(app_) as state:
                yield state
        finally:
            await gate.aclose()

    app.router.lifespan_context = lifespan
    return gate


def gate_of(app: Any) -> Gate:
    """The app's gate (``app.state.gate``), made from its settings on first use."""
    gate = getattr(app.state, "gate", None)
    if gate is None:
        settings = getattr(app.state, "settings", None) or Settings()
        gate = app.state.gate = make_gate(settings)
    return gate


def _is_local_name(hostname: str | None) -> bool:
    """A host name DNS rebinding cannot point elsewhere: an IP literal or localhost."""
    if not hostname:
        return False
    if hostname == "localhost" or hostname.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(hostname)
    except ValueError:
        return False
    return True


def origin_refusal(headers: Mapping[str, str], settings: Settings) -> str | None:
    """Why a request with these headers may not change state or open a WebSocket, or
    None when it may.

    No ``Origin`` (not a browser) is allowed; so are the configured origins
    (``allowed_origins`` and ``cors_origins``) and the server's own (``Origin`` naming
    the ``Host``). In development mode the server's own origin must also be a local name,
    since anonymous callers are admins there and a rebound domain would be "same-origin".
    """
    origin = headers.get("origin")
    if origin is None:
        return None
    allowed = {*settings.allowed_origins, *settings.cors_origins}
    if "*" in allowed or origin in allowed:
        return None
    parts = urlsplit(origin)
    host = headers.get("host", "")
    if parts.scheme in ("http", "https") and parts.netloc and parts.netloc.lower() == host.lower():
        if not settings.development or _is_local_name(parts.hostname):
            return None
        return (
            f"origin {origin!r} is not a local name; in development mode add it to "
            "FREEAGENTICS_ALLOWED_ORIGINS"
        )
    return f"origin {origin!r} is not allowed (same origin or FREEAGENTICS_ALLOWED_ORIGINS only)"
