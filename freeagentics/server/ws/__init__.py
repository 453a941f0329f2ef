"""The WebSocket layer: topics, per-client bounded queues, frames encoded once per topic.

:func:`install_websockets` adds the ``/ws`` route to an app and, for the app's
lifetime, a :class:`Hub` at ``app.state.hub`` fed by ``app.state.service`` (and by
other server processes through Redis when ``settings.redis_url`` is set). The protocol
is described in :mod:`~freeagentics.server.ws.protocol`, the frames in
:mod:`~freeagentics.server.ws.frames`.
"""

from __future__ import annotations

from freeagentics._lazy import lazy_names

__all__ = [
    "CLOSE_ABUSIVE",
    "CLOSE_RATE_LIMITED",
    "CLOSE_TOO_SLOW",
    "CLOSE_UNAUTHORIZED",
    "Client",
    "Hub",
    "ServiceSource",
    "Topic",
    "install_websockets",
]

# the names load with their modules on first use (see freeagentics._lazy): a simulation
# host's headless hub does not load the web server
__getattr__, __dir__ = lazy_names(
    __name__,
    {
        "CLOSE_ABUSIVE": ".client",
        "CLOSE_RATE_LIMITED": ".client",
        "CLOSE_TOO_SLOW": ".client",
        "CLOSE_UNAUTHORIZED": ".client",
        "Client": ".client",
        "Hub": ".hub",
        "ServiceSource": ".source",
        "Topic": ".frames",
        "install_websockets": ".install",
    },
)
