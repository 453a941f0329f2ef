"""Budgets shared through Redis, with this process's own budgets while Redis is unreachable.

When a call to Redis fails (refused, timed out, out of memory...), the decision is made
on the process's :class:`~freeagentics.server.budgets.LocalBudgets` instead, the
warning is logged once, ``freeagentics_shared_limits_up`` drops to 0 and
``freeagentics_shared_limits_fallback_total`` counts every decision made so. Redis is
tried again after ``retry_s`` by one call at a time (the others stay local meanwhile),
so an outage costs a request at most one timeout per ``retry_s``.

Why not refuse everything (503) instead: these budgets bound abuse; they are not the
service. Falling back, each of N workers enforces the whole budget on its own, so during
an outage a client gets at most N times its budget (N is the operator's, and small),
never an unbounded one, while refusing would turn a Redis outage into a full API outage,
health probes and reads included. The WebSocket connections a process holds are counted
locally all along, so its local limit of open connections applies to all of them, and
when Redis is back the next renewal puts every one of them in the shared count.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge
from redis.exceptions import RedisError

from freeagentics.server.budgets import LocalBudgets, Refusal, Spend
from freeagentics.server.redis_budgets import RedisBudgets

__all__ = ["UNREACHABLE", "SharedBudgets"]

log = logging.getLogger("freeagentics.server.limits")

#: what counts as Redis being unreachable (redis-py wraps socket errors, but not all)
UNREACHABLE = (RedisError, OSError, TimeoutError)

T = TypeVar("T")


class SharedBudgets:
    """:class:`RedisBudgets` with :class:`LocalBudgets` as the fallback (see the module
    docstring); also renews the leases of this process's connections every third of a
    lease, while any is open."""

    def __init__(
        self,
        shared: RedisBudgets,
        local: LocalBudgets,
        *,
        retry_s: float = 2.0,
        registry: CollectorRegistry | None = None,
    ):
        self.shared, self.local, self.retry_s = shared, local, retry_s
        #: False from a failed call to Redis until a call succeeds again
        self.up = True
        self.fallbacks = 0
        self._local_until = 0.0
        self._probing = False
        self._closed = False
        self._heartbeat: asyncio.Task | None = None
        self._releases: set[asyncio.Task] = set()
        #: connections released while a renewal was in flight (released again after it)
        self._released_in_renewal: set[tuple[str, str]] | None = None
        self._up_gauge = self._fallback_counter = None
        if registry is not None:
            self._up_gauge = Gauge(
                "freeagentics_shared_limits_up",
                "1 while admission budgets are shared through Redis, 0 while this "
                "process falls back to its own.",
                registry=registry,
            )
            self._up_gauge.set(1)
            self._fallback_counter = Counter(
                "freeagentics_shared_limits_fallback",
                "Admission decisions made on this process's own budgets because Redis "
                "was unreachable.",
                registry=registry,
            )

    @property
    def open(self) -> dict[str, set[str]]:
        """The connections this process holds, by address (however they were admitted)."""
        return self.local.open

    # ------------------------------------------------------------------ Redis or local
    def _use_shared(self) -> bool:
        if self._closed:
            return False
        if self.up:
            return True
        if time.monotonic() < self._local_until or self._probing:
            return False
        self._probing = True  # this call tries Redis; the others stay local meanwhile
        return True

    def _went_down(self, exc: BaseException) -> None:
        self._local_until = time.monotonic() + self.retry_s
        if self.up:
            self.up = False
            if self._up_gauge is not None:
                self._up_gauge.set(0)
            log.warning(
                "Redis unreachable (%s: %s): admission budgets are this process's own "
                "until it answers again",
                type(exc).__name__,
                exc,
            )

    def _came_back(self) -> None:
        if not self.up:
            self.up = True
            if self._up_gauge is not None:
                self._up_gauge.set(1)
            log.warning("Redis answers again: admission budgets are shared again")

    async def _decide(
        self, shared: Callable[[], Awaitable[T]], local: Callable[[], Awaitable[T]]
    ) -> T:
        if self._use_shared():
            probe = not self.up
            try:
                result = await shared()
            except UNREACHABLE as exc:
                self._went_down(exc)
            else:
                self._came_back()
                return result
            finally:
                if probe:
                    self._probing = False
        self.fallbacks += 1
        if self._fallback_counter is not None:
            self._fallback_counter.inc()
        return await local()

    # ------------------------------------------------------------------ budgets
    async def take(self, *spends: Spend) -> list[float]:
        return await self._decide(
            lambda: self.shared.take(*spends), lambda: self.local.take(*spends)
        )

    async def admit(self, address: str, member: str) -> Refusal | None:
        async def shared() -> Refusal | None:
            refusal = await self.shared.admit(address, member)
            if refusal is None:
                self.local.hold(address, member)
            return refusal

        refusal = await self._decide(shared, lambda: self.local.admit(address, member))
        if refusal is None:
            self._ensure_heartbeat()
        return refusal

    async def release(self, address: str, member: str) -> None:
        """Release here at once, then in Redis, in a task of its own: a caller cancelled
        meanwhile (a connection torn down) does not leave it counted until its lease ends."""
        await self.local.release(address, member)
        if self._released_in_renewal is not None:
            self._released_in_renewal.add((address, member))
        if self._closed:
            return  # aclose withdrew it
        task = asyncio.get_running_loop().create_task(self._release_shared(address, member))
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)
        await asyncio.shield(task)

    async def _release_shared(self, address: str, member: str) -> None:
        try:
            await self.shared.release(address, member)
        except UNREACHABLE as exc:
            self._went_down(exc)  # its lease ends it

    # ------------------------------------------------------------------ leases
    def _ensure_heartbeat(self) -> None:
        task = self._heartbeat
        if self._closed or (
            task is not None and not task.done() and task.get_loop() is asyncio.get_running_loop()
        ):
            return
        self._heartbeat = asyncio.get_running_loop().create_task(self._beat())

    async def renew(self) -> bool:
        """Renew the leases of every connection held here (False: none is); raises what
        Redis raises."""
        snapshot = {address: sorted(members) for address, members in self.local.open.items()}
        if not snapshot:
            return False
        self._released_in_renewal = released = set()
        try:
            await self.shared.refresh(snapshot)
        finally:
            self._released_in_renewal = None
        for address, member in released:  # their release may have reached Redis first
            await self.shared.release(address, member)
        return True

    async def _beat(self) -> None:
        while self.local.open and not self._closed:
            await asyncio.sleep(self.shared.lease_s / 3)
            try:
                renewed = await self.renew()
            except UNREACHABLE as exc:
                self._went_down(exc)
            else:
                if renewed:
                    self._came_back()

    async def start(self) -> None:
        """Say where the budgets live, once, at start (Redis need not answer yet)."""
        try:
            await self.shared.take()  # a script call: Redis answers and runs Lua
        except UNREACHABLE as exc:
            self._went_down(exc)
        else:
            log.info("admission budgets shared through Redis under %r", self.shared.prefix)

    async def aclose(self) -> None:
        """Withdraw this process's connections from the shared count (it is stopping),
        stop renewing and close the connections to Redis; later calls stay local."""
        self._closed = True
        task, self._heartbeat = self._heartbeat, None
        if task is not None and task.get_loop() is asyncio.get_running_loop():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.gather(*self._releases, return_exceptions=True)
        if self.up:
            with contextlib.suppress(*UNREACHABLE):
                for address, members in list(self.local.open.items()):
                    await self.shared.release(address, *members)
        await self.shared.aclose()
