"""One process-wide pool of worker threads for array work that releases the GIL.

Numba's parallel kernels bring their own threads; this pool is for pipelines that
mix BLAS calls with serial numba kernels (both release the GIL), so that the BLAS
part runs on every core too. As many workers as numba may use threads.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numba

__all__ = ["worker_count", "worker_pool"]

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def worker_count() -> int:
    """How many workers share a pipeline: numba's thread count (``NUMBA_NUM_THREADS``)."""
    return int(numba.config.NUMBA_NUM_THREADS)


def worker_pool() -> ThreadPoolExecutor:
    """The pool, made on first use; its threads are daemons of this process."""
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(worker_count(), thread_name_prefix="freeagentics-array")
        return _pool
