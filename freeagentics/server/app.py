"""The application factory: :func:`create_app` wires settings, service, hub and routes.

``app.state.service`` is what the routes call, a :class:`~freeagentics.hosts.SimulationHost`:

* ``simulation_host="process"`` (the default): a :class:`~freeagentics.hosts.ServiceProxy`
  to a host process (:mod:`freeagentics.server.hostproc`, at ``app.state.host``) that
  starts with the app and owns the database, the simulations, checkpoints, recovery and
  the demo; frames reach this process's hub through it;
* ``"inline"``: the :class:`~freeagentics.server.services.SimulationService` itself,
  its simulations on threads of this process (creating the app opens and migrates the
  database);
* an API worker among several (:mod:`freeagentics.server.worker`): a proxy to the host
  its supervisor started, reached through an :class:`~freeagentics.hosts.AttachedHost`;
  the worker neither opens nor closes that host.
* ``"ray"`` (``ray_address`` set): a :class:`~freeagentics.hosts.ServiceProxy` to
  :class:`~freeagentics.hosts.ray_hosts.RayHosts` (at ``app.state.host``): each
  simulation in a detached actor of its own on the cluster (:mod:`.rayhost`), frames
  through Redis; the actors outlive the app, which leaves them running when it stops.

Starting the app restores the simulations a previous run left alive and creates and
starts the demo simulation (when ``demo``), in the host or here; stopping it stops every
simulation and flushes their storage writers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import FastAPI, WebSocket

from freeagentics import __version__
from freeagentics.hosts import AttachedHost, LocalHostProcess, ServiceProxy
from freeagentics.hosts.ray_hosts import RayHosts
from freeagentics.server import HOST_PROGRAM
from freeagentics.server.api import api_router
from freeagentics.server.debug import install_debug_delay
from freeagentics.server.demo import DEMO_SCENARIO, demo_scenario
from freeagentics.server.docs import install_docs
from freeagentics.server.errors import install_exception_handlers
from freeagentics.server.failover import FailoverLedger, redis_prefix
from freeagentics.server.gate import install_gate
from freeagentics.server.http_metrics import HttpMetricsMiddleware
from freeagentics.server.logredact import install_log_redaction
from freeagentics.server.metrics import FailoverCollector, HostCollector, ServerMetrics
from freeagentics.server.metrics_route import metrics_router
from freeagentics.server.middleware import install_middleware
from freeagentics.server.services import ResourceLimits
from freeagentics.server.settings import Settings
from freeagentics.server.worker_metrics import WorkerFigures, worker_metrics

__all__ = [
    "DEMO_SCENARIO",
    "HOST_PROGRAM",
    "INSECURE_WARNING",
    "FreeAgenticsApp",
    "create_app",
    "demo_scenario",
]

log = logging.getLogger("freeagentics.server")

INSECURE_WARNING = (
    "DEVELOPMENT MODE: INSECURE. Anonymous callers act as admin and the secret key may be "
    "the published default. Set FREEAGENTICS_MODE=production and FREEAGENTICS_SECRET_KEY "
    "before exposing this server."
)


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Bring the simulations up (host process or here); at shutdown stop every simulation
    and flush storage (and end the host process this app started)."""
    settings: Settings = app.state.settings
    if settings.development:
        log.warning(INSECURE_WARNING)
    host: LocalHostProcess | AttachedHost | RayHosts | None = app.state.host
    if isinstance(host, AttachedHost):  # the supervisor opened the host, and closes it
        figures: WorkerFigures | None = app.state.worker_figures
        await asyncio.to_thread(host.start)
        if figures is not None:
            figures.start()
        try:
            yield
        finally:
            if figures is not None:
                await asyncio.to_thread(figures.stop)
            await asyncio.to_thread(host.stop)
        return
    if isinstance(host, RayHosts):
        from freeagentics.server.rayhost import bring_up_ray

        if app.state.owns_host:
            await asyncio.to_thread(host.start)
        try:
            await asyncio.to_thread(bring_up_ray, host, settings)
            yield
        finally:
            if app.state.owns_host:
                await asyncio.to_thread(host.stop)
        return
    if host is None:
        from freeagentics.server.runtime import bring_up

        service = app.state.service
        bring_up(service, settings)
        try:
            yield
        finally:
            service.close()
            service.engine.dispose()
        return
    config = settings.model_dump(mode="json")
    if app.state.owns_host:
        host.config = config
        await asyncio.to_thread(host.start)
    else:  # a host already running (tests share one): open it for this app
        await asyncio.to_thread(host.open, config)
    try:
        yield
    finally:
        await asyncio.to_thread(host.stop if app.state.owns_host else host.close_host)


def _host_metrics(host: LocalHostProcess | AttachedHost | RayHosts) -> Callable[[], list]:
    def fetch() -> list:
        return host.call("host.metrics", (), {})

    return fetch


def _ray_metrics(metrics: ServerMetrics, host: RayHosts, settings: Settings) -> None:
    """The actors' metrics, merged, and the deployment's failovers (from Redis)."""
    assert settings.redis_url is not None
    ledger = FailoverLedger(settings.redis_url, redis_prefix(settings.ray_namespace))
    metrics.registry.register(HostCollector(_host_metrics(host), lambda: ledger.totals()[0]))
    metrics.registry.register(FailoverCollector(ledger.totals))


def _worker_metrics(app: FastAPI, metrics: ServerMetrics, host: AttachedHost, index: int) -> None:
    """``/metrics`` of API worker ``index`` among several: the whole server's figures
    (:mod:`.worker_metrics`), its own published to Redis by ``app.state.worker_figures``."""
    fetch = HostCollector(_host_metrics(host), lambda: host.restarts, own_process=None)
    figures, metrics.view = worker_metrics(metrics.registry, index, app.state.settings, fetch)
    app.state.worker_figures = figures


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


def create_app(
    settings: Settings | None = None,
    *,
    host: LocalHostProcess | AttachedHost | RayHosts | None = None,
    own_host: bool | None = None,
    worker: int | None = None,
) -> FastAPI:
    """The FastAPI app for ``settings`` (default: read from the environment).

    ``host``: the host process to use (implies ``simulation_host="process"``; by default
    a process app makes its own), or the Ray hosts (``"ray"``; by default made from the
    settings). The app starts and stops a host it owns (``own_host``, default: only one
    it made); one it does not own is already started, and the app opens it at start and
    closes it at shutdown (tests share one so). An
    :class:`~freeagentics.hosts.AttachedHost` is only connected at start and
    disconnected at shutdown. ``worker``: this app is API worker number ``worker`` of
    ``serve --workers N`` (with such a host); with several workers sharing Redis its
    ``/metrics`` shows every worker's figures.
    """
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
    app.state.owns_host = host is None if own_host is None else own_host
    if host is None and settings.simulation_host == "process":
        host = LocalHostProcess(
            HOST_PROGRAM,
            None,
            max_restarts=settings.host_max_restarts,
            call_timeout_s=settings.host_call_timeout_seconds,
        )
    elif host is None and settings.simulation_host == "ray":
        from freeagentics.server.rayhost import make_ray_hosts

        host = make_ray_hosts(settings)
    app.state.host = host
    app.state.worker_figures = None
    if host is None:
        # imported here: with a host process, this process never loads the simulations
        from freeagentics.server.runtime import build_service

        metrics = ServerMetrics()
        app.state.service = build_service(settings, metrics)
    elif isinstance(host, RayHosts):
        metrics = ServerMetrics("api")
        _ray_metrics(metrics, host, settings)
        app.state.service = ServiceProxy(host, limits=ResourceLimits.from_settings(settings))
    else:
        metrics = ServerMetrics("api")
        if worker is not None and settings.frames_through_redis:
            assert isinstance(host, AttachedHost)
            _worker_metrics(app, metrics, host, worker)
        else:
            fetch = _host_metrics(host)
            metrics.registry.register(HostCollector(fetch, lambda: host.restarts))
        app.state.service = ServiceProxy(host, limits=ResourceLimits.from_settings(settings))
    app.state.metrics = metrics
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
