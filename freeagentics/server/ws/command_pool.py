"""Where WebSocket commands run: :class:`CommandPool`, threads of their own and a bound.

A command blocks (a ``step`` runs ticks, or waits for the simulation host), so it runs
on a worker thread. The pool's threads are the commands' own: not the event loop's
default executor, which anything else in the process may fill, so commands never queue
behind other work nor it behind them. At most ``max_in_flight`` commands are held at
once, running or waiting for a thread: :meth:`CommandPool.submit` refuses one more at
once (the endpoint answers it with a ``busy`` ack) rather than queueing it. A command's
slot is freed when its thread is done with it, not when its caller stops waiting (a
client that left, the server stopping): a command still waiting for a thread is then
cancelled, and one already running holds its slot until it returns, which its host
call's deadline bounds.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

__all__ = ["BUSY_RETRY_AFTER_S", "CommandPool"]

#: seconds a client refused as busy is told to wait before it sends the command again
BUSY_RETRY_AFTER_S = 1.0


class CommandPool:
    """``threads`` threads running at most ``max_in_flight`` commands held at once."""

    def __init__(self, threads: int, max_in_flight: int):
        self.max_in_flight = max_in_flight
        self._executor = ThreadPoolExecutor(
            max_workers=min(threads, max_in_flight), thread_name_prefix="ws-command"
        )
        self._held = 0
        self._lock = threading.Lock()  # slots return on the pool's threads
        #: commands refused for want of a slot, since the pool was made
        self.refused = 0

    @property
    def in_flight(self) -> int:
        """Commands held now: running, or waiting for a thread."""
        return self._held

    def submit(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future | None:
        """``fn(*args)`` on one of the pool's threads: a future of the event loop that
        calls this (cancelling it cancels a command not begun yet), or None, counted
        in :attr:`refused`, when ``max_in_flight`` commands are held already.

        Admission and submission are one step, so that no slot is held by a command
        that never reaches the pool.
        """
        with self._lock:
            if self._held >= self.max_in_flight:
                self.refused += 1
                return None
            self._held += 1
        try:
            future = self._executor.submit(fn, *args)
        except BaseException:  # the pool is shut down
            self._release(None)
            raise
        future.add_done_callback(self._release)
        return asyncio.wrap_future(future)

    def _release(self, _done: Future | None) -> None:
        with self._lock:
            self._held -= 1

    def close(self) -> None:
        """Cancel the commands waiting for a thread; running ones finish on their own."""
        self._executor.shutdown(wait=False, cancel_futures=True)
