"""What a :class:`~freeagentics.server.rayhost.SimulationActor` runs: the host program's
runtime (:class:`~freeagentics.server.hostproc.HostRuntime`) for one simulation.

It differs from a host process's in four ways: its service holds one simulation and
keeps a few database connections; its hub's frames go to Redis, not to a socket; it
never starts the demo; and opening it after a death restores only its simulation,
whatever the simulation's status, counting the failover when Ray restarted it.

A deployment's nodes import this module in every worker ahead of time (Ray's
``RAY_preload_python_modules``, :data:`freeagentics.server.rayhost.PRELOAD`): an actor
that starts or restarts then finds the simulations' code loaded, seconds earlier on a
busy node. :data:`IMPORTED_AT` says when this process imported it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

# imported here, not where first used: a node that preloads this module (README) has
# them ready in its workers before an actor starts there
import redis  # noqa: F401  (the failover ledger)
import sqlalchemy.dialects.postgresql.psycopg  # noqa: F401  (the database driver)

from freeagentics.errors import ConflictError, UnknownIdError
from freeagentics.hosts import HOST_METHODS
from freeagentics.server.failover import FailoverLedger, redis_prefix
from freeagentics.server.hostproc import HostRuntime
from freeagentics.server.metrics import ServerMetrics
from freeagentics.server.runtime import build_service
from freeagentics.server.services import SimulationService
from freeagentics.server.settings import Settings
from freeagentics.server.ws.hub import Hub
from freeagentics.server.ws.redis_fanout import RedisFanout
from freeagentics.storage.tables import simulations as simulations_table

__all__ = ["IMPORTED_AT", "RayHostRuntime"]

log = logging.getLogger("freeagentics.server.host")

#: when this process had imported the host's machinery (``time.time()``)
IMPORTED_AT = time.time()

#: the methods of the service that take no simulation id
_GLOBAL = frozenset({"create", "list", "ids", "gauges", "health", "recover", "close"})


class RayHostRuntime(HostRuntime):
    """The host of simulation ``sim_id``; ``failover``: Ray started it again after its
    process or node died."""

    def __init__(self, sim_id: int, *, failover: bool = False):
        super().__init__()
        self.sim_id, self.failover = sim_id, failover
        self.ledger: FailoverLedger | None = None
        #: why the simulation could not be restored when this host started (else None)
        self.restore_error: str | None = None

    # ------------------------------------------------------------------ calls
    def call(self, method: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        if method == "create_into":
            self._own(args[0] if args else None)
            return self._service().create_into(*args, **kwargs)
        if method in HOST_METHODS and method not in _GLOBAL:
            self._own(args[0] if args else None)
            if self.restore_error is not None:
                return self._unrestored(method)
            if method == "delete":
                self._service().delete(self.sim_id)
                if self.ledger is not None:
                    self.ledger.forget(self.sim_id)
                return None
        return super().call(method, args, kwargs)

    def _service(self) -> SimulationService:
        from freeagentics.hosts import HostUnavailableError

        service = self.service
        if service is None:
            raise HostUnavailableError("the simulation host is not open")
        return service

    def _own(self, sim_id: Any) -> None:
        if sim_id != self.sim_id or isinstance(sim_id, bool):
            raise UnknownIdError(f"no simulation with id {sim_id} in this host")

    def _unrestored(self, method: str) -> Any:
        """A simulation that could not be restored can only be deleted."""
        if method == "delete":
            service = self._service()
            with service.engine.begin() as conn:
                conn.execute(
                    simulations_table.delete().where(simulations_table.c.id == self.sim_id)
                )
            if self.ledger is not None:
                self.ledger.forget(self.sim_id)
            return None
        raise ConflictError(
            f"simulation {self.sim_id} could not be restored after its host died "
            f"({self.restore_error}); it is marked failed: delete it"
        )

    # ------------------------------------------------------------------ open
    def open(self, settings: Mapping[str, Any], restart: bool = False) -> dict[str, Any]:
        # the API migrated the database; the actors only use it
        opened = super().open({**settings, "auto_migrate": False, "demo": False}, restart)
        hub = self.hub
        assert hub is not None and isinstance(hub.relay, RedisFanout)
        taken = asyncio.run_coroutine_threadsafe(hub.relay.resume_interest(), self.loop)
        log.info("simulation %d: %d wanted topic(s) taken up", self.sim_id, taken.result(30))
        return opened

    def _build_service(self, settings: Settings, metrics: ServerMetrics) -> SimulationService:
        # one simulation: its storage writer, checkpoints and reads need a few connections
        return build_service(settings, metrics, pool_size=2, max_overflow=4)

    async def _relay(self, hub: Hub, settings: Settings) -> Any:
        assert settings.redis_url is not None  # the settings require it in Ray mode
        prefix = f"{redis_prefix(settings.ray_namespace)}:ws"
        return await RedisFanout.start(hub, settings.redis_url, follow_frames=False, prefix=prefix)

    def _bring_up(self, service: SimulationService, settings: Settings, restart: bool) -> Any:
        assert settings.redis_url is not None
        self.ledger = FailoverLedger(settings.redis_url, redis_prefix(settings.ray_namespace))
        if not restart:
            return []
        restored = service.recover_one(self.sim_id)  # none: deleted (calls: unknown id)
        for record in restored:
            if record.tick is None:
                self.restore_error = record.error or "no checkpoint"
            elif self.failover:
                count = self.ledger.record(record.id, record.ticks_lost or 0)
                service.mark_failover(record.id, count)
                log.warning(
                    "simulation %d resumed after its host died (failover %d): %d tick(s) lost",
                    record.id,
                    count,
                    record.ticks_lost or 0,
                )
        return [vars(r) for r in restored]
