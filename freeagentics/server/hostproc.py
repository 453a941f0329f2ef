"""The simulation host program: ``python -m freeagentics.server.hostproc``.

The API process starts it (:class:`~freeagentics.hosts.LocalHostProcess`, when
``simulation_host="process"``) and it owns everything that runs simulations: the
:class:`~freeagentics.server.services.SimulationService` with its runner threads,
storage writers, checkpoints and recovery, the demo, and a hub without sockets that
encodes each topic's frames once and pushes them to the API processes that want them.
The API process holds a :class:`~freeagentics.hosts.ServiceProxy` to it. With several
API workers (``workers > 1``, see :mod:`freeagentics.server.supervisor`) the hub
publishes each topic's frames once to Redis instead, where every worker takes them,
and learns there which topics the workers want. While the host is open, LLVM's code
leaves its resident set whenever numba is not compiling (some 110 MB, idle while the
simulations step: see :mod:`freeagentics.inference._llvm_pages`).

Besides the service's methods (:data:`~freeagentics.hosts.HOST_METHODS`) it answers
three of its own:

* ``host.open(settings, restart=False)`` — build the service from the settings (a map
  of :class:`~freeagentics.server.settings.Settings` fields), bring it up (restore what a
  previous run left alive: always when ``restart``, the host having died; start the
  demo) and start the hub; returns ``{"pid", "restored"}``;
* ``host.close()`` — stop every simulation, flush their writers, close the hub (the
  process stays, and may be opened again);
* ``host.metrics()`` — the host's metric families (:func:`~freeagentics.server.metrics.families`).

It lives in the server layer because it is made of the server's service, hub and
metrics; :mod:`freeagentics.hosts` carries the calls and frames without knowing them.
"""

from __future__ import annotations

import asyncio
import logging
import logging.config
import os
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from freeagentics.errors import ConfigurationError, ConflictError
from freeagentics.hosts import HOST_METHODS, HostServer, HostUnavailableError, serve_child
from freeagentics.inference._llvm_pages import LLVMPageRelease
from freeagentics.server.debug import STALL_VARIABLE, host_stalls
from freeagentics.server.logs import log_config
from freeagentics.server.metrics import ServerMetrics, families
from freeagentics.server.runtime import bring_up, build_service
from freeagentics.server.services import SimulationService
from freeagentics.server.settings import MAX_WORKERS, Settings
from freeagentics.server.ws.frames import Topic
from freeagentics.server.ws.hub import Hub
from freeagentics.server.ws.source import ServiceSource

__all__ = ["HostRuntime", "main"]

log = logging.getLogger("freeagentics.server.host")


class _PushRelay:
    """The headless hub's :class:`~freeagentics.server.ws.hub.Relay`: its frames go to
    the connections that want them; it never wants frames from elsewhere."""

    def __init__(self, server: HostServer | None):
        self.server = server

    def publish(self, key: str, payload: bytes) -> None:
        if self.server is not None:
            self.server.publish(key, payload)

    def want(self, key: str) -> None:
        pass

    def unwant(self, key: str) -> None:
        pass


class HostRuntime:
    """What the host process serves (a :class:`~freeagentics.hosts.HostHandler`)."""

    def __init__(self) -> None:
        self.server: HostServer | None = None
        self.service: SimulationService | None = None
        self.hub: Hub | None = None
        self.metrics: ServerMetrics | None = None
        self._lock = threading.Lock()  # open and close, one at a time
        self._logging = False
        self.llvm_pages = LLVMPageRelease()
        self.loop = asyncio.new_event_loop()  # the hub's
        threading.Thread(target=self.loop.run_forever, daemon=True, name="host-hub").start()
        #: seconds to sleep before calls of some methods (a debugging hook, see
        #: :mod:`freeagentics.server.debug`; empty unless its variable is set)
        self.stalls = host_stalls()
        if self.stalls:
            log.warning("%s is set: calls of %s stall", STALL_VARIABLE, sorted(self.stalls))

    def attach(self, server: HostServer) -> None:
        self.server = server

    # ------------------------------------------------------------------ calls
    def call(self, method: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        stall = self.stalls.get(method)
        if stall:
            time.sleep(stall)
        if method in HOST_METHODS:
            service = self.service
            if service is None:
                raise HostUnavailableError("the simulation host is not open")
            return getattr(service, method)(*args, **kwargs)
        if method == "host.open":
            return self.open(*args, **kwargs)
        if method == "host.close":
            return self.close(*args, **kwargs)
        if method == "host.metrics":
            return families(self.metrics.registry) if self.metrics is not None else []
        raise ConfigurationError(f"the simulation host has no method {method!r}")

    def interest(self, key: str, wanted: bool) -> None:
        hub = self.hub
        if hub is not None:
            self.loop.call_soon_threadsafe(self._interest, hub, key, wanted)

    @staticmethod
    def _interest(hub: Hub, key: str, wanted: bool) -> None:
        try:
            if wanted:
                hub.add_remote_interest(Topic.from_key(key))
            else:
                hub.drop_remote_interest(key)
        except Exception as exc:  # a bad key or a full hub: no frames for it
            log.warning("topic %r not followed: %s", key[:100], exc)

    # ------------------------------------------------------------------ open and close
    def open(self, settings: Mapping[str, Any], restart: bool = False) -> dict[str, Any]:
        with self._lock:
            if self.service is not None:
                raise ConflictError("the simulation host is open; close it first")
            values = Settings.model_validate(dict(settings))
            if not self._logging:
                logging.config.dictConfig(log_config(values.log_format))
                self._logging = True
            metrics = ServerMetrics("host")
            service = self._build_service(values, metrics)
            made = self._make_hub(values, service)
            hub = asyncio.run_coroutine_threadsafe(made, self.loop).result()
            restored = self._bring_up(service, values, restart)
            self.llvm_pages.start()  # once the kernels the simulations load are quiet
            self.service, self.hub, self.metrics = service, hub, metrics
            for key in self.server.interests() if self.server is not None else ():
                self.interest(key, True)  # topics wanted before a close and this open
        return {"pid": os.getpid(), "restored": restored}

    # the three steps of an open that another kind of host does its own way
    def _build_service(self, settings: Settings, metrics: ServerMetrics) -> SimulationService:
        return build_service(settings, metrics)

    def _bring_up(self, service: SimulationService, settings: Settings, restart: bool) -> Any:
        return bring_up(service, settings, restart=restart)

    async def _relay(self, hub: Hub, settings: Settings) -> Any:
        """The headless hub's relay (made on the hub's loop): Redis, which every API worker
        follows, with several workers; else frames pushed to the one API process."""
        if settings.frames_through_redis:
            from freeagentics.server.ws.redis_fanout import RedisFanout

            assert settings.redis_url is not None
            return await RedisFanout.start(
                hub, settings.redis_url, prefix=settings.ws_redis_prefix, follow_frames=False
            )
        return _PushRelay(self.server)

    async def _make_hub(self, settings: Settings, service: SimulationService) -> Hub:
        hub = Hub(  # made on its loop, which it keeps
            ServiceSource(service),
            frame_rate_hz=settings.frame_rate_hz,
            queue_size=settings.ws_queue_size,
            max_lag=settings.ws_max_lag_frames,
            max_subscriptions=settings.max_subscriptions_per_connection,
            max_feeds=settings.max_feeds,
        )
        hub.relay = await self._relay(hub, settings)
        return hub

    def close(self) -> None:
        with self._lock:
            service, hub = self.service, self.hub
            self.service = self.hub = None
            self.llvm_pages.stop()
            if hub is not None:  # its feeds first: they hold the simulations' buses
                asyncio.run_coroutine_threadsafe(_close(hub), self.loop).result()
            if service is not None:
                service.close()
                service.engine.dispose()


async def _close(hub: Hub) -> None:
    relay = hub.relay
    hub.close()
    closing = getattr(relay, "close", None)  # a relay with connections of its own
    if closing is not None:
        await closing()


def main() -> None:
    """Serve the host for the API process that started this one."""
    # a connection per API worker, the supervisor's, and a few to spare
    serve_child(HostRuntime, max_connections=MAX_WORKERS + 8)


if __name__ == "__main__":
    main()
