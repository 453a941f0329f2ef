"""Frames from the simulation host process: the hub's :class:`~freeagentics.server.ws.hub.Relay`.

When the simulations run in a host process, this process's hub produces no frames: a
topic a client subscribes to is *wanted* from the host (a ``want`` notice on the host's
socket), the host's headless hub encodes its frames once per topic and pushes them
back, and :meth:`~freeagentics.server.ws.hub.Hub.relay_frame` fans them out here; when
the last subscriber leaves, an ``unwant`` ends it. After a restart of the host, every
wanted topic is wanted again.
"""

from __future__ import annotations

from typing import Any

from freeagentics.server.ws.hub import Hub

__all__ = ["HostRelay"]


class HostRelay:
    """Connects ``hub`` to ``host`` (a :class:`~freeagentics.hosts.LocalHostProcess`)."""

    def __init__(self, hub: Hub, host: Any):
        self.hub, self.host = hub, host
        self.wanted: set[str] = set()
        host.on_frame = hub.relay_frame
        host.on_connected = self._connected

    def publish(self, key: str, payload: bytes) -> None:
        """Nothing: this process owns no simulation, so it produces no frame to share."""

    def want(self, key: str) -> None:
        self.wanted.add(key)
        self.host.notify("want", key)

    def unwant(self, key: str) -> None:
        self.wanted.discard(key)
        self.host.notify("unwant", key)

    def _connected(self) -> None:
        # called on the host's watcher thread; the wanted set is the loop's
        self.hub.loop.call_soon_threadsafe(self._want_again)

    def _want_again(self) -> None:
        for key in self.wanted:
            self.host.notify("want", key)

    def close(self) -> None:
        """Stop relaying: the host hears that none of the topics is wanted any more."""
        self.host.on_frame = None
        self.host.on_connected = None
        for key in self.wanted:
            self.host.notify("unwant", key)
        self.wanted.clear()
        self.hub.relay = None
