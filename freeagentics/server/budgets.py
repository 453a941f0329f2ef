"""Admission budgets kept in this process: token buckets and open connections per address.

A *budget store* answers two questions for :class:`~freeagentics.server.gate.Gate`:

- :meth:`~Budgets.take`: spend tokens from named buckets, one per ``(kind, client)``,
  several in one call (in order; the first refused stops the rest); ``kind`` is one of
  :data:`KINDS`, each shaped by the settings (:func:`budget_shapes`);
- :meth:`~Budgets.admit` / :meth:`~Budgets.release`: hold a WebSocket connection of an
  address, within its limit of connections open and its bucket of handshakes.

:class:`LocalBudgets` keeps them in memory (one process: the default);
:mod:`~freeagentics.server.redis_budgets` keeps them in Redis, shared by every process
that points at it. Both implement the same arithmetic; the tests hold them to it.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import NamedTuple, Protocol

from freeagentics.server.settings import Settings

__all__ = [
    "KINDS",
    "Budgets",
    "LocalBudgets",
    "Refusal",
    "Shape",
    "Spend",
    "TokenBuckets",
    "budget_shapes",
]

#: bucket kinds: requests per principal, failed authentications and handshakes per address
KINDS = ("requests", "failures", "ws_connects")


class Shape(NamedTuple):
    """A bucket's shape: ``capacity`` tokens, refilled at ``rate`` tokens per second."""

    capacity: float
    rate: float


class Spend(NamedTuple):
    """``cost`` tokens of ``client``'s bucket of ``kind``, refused unless it holds ``need``
    (default: ``cost``). ``Spend(kind, client, 0, need=1)`` spends nothing but is refused
    when the bucket is empty: a lockout check. A negative cost gives tokens back (never
    past the capacity)."""

    kind: str
    client: str
    cost: int = 1
    need: int | None = None

    @property
    def required(self) -> int:
        return self.cost if self.need is None else self.need


class Refusal(NamedTuple):
    """Why a connection was not admitted: ``"open"`` (the address holds its limit of
    connections) or ``"rate"`` (no handshake left; one in ``wait_s`` seconds)."""

    reason: str
    wait_s: float


def budget_shapes(settings: Settings) -> dict[str, Shape]:
    """The shape of each kind of bucket: per-minute budgets, refilled evenly."""
    per_minute = {
        "requests": settings.rate_limit_per_minute,
        "failures": settings.auth_failures_per_minute,
        "ws_connects": settings.ws_connects_per_minute,
    }
    return {kind: Shape(float(n), n / 60.0) for kind, n in per_minute.items()}


class Budgets(Protocol):
    """A budget store (see the module docstring)."""

    #: the WebSocket connections this process holds, by address
    open: dict[str, set[str]]

    async def take(self, *spends: Spend) -> list[float]:
        """Apply the spends in order until one is refused; per spend 0.0 when done (or not
        reached), else the seconds until its bucket holds what it needs (nothing spent)."""
        ...

    async def admit(self, address: str, member: str) -> Refusal | None:
        """Hold connection ``member`` of ``address`` (spending one handshake), or say why not."""
        ...

    async def release(self, address: str, member: str) -> None:
        """Stop holding ``member`` (unknown members are ignored)."""
        ...

    async def start(self) -> None:
        """Called once the app starts (in its event loop)."""
        ...

    async def aclose(self) -> None:
        """Called when the app stops; later calls must still work (they may stay local)."""
        ...


class TokenBuckets:
    """Per-client token buckets: ``capacity`` tokens, refilled at ``rate`` per second.

    At most ``max_clients`` buckets are kept (least recently used dropped, which only
    forgets spending: a dropped bucket reads full), so memory stays bounded whatever the
    number of clients.
    """

    def __init__(self, capacity: float, rate: float, max_clients: int = 10_000):
        self.capacity, self.rate, self.max_clients = capacity, rate, max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def _level(self, client: str, now: float) -> float:
        tokens, last = self._buckets.get(client, (self.capacity, now))
        return min(self.capacity, tokens + max(0.0, now - last) * self.rate)

    def take(
        self, client: str, now: float | None = None, cost: float = 1.0, need: float | None = None
    ) -> float:
        """Spend ``cost`` tokens if ``client`` holds ``need`` (see :class:`Spend`); 0.0 when
        done, else the seconds until it holds them, spending nothing."""
        now = time.monotonic() if now is None else now
        need = cost if need is None else need
        tokens = self._level(client, now)
        self._buckets.pop(client, None)
        wait = 0.0
        if need > 0 and tokens < need:
            wait = (need - tokens) / self.rate
        else:
            tokens = min(self.capacity, tokens - cost)
        self._buckets[client] = (tokens, now)
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait


class LocalBudgets:
    """The budgets of one process (see the module docstring).

    ``open`` maps each address to the connections held for it here; an address leaves
    when its last connection is released, so the map is bounded by the open sockets.
    """

    def __init__(self, shapes: Mapping[str, Shape], connections_per_address: int):
        self.buckets = {kind: TokenBuckets(*shape) for kind, shape in shapes.items()}
        self.connections_per_address = connections_per_address
        self.open: dict[str, set[str]] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalBudgets:
        return cls(budget_shapes(settings), settings.ws_connections_per_address)

    async def take(self, *spends: Spend) -> list[float]:
        waits = [0.0] * len(spends)
        for i, spend in enumerate(spends):
            waits[i] = self.buckets[spend.kind].take(spend.client, cost=spend.cost, need=spend.need)
            if waits[i] > 0:
                break
        return waits

    async def admit(self, address: str, member: str) -> Refusal | None:
        if len(self.open.get(address, ())) >= self.connections_per_address:
            return Refusal("open", 0.0)
        wait = self.buckets["ws_connects"].take(address)
        if wait > 0:
            return Refusal("rate", wait)
        self.hold(address, member)
        return None

    def hold(self, address: str, member: str) -> None:
        """Count ``member`` as open here without checking (it was admitted elsewhere)."""
        self.open.setdefault(address, set()).add(member)

    async def release(self, address: str, member: str) -> None:
        members = self.open.get(address)
        if members is not None:
            members.discard(member)
            if not members:
                del self.open[address]

    async def start(self) -> None:
        pass

    async def aclose(self) -> None:
        pass
