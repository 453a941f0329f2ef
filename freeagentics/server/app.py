"""The application factory: :func:`create_app` wires settings, storage, service and routes.

Creating the app opens the database (migrating it when ``auto_migrate``) and builds the
:class:`~freeagentics.server.services.SimulationService` at ``app.state.service``; the
WebSocket layer adds its hub (``app.state.hub``) to the app's lifespan. Starting the
app creates and starts the demo simulation (when ``demo``); stopping it stops every
simulation and flushes their storage writers.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import FastAPI, WebSocket

from freeagentics import __version__
from freeagentics.server.api import api_router
from freeagentics.server.debug import install_debug_delay
from freeagentics.server.docs import install_docs
from freeagentics.server.errors import install_exception_handlers
from freeagentics.server.gate import install_gate
from freeagentics.server.http_metrics import HttpMetricsMiddleware
from freeagentics.server.logredact import install_log_redaction
from freeagentics.server.metrics import ServerMetrics, metrics_router
from freeagentics.server.middleware import install_middleware
from freeagentics.server.services import ResourceLimits, SimulationService
from freeagentics.server.services._persistence import CheckpointPolicy, checkpoint_key
from freeagentics.server.settings import Settings
from freeagentics.storage import create_engine_for, upgrade

__all__ = ["DEMO_SCENARIO", "INSECURE_WARNING", "FreeAgenticsApp", "create_app", "demo_scenario"]

log = logging.getLogger("freeagentics.server")

INSECURE_WARNING = (
    "DEVELOPMENT MODE: INSECURE. Anonymous callers act as admin and the secret key may be "
    "the published default. Set FREEAGENTICS_MODE=production and FREEAGENTICS_SECRET_KEY "
    "before exposing this server."
)

DEMO_SCENARIO: dict[str, Any] = {
    "scenario": {"name": "demo", "seed": 0},
    # a sustainable ecology: the food that regrows each tick (about 4 units on 32 x 32)
    # exceeds what 100 agents moving every tick spend (2 units), so the demo runs for ever
    "world": {
        "height": 32,
        "width": 32,
        "energy_cost_per_move": 0.02,
        "resources": [{"name": "food", "density": 0.04, "regrowth": 0.1}],
    },
    "coalitions": {"auto_objectives": 3, "objective_capacity": 8},
}


def demo_scenario(agents: int) -> dict[str, Any]:
    """The demo: explorers, collectors and coordinators sharing ``agents`` 2:2:1."""
    coordinators = max(1, agents // 5)
    explorers = max(1, (agents - coordinators) // 2)
    collectors = max(0, agents - coordinators - explorers)
    side = max(32, int((agents * 4) ** 0.5) + 1)
    return {
        **DEMO_SCENARIO,
        "world": {**DEMO_SCENARIO["world"], "height": side, "width": side},
        "agents": {"explorer": explorers, "collector": collectors, "coordinator": coordinators},
    }


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the demo simulation; at shutdown stop every simulation and flush storage."""
    settings: Settings = app.state.settings
    service: SimulationService = app.state.service
    if settings.development:
        log.warning(INSECURE_WARNING)
    restored = service.recover() if settings.restore_on_start else []
    if settings.demo and not any(r.name == "demo" and r.tick is not None for r in restored):
        sim_id = service.create(demo_scenario(settings.demo_agents), name="demo")
        service.start(sim_id)
    try:
        yield
    finally:
        service.close()
        service.engine.dispose()


class FreeAgenticsApp(FastAPI):
    """FastAPI, with WebSocket endpoints reached without the middleware stack.

    Every middleware here passes WebSocket scopes through untouched, yet each layer, and
    FastAPI's routing with its exit stacks, stays on a connection's stack for its whole
    life: thousands of idle frames and objects for thousands of connections. An endpoint
    in :attr:`direct_websockets` (path -> endpoint) is called straight from here; it is
    also registered as an ordinary route, so the route table still lists it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.direct_websockets: dict[str, Callable[[WebSocket], Awaitable[None]]] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            path = scope["path"][len(scope.get("root_path", "")) :]
            endpoint = self.direct_websockets.get(path)
            if endpoint is not None:
                scope["app"] = self
                await endpoint(WebSocket(scope, receive, send))
                return
        await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The FastAPI app for ``settings`` (default: read from the environment)."""
    settings = settings or Settings()
    app = FreeAgenticsApp(
        title="FreeAgentics",
        version=__version__,
        description="Multi-agent Active Inference: simulations, agents, coalitions, knowledge."
        + (f"\n\n**{INSECURE_WARNING}**" if settings.development else ""),
        lifespan=_lifespan,
        docs_url=None,  # install_docs serves /docs and /redoc with no CDN
        redoc_url=None,
    )
    app.state.settings = settings
    metrics = ServerMetrics()
    app.state.metrics = metrics
    engine = create_engine_for(settings.resolved_database_url())
    if settings.auto_migrate:
        upgrade(engine)
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
    app.state.service = service
    metrics.watch(service.gauges)
    install_exception_handlers(app)
    install_log_redaction()
    gate = install_gate(app, settings, metrics.registry)
    install_middleware(app, settings, gate)
    install_debug_delay(app)  # off unless FREEAGENTICS_DEBUG_DELAY_MS is set
    app.add_middleware(HttpMetricsMiddleware, metrics=metrics)  # outermost: times them all
    app.include_router(api_router)
    app.include_router(metrics_router)

    from freeagentics.server.ws import install_websockets

    install_websockets(app)

    from freeagentics.server.static import install_dashboard

    install_dashboard(app)
    install_docs(app)
    return app
