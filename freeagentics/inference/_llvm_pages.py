"""LLVM's code leaves the resident set while numba is not using it.

numba needs LLVM (llvmlite's library: some 150 MB of machine code and tables) only to
compile a kernel or to load one from its cache; simulations step the loaded kernels
without it. Yet the library's pages stay mapped once touched, and a kernel that maps
file pages in large folios (2 MB here) keeps nearly all of its code resident: about
110 MB of a simulation host's RSS, idle between compilations.

:class:`LLVMPageRelease` watches numba's compiler lock (held for every compilation and
cache load) and, once numba has used it and then been quiet for ``quiet_s``, drops the
library's pages from this process's page tables (``madvise(MADV_DONTNEED)``). Only
mappings that are read-only and hold no page of the process's own are touched (not the
relocated tables, copied on write at load): their pages are the file's, still in the
page cache or on disk, and fault back in when numba compiles again, at the cost of
the faults. Nothing but Linux has ``/proc/self/smaps``; elsewhere nothing is dropped.
"""

from __future__ import annotations

import ctypes
import logging
import re
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["LLVMPageRelease", "releasable_spans", "release_llvm_pages"]

log = logging.getLogger("freeagentics.inference")

MADV_DONTNEED = 4
#: the numba events that mean LLVM is (about to be) in use
EVENTS = ("numba:compiler_lock", "numba:llvm_lock")
_HEADER = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+ *(.*)$")


def releasable_spans(smaps: str) -> list[tuple[int, int, int]]:
    """``(start, end, rss_bytes)`` of the mappings in ``smaps`` (the text of
    ``/proc/PID/smaps``) whose pages can be dropped without loss: llvmlite's library,
    private, not writable, no anonymous (copied-on-write) page, something resident."""
    spans: list[tuple[int, int, int]] = []
    current: list | None = None  # [start, end, rss, anonymous] of an llvmlite mapping

    def close() -> None:
        if current is not None and current[2] > 0 and current[3] == 0:
            spans.append((current[0], current[1], current[2]))

    for line in smaps.splitlines():
        header = _HEADER.match(line)
        if header:
            close()
            start, end, perms, path = header.groups()
            library = Path(path).name.startswith("libllvmlite")
            readonly_private = perms[1] == "-" and perms[3] == "p"
            current = [int(start, 16), int(end, 16), 0, 0] if library and readonly_private else None
        elif current is not None:
            key, _, value = line.partition(":")
            if key in ("Rss", "Anonymous"):
                current[2 if key == "Rss" else 3] = int(value.split()[0]) * 1024
    close()
    return spans


def release_llvm_pages() -> int:
    """Drop the pages of :func:`releasable_spans` of this process; the resident bytes
    they held (0 where there is nothing to drop, or no way to)."""
    if not sys.platform.startswith("linux"):
        return 0
    try:
        smaps = Path("/proc/self/smaps").read_text()
    except OSError:
        return 0
    madvise = ctypes.CDLL(None, use_errno=True).madvise
    madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    released = 0
    for start, end, rss in releasable_spans(smaps):
        if madvise(start, end - start, MADV_DONTNEED) == 0:
            released += rss
        else:
            log.debug("madvise of LLVM's pages failed: errno %d", ctypes.get_errno())
    return released


class LLVMPageRelease:
    """Drops LLVM's pages (:func:`release_llvm_pages`) each time numba has used LLVM
    and then left it alone for ``quiet_s`` seconds; checks every ``poll_s``.

    LLVM counts as used at start (importing numba loads it). :meth:`start` and
    :meth:`stop` are idempotent; the thread is a daemon.
    """

    def __init__(
        self,
        quiet_s: float = 5.0,
        poll_s: float = 1.0,
        *,
        release: Callable[[], int] = release_llvm_pages,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.quiet_s, self.poll_s = quiet_s, poll_s
        self._release, self._clock = release, clock
        self._lock = threading.Lock()
        self._active = 0  # compiler-lock holds in progress (it is re-entrant)
        self._used = True  # LLVM used since the last release
        self._last = clock()  # when it was last let go
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._listener = None
        #: how many times pages were dropped, and the bytes dropped the last time
        self.releases = 0
        self.released_bytes = 0

    def start(self) -> None:
        if self._thread is not None:
            return
        from numba.core import event

        owner = self

        class _Listener(event.Listener):
            def on_start(self, _event) -> None:
                with owner._lock:
                    owner._active += 1
                    owner._used = True

            def on_end(self, _event) -> None:
                with owner._lock:
                    owner._active = max(0, owner._active - 1)
                    owner._last = owner._clock()

        self._listener = _Listener()
        for kind in EVENTS:
            event.register(kind, self._listener)
        self._stopped.clear()
        self._thread = threading.Thread(target=self._run, daemon=True, name="llvm-page-release")
        self._thread.start()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        from numba.core import event

        for kind in EVENTS:
            event.unregister(kind, self._listener)
        self._stopped.set()
        thread.join()

    def claim(self) -> bool:
        """Whether a release is due: LLVM was used since the last one and has been quiet
        for ``quiet_s``; True also marks it unused, so that a compilation starting from
        now on makes the next release due."""
        with self._lock:
            quiet = self._clock() - self._last >= self.quiet_s
            if not (self._used and self._active == 0 and quiet):
                return False
            self._used = False
            return True

    def _run(self) -> None:
        while not self._stopped.wait(self.poll_s):
            if not self.claim():
                continue
            try:
                self.released_bytes = self._release()
            except Exception:  # a failed release costs memory, never the simulations
                log.exception("LLVM's pages were not released")
                continue
            self.releases += 1
            log.debug("released %d bytes of LLVM's pages", self.released_bytes)
