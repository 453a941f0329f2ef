"""Keep numpy's OpenBLAS to one thread while numba's threads score the same rows.

The prefix plan alternates a BLAS product of a few hundred agents with a numba
kernel over them. With OpenBLAS's own thread pool also running, the two pools wait
for each other's spinning threads; on a busy machine a tick then takes several times
longer than with one BLAS thread (the parallelism comes from the numba kernel).

OpenBLAS has no Python interface; numpy loads it as a shared library, whose thread
count functions are called here by name (the same symbols, in any build numpy ships,
that thread-pool tools use). Where the library or the symbols are not found (another
BLAS, another platform), nothing changes.
"""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Iterator
from functools import cache

__all__ = ["blas_threads", "single_threaded_blas"]

_PREFIXES = ("scipy_openblas_", "openblas_")
_SUFFIXES = ("64_", "")


@cache
def _thread_controls() -> tuple | None:
    """``(get, set)`` of the OpenBLAS numpy loaded, or None."""
    import numpy  # noqa: F401 - numpy loads its BLAS on import

    try:
        with open("/proc/self/maps") as maps:
            paths = sorted(
                {
                    line.split()[-1]
                    for line in maps
                    if "openblas" in line.lower() and line.split()[-1].startswith("/")
                }
            )
    except OSError:
        return None
    for path in paths:
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in _PREFIXES:
            for suffix in _SUFFIXES:
                get = getattr(library, f"{prefix}get_num_threads{suffix}", None)
                put = getattr(library, f"{prefix}set_num_threads{suffix}", None)
                if get is not None and put is not None:
                    get.restype = ctypes.c_int
                    put.argtypes = [ctypes.c_int]
                    return get, put
    return None


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Within the block, numpy's OpenBLAS runs on the calling thread only."""
    controls = _thread_controls()
    if controls is None:
        yield
        return
    get, put = controls
    before = get()
    put(1)
    try:
        yield
    finally:
        put(before)


def blas_threads() -> int | None:
    """OpenBLAS's thread count now, or None where it cannot be read."""
    controls = _thread_controls()
    return None if controls is None else int(controls[0]())
