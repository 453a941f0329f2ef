"""A WebSocket server frame for a payload, built once and written to many sockets.

Server-to-client frames are not masked (RFC 6455 §5.1), so an uncompressed frame is the
same bytes for every connection (see :mod:`~freeagentics.server.ws.wire`, which writes
them). Kept apart from the protocol so that a hub without sockets (a simulation host's)
does not load the web server.
"""

from __future__ import annotations

from websockets.frames import Frame, Opcode

from freeagentics.server.ws.frames import Payload

__all__ = ["wire_frame"]


def wire_frame(payload: Payload) -> bytes:
    """``payload`` as one unmasked, uncompressed server frame: text for ``str``, else binary."""
    if isinstance(payload, str):
        return Frame(Opcode.TEXT, payload.encode()).serialize(mask=False)
    return Frame(Opcode.BINARY, payload).serialize(mask=False)
