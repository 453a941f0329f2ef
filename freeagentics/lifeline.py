"""A child process's lifeline: a pipe from its parent on its stdin, whose end means "stop".

A parent that must never be outlived starts its child with a pipe on the child's stdin
and keeps the writing end open without writing (or writes only what the child expects
to read). The operating system closes that end when the parent exits, however it exits,
SIGKILL included; the parent may also close it to say it is done with the child. The
child notices the end of its stdin and stops:

* at once, when nothing it holds needs an orderly end (:func:`wait_for_eof`, then
  ``os._exit``: the simulation host, :func:`~freeagentics.hosts.serve_child`);
* in order, within a grace (:func:`stop_within`; :func:`watch` runs both in a thread):
  ``freeagentics serve --lifeline``, the API workers of ``serve --workers N``, the load
  test's simulated users. Whatever still runs when the grace is over is cut short.

The pipe is read with ``os.read`` on the descriptor, not through ``sys.stdin``: a thread
blocked inside a buffered reader would hold its lock while the interpreter shuts down.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import NoReturn

__all__ = ["stop_within", "wait_for_eof", "watch"]

log = logging.getLogger("freeagentics.lifeline")

#: exit code of a process whose orderly stop outlasted its grace
CUT_SHORT = 1


def wait_for_eof(fd: int | None = None) -> None:
    """Return when the pipe on ``fd`` (default: stdin) ends; what arrives is discarded."""
    fd = sys.stdin.fileno() if fd is None else fd
    while True:
        try:
            if not os.read(fd, 65_536):
                return
        except InterruptedError:  # pragma: no cover - Python retries reads on EINTR
            continue
        except OSError:  # a descriptor closed under us is an ended pipe too
            return


def stop_within(stop: Callable[[], object], grace_s: float, what: str) -> NoReturn:
    """Start an orderly stop (``stop()`` asks, elsewhere, for the process to end), then
    end the process (code :data:`CUT_SHORT`) if it is still running ``grace_s`` later."""
    try:
        stop()
    except Exception:  # the hard stop below is still due
        log.exception("%s: the orderly stop could not be started", what)
    time.sleep(grace_s)
    log.error("%s did not stop within %g s of its parent leaving; exiting", what, grace_s)
    sys.stderr.flush()
    os._exit(CUT_SHORT)


def watch(
    stop: Callable[[], object], grace_s: float, what: str, fd: int | None = None
) -> threading.Thread:
    """A daemon thread that waits for the end of the pipe on ``fd`` (default: stdin),
    then :func:`stop_within` ``grace_s``; started, and returned."""

    def follow() -> None:
        wait_for_eof(fd)
        stop_within(stop, grace_s, what)

    thread = threading.Thread(target=follow, daemon=True, name="lifeline")
    thread.start()
    return thread
