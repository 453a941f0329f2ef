"""The child's side of a local host process: how the program a parent started serves it.

The parent (:class:`~freeagentics.hosts.LocalHostProcess`) starts ``python -m MODULE``
with pipes for stdin and stdout and writes one line of JSON, ``{"token": hex}``, to
its stdin. :func:`serve_child` reads it, serves the handler on a random 127.0.0.1 port
(:class:`~freeagentics.hosts.HostServer`, refusing connections without the token),
writes ``{"port": N}`` as one line to stdout, then reads stdin until it ends (its
:mod:`~freeagentics.lifeline`): the parent closes it when it is done with the host,
and the operating system closes it when the parent dies, so the host never outlives
its parent. The child ignores SIGINT (a Ctrl-C at the terminal is the parent's to
handle; the parent stops the host in order).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable

from freeagentics.hosts._server import HostHandler, HostServer
from freeagentics.lifeline import wait_for_eof

__all__ = ["serve_child"]

#: largest first line a parent may write (the token's JSON)
MAX_HELLO_CHARS = 4096


def serve_child(make_handler: Callable[[], HostHandler], **options) -> None:
    """Serve the host for the parent that started this process; never returns.

    ``make_handler()`` builds the handler; it is then told its server through
    ``handler.attach(server)`` when it has that method (to push frames). ``options``
    go to :class:`HostServer`.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    line = sys.stdin.readline(MAX_HELLO_CHARS)
    try:
        token = bytes.fromhex(json.loads(line)["token"])
    except (ValueError, KeyError, TypeError):
        sys.stderr.write("simulation host: no token on stdin; exiting\n")
        os._exit(2)
    handler = make_handler()
    server = HostServer(handler, token, **options)
    attach = getattr(handler, "attach", None)
    if attach is not None:
        attach(server)
    port = server.start()
    sys.stdout.write(json.dumps({"port": port}) + "\n")
    sys.stdout.flush()
    wait_for_eof(sys.stdin.fileno())  # the parent is done with us, or gone
    os._exit(0)  # whatever runs is the parent's no longer: no cleanup can wait on it
