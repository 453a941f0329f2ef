"""Admission before the application: rate budgets, failed-login lockout, origins.

One :class:`Gate` per app (``app.state.gate``), shared by the HTTP middleware and the
WebSocket endpoint so both paths spend the same budgets:

- requests per minute, keyed by the *principal* behind the credentials (the API key a
  token was minted from), not by the credential string, so minting tokens does not
  multiply the budget; anonymous requests are keyed by client address;
- failed authentications per minute per client address: once spent, every request
  from that address carrying credentials is refused (429) before they are checked, so
  guessing keys gains nothing, not even telling a right guess from a wrong one;
- WebSocket handshakes per minute and connections held open, per client address.

:func:`origin_refusal` says why a browser request from a foreign ``Origin`` must not
change state or open a WebSocket (CSRF, and DNS rebinding in development mode, where
anonymous callers are admins).
"""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from freeagentics.server.auth import AuthError, Principal, authenticate
from freeagentics.server.settings import Settings

__all__ = ["Gate", "RateLimited", "TokenBuckets", "gate_of", "origin_refusal"]


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

    def _level(self, client: str, now: float) -> float:
        tokens, last = self._buckets.get(client, (self.capacity, now))
        return min(self.capacity, tokens + (now - last) * self.rate)

    def wait(self, client: str, now: float | None = None) -> float:
        """Seconds until ``client`` has a token (0.0 if it has one now); spends nothing."""
        now = time.monotonic() if now is None else now
        tokens = self._level(client, now)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate

    def take(self, client: str, now: float | None = None) -> float:
        """Spend one token; 0.0 when allowed, else seconds until a token is available."""
        now = time.monotonic() if now is None else now
        tokens = self._level(client, now)
        self._buckets.pop(client, None)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[client] = (tokens, now)
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait


class RateLimited(AuthError):
    """A budget is spent: answer 429 with ``Retry-After: retry_after``."""

    def __init__(self, message: str, wait_s: float):
        super().__init__(message, status=429)
        self.retry_after = max(1, int(wait_s + 0.999))


class Gate:
    """The budgets of one app (see the module docstring)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        per_minute = settings.rate_limit_per_minute
        self.requests = TokenBuckets(per_minute, per_minute / 60.0)
        failures = settings.auth_failures_per_minute
        self.failures = TokenBuckets(failures, failures / 60.0)
        connects = settings.ws_connects_per_minute
        self.ws_connects = TokenBuckets(connects, connects / 60.0)
        #: address -> WebSocket connections open now (entries leave at zero)
        self.ws_open: dict[str, int] = {}

    def authenticate(
        self, address: str, authorization: str | None, api_key: str | None
    ) -> Principal:
        """:func:`~freeagentics.server.auth.authenticate`, spending the address's budget of
        failures; :class:`RateLimited` once it is spent, whatever the credentials."""
        sent = bool(authorization or api_key)
        if sent:
            wait = self.failures.wait(address)
            if wait > 0:
                raise RateLimited(
                    f"too many failed authentications from {address}; "
                    f"retry in {max(1, int(wait + 0.999))} s",
                    wait,
                )
        try:
            return authenticate(authorization, api_key, self.settings)
        except AuthError as exc:
            if sent and exc.status == 401:
                self.failures.take(address)
            raise

    def spend_request(self, key: str) -> None:
        """Spend one request of ``key``'s per-minute budget; :class:`RateLimited` if none."""
        wait = self.requests.take(key)
        if wait > 0:
            raise RateLimited(f"rate limit exceeded; retry in {max(1, int(wait + 0.999))} s", wait)

    def open_websocket(self, address: str) -> None:
        """Admit one WebSocket from ``address`` (pair with :meth:`close_websocket`)."""
        limit = self.settings.ws_connections_per_address
        if self.ws_open.get(address, 0) >= limit:
            raise RateLimited(f"{limit} WebSocket connections already open from {address}", 1.0)
        wait = self.ws_connects.take(address)
        if wait > 0:
            per_minute = self.settings.ws_connects_per_minute
            raise RateLimited(f"over {per_minute} WebSocket connections per minute", wait)
        self.ws_open[address] = self.ws_open.get(address, 0) + 1

    def close_websocket(self, address: str) -> None:
        left = self.ws_open.get(address, 0) - 1
        if left > 0:
            self.ws_open[address] = left
        else:
            self.ws_open.pop(address, None)


def gate_of(app: Any) -> Gate:
    """The app's gate (``app.state.gate``), made from its settings on first use."""
    gate = getattr(app.state, "gate", None)
    if gate is None:
        settings = getattr(app.state, "settings", None) or Settings()
        gate = app.state.gate = Gate(settings)
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
