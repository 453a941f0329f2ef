"""The ``/ws`` route and the hub in an app's lifespan (see :mod:`freeagentics.server.ws`)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI

from freeagentics.server.ws.command_pool import CommandPool
from freeagentics.server.ws.endpoint import settings_of, websocket_endpoint
from freeagentics.server.ws.host_relay import HostRelay
from freeagentics.server.ws.hub import Hub
from freeagentics.server.ws.metrics import MetricsSync
from freeagentics.server.ws.source import HostSource, ServiceSource
from freeagentics.server.ws.wire import COMPRESSION_STATE, MAX_SIZE_STATE

__all__ = ["install_websockets"]


def install_websockets(app: FastAPI, path: str = "/ws") -> None:
    """Add the WebSocket route, and the hub to the app's lifespan (call before it starts).

    The hub is made after the app's own lifespan has set ``app.state.service``, and is
    closed (clients kicked, tick subscriptions and Redis released) before it ends; so is
    the pool of threads that runs WebSocket commands (``app.state.commands``).
    """
    app.add_api_websocket_route(path, websocket_endpoint)
    direct = getattr(app, "direct_websockets", None)
    if direct is not None:  # a FreeAgenticsApp: reach the endpoint without the middleware
        direct[path] = websocket_endpoint
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app_: Any) -> AsyncIterator[Any]:
        async with inner(app_) as state:
            settings = settings_of(app)
            host = getattr(app.state, "host", None)
            service = app.state.service
            source = ServiceSource(service) if host is None else HostSource(service)
            hub = Hub(
                source,
                frame_rate_hz=settings.frame_rate_hz,
                queue_size=settings.ws_queue_size,
                max_lag=settings.ws_max_lag_frames,
                max_subscriptions=settings.max_subscriptions_per_connection,
                max_feeds=settings.max_feeds,
                egress_bytes_per_s=settings.ws_egress_bytes_per_s,
            )
            app.state.hub = hub
            commands = CommandPool(settings.ws_command_threads, settings.ws_max_commands_in_flight)
            app.state.commands = commands
            server_metrics = getattr(app.state, "metrics", None)
            sync = MetricsSync(hub, server_metrics) if server_metrics is not None else None
            if sync is not None:
                sync.start()
            fanout = relay = None
            if host is not None:
                hub.verify = source.verify
            if settings.simulation_host == "ray":  # the actors publish through Redis
                from freeagentics.server.failover import redis_prefix
                from freeagentics.server.ws.redis_fanout import RedisFanout

                assert settings.redis_url is not None  # the settings require it
                prefix = f"{redis_prefix(settings.ray_namespace)}:ws"
                fanout = await RedisFanout.start(hub, settings.redis_url, prefix=prefix)
            elif host is not None and not settings.frames_through_redis:
                hub.relay = relay = HostRelay(hub, host)  # the host pushes its frames here
            elif settings.redis_url:  # several workers, or inline services in several processes
                from freeagentics.server.ws.redis_fanout import RedisFanout

                fanout = await RedisFanout.start(
                    hub, settings.redis_url, prefix=settings.ws_redis_prefix
                )
            try:
                # the server's WebSocket protocol reads the message limit from here
                yield {
                    **(state or {}),
                    MAX_SIZE_STATE: settings.ws_max_message_bytes,
                    COMPRESSION_STATE: settings.ws_compression,
                }
            finally:
                if fanout is not None:
                    await fanout.close()
                if relay is not None:
                    relay.close()
                hub.close()
                commands.close()
                if sync is not None:
                    await sync.stop()

    app.router.lifespan_context = lifespan
