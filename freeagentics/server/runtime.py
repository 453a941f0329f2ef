"""The simulation service a server runs, built from its settings and brought up.

Shared by the two places a server's simulations can live: the API process itself
(``simulation_host="inline"``) and the host process it starts (``"process"``, see
:mod:`freeagentics.server.hostproc`). :func:`build_service` opens (and migrates) the
database and makes the :class:`~freeagentics.server.services.SimulationService`;
:func:`bring_up` restores the simulations a previous run left alive and starts the
demo.
"""

from __future__ import annotations

import logging

from freeagentics.server.demo import DEMO_SCENARIO, demo_scenario
from freeagentics.server.metrics import ServerMetrics
from freeagentics.server.services import ResourceLimits, SimulationService
from freeagentics.server.services._persistence import CheckpointPolicy, Restored, checkpoint_key
from freeagentics.server.settings import Settings
from freeagentics.storage import create_engine_for
from freeagentics.storage.startup_migration import migrate_at_start

__all__ = ["DEMO_SCENARIO", "bring_up", "build_service", "demo_scenario"]

log = logging.getLogger("freeagentics.server")


def build_service(
    settings: Settings, metrics: ServerMetrics, *, pool_size: int = 10, max_overflow: int = 20
) -> SimulationService:
    """The service for ``settings``, its timings and restores counted in ``metrics``
    (which must hold the ``host`` part); the database is migrated when ``auto_migrate``
    and behind (in a child process: see :mod:`freeagentics.storage.startup_migration`).
    ``pool_size`` and ``max_overflow`` bound its database connections."""
    assert metrics.tick_seconds is not None and metrics.db_write_seconds is not None
    engine = create_engine_for(
        settings.resolved_database_url(), pool_size=pool_size, max_overflow=max_overflow
    )
    if settings.auto_migrate:
        migrate_at_start(engine)
    service = SimulationService(
        engine,
        tick_rate_hz=settings.tick_rate_hz,
        limits=ResourceLimits.from_settings(settings),
        history_limit=settings.history_limit,
        on_tick_seconds=metrics.tick_seconds.observe,
        on_db_write_seconds=metrics.db_write_seconds.observe,
        checkpoints=CheckpointPolicy(
            key=checkpoint_key(settings.secret_key),
            every_ticks=settings.checkpoint_every_ticks,
            max_count=settings.checkpoint_max_count,
            max_bytes=settings.checkpoint_max_bytes,
        ),
        on_restored=metrics.restored,
    )
    metrics.watch(service.gauges)
    return service


def bring_up(
    service: SimulationService, settings: Settings, *, restart: bool = False
) -> list[Restored]:
    """Restore what a previous run left alive (when ``restore_on_start``, and always on a
    ``restart`` after the host died), then create and start the demo (when ``demo`` and
    no demo was restored). Returns what was restored."""
    restored = service.recover() if settings.restore_on_start or restart else []
    if settings.demo and not any(r.name == "demo" and r.tick is not None for r in restored):
        sim_id = service.create(demo_scenario(settings.demo_agents), name="demo")
        service.start(sim_id)
    return restored
