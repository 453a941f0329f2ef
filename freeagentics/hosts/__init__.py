"""Where simulations run: the :class:`SimulationHost` seam and its transports.

A server's routes and WebSocket hub talk to a :class:`SimulationHost`. The service
itself (:class:`~freeagentics.server.services.SimulationService`) is one, in the
calling process; :class:`ServiceProxy` is one whose simulations live elsewhere, each
call forwarded as ``(method, args, kwargs)`` through a :class:`Transport` and answered
with plain data or the service's own exception.

The local host process (the embedded default) is made of:

* :class:`LocalHostProcess` — starts the host program in a child process, hands it a
  random token, restarts it once if it dies, stops it in order; it is the proxy's
  transport, and relays pushed frames to ``on_frame``;
* :class:`SocketTransport` — one multiplexed connection (request ids, so concurrent
  calls never queue behind a long one) to a :class:`HostServer`; each call waits no
  longer than its deadline, then raises :class:`HostTimeoutError`;
* :class:`HostServer` — the child's listener on 127.0.0.1: token handshake, calls on
  worker threads, frames pushed per topic to the connections that want it;
* :func:`serve_child` — how the child program serves its handler for its parent;
* :class:`AttachedHost` — the transport of a process that did not start the host (an
  API worker beside others): it connects wherever it is told the host listens, and
  again after the host restarted.

On the wire (:mod:`._codec`): 4-byte big-endian length, then one MessagePack map;
numpy arrays as an extension type, nothing pickled. The calling side reads arrays back
as :class:`WireArray` (dtype, shape, bytes), so that an API process, which only passes
them on, never imports numpy. This package imports nothing of
the server: the program a host runs is given to it by name.

Why the service stays in the server layer: the host program
(:mod:`freeagentics.server.hostproc`) is made of the server's own service, WebSocket
hub and metrics, so moving the service here would drag the hub and its frames along
(or split them); instead this package holds only the seam and the means of carrying
calls and frames, which know nothing of what they carry, and the server, above it,
names the program a host runs. Another host (Ray actors) reuses :class:`ServiceProxy`
with a transport of its own and the same program pieces.

Where the seam differs from the service's surface as it was: ``knowledge`` runs a
named query (a function cannot cross a process); ``health`` is new (readiness asks
whoever holds the database); results are plain data (checkpoint times as ISO text,
``recover``'s records as maps when they cross).

Beside them, on Ray (the ``ray`` extra; not imported here): :mod:`.ray_hosts` is the
transport to one actor per simulation (``serve --ray``), :mod:`.shards` splits one
simulation's rows across actors, and :mod:`.ray_local` starts a local cluster.
"""

from freeagentics.hosts._arrays import WireArray
from freeagentics.hosts._attached import AttachedHost
from freeagentics.hosts._child import serve_child
from freeagentics.hosts._client import SocketTransport
from freeagentics.hosts._codec import WireError, decode, encode, frame, read_message
from freeagentics.hosts._errors import (
    HostError,
    HostTimeoutError,
    HostUnavailableError,
    error_from_wire,
    error_to_wire,
)
from freeagentics.hosts._process import LocalHostProcess, child_environment
from freeagentics.hosts._server import HostHandler, HostServer
from freeagentics.hosts._surface import HOST_METHODS, SimulationHost, Transport
from freeagentics.hosts.proxy import ServiceProxy

__all__ = [
    "HOST_METHODS",
    "AttachedHost",
    "HostError",
    "HostHandler",
    "HostServer",
    "HostTimeoutError",
    "HostUnavailableError",
    "LocalHostProcess",
    "ServiceProxy",
    "SimulationHost",
    "SocketTransport",
    "Transport",
    "WireArray",
    "WireError",
    "child_environment",
    "decode",
    "encode",
    "error_from_wire",
    "error_to_wire",
    "frame",
    "read_message",
    "serve_child",
]
