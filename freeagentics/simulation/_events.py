"""One event batch per tick, and the bus that hands it to subscribers off the hot path.

Each subscriber has its own bounded queue and consumer thread. When a queue is full,
the subscriber's policy decides: ``"latest"`` drops the oldest batch (counted in
``dropped``) so a slow consumer sees fresh data and never slows the tick;
``"block"`` makes the publisher wait (backpressure) for consumers that must see
everything, such as a storage writer. Memory held by the bus is bounded by the sum
of the queue sizes whatever the consumers do.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from freeagentics.errors import ConfigurationError

__all__ = ["EventBus", "Subscription", "TickEvents"]


@dataclass(frozen=True)
class TickEvents:
    """What happened in one tick, as arrays in agent-id order.

    Attributes:
        tick: the tick just completed.
        ids, kinds: ``(N,)`` int64 agent ids and kind codes (``kind_names`` index).
        positions: ``(N, 2)`` int32 cells after the move.
        actions: ``(N,)`` int64 moves taken.
        energy: ``(N,)`` float32.
        coalition: ``(N,)`` int64 coalition id or -1.
        metrics: per-agent ``(N,)`` arrays (belief entropy, free energy, ...), as
            computed at ``metrics_tick`` (metrics are refreshed every ``metrics_every``
            ticks; -1 before the first refresh, with no metrics).
        coalition_events: arrays of the coalition changes this tick (maybe empty).
        timings: seconds spent in each stage of the tick.
        activity: moving, alive and stuck agents this tick, and warnings when the world
            freezes or agents die (see :class:`~freeagentics.simulation.ActivityTracker`).
    """

    tick: int
    kind_names: tuple[str, ...]
    ids: np.ndarray
    kinds: np.ndarray
    positions: np.ndarray
    actions: np.ndarray
    energy: np.ndarray
    coalition: np.ndarray
    metrics: dict[str, np.ndarray]
    metrics_tick: int = -1
    coalition_events: dict[str, np.ndarray] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    activity: dict[str, Any] = field(default_factory=dict)


class Subscription:
    """A subscriber's queue and consumer thread; counters say what happened to batches."""

    def __init__(self, callback: Callable[[TickEvents], None], maxsize: int, policy: str):
        if maxsize < 1:
            raise ConfigurationError(f"maxsize must be >= 1, got {maxsize}")
        if policy not in ("latest", "block"):
            raise ConfigurationError(f"policy must be 'latest' or 'block', got {policy!r}")
        self.callback, self.maxsize, self.policy = callback, maxsize, policy
        self.delivered = self.dropped = self.errors = 0
        self._queue: deque[TickEvents] = deque()
        self._cond = threading.Condition()
        self._busy = False
        self._closed = False
        self._thread = threading.Thread(
            target=self._consume, daemon=True, name="freeagentics-subscriber"
        )
        self._thread.start()

    @property
    def depth(self) -> int:
        return len(self._queue)

    def offer(self, events: TickEvents) -> None:
        with self._cond:
            while self.policy == "block" and len(self._queue) >= self.maxsize and not self._closed:
                self._cond.wait()
            if len(self._queue) >= self.maxsize:
                self._queue.popleft()
                self.dropped += 1
            self._queue.append(events)
            self._cond.notify_all()

    def _consume(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue and self._closed:
                    return
                events = self._queue.popleft()
                self._busy = True
                self._cond.notify_all()
            try:
                self.callback(events)
                self.delivered += 1
            except Exception:  # a failing subscriber must not take the simulation down
                self.errors += 1
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued batch has been consumed; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._busy, timeout)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=5)


class EventBus:
    """Fan-out of tick batches to subscribers, each behind its own bounded queue."""

    def __init__(self) -> None:
        self._subs: list[Subscription] = []
        self._lock = threading.Lock()

    def subscribe(
        self, callback: Callable[[TickEvents], None], *, maxsize: int = 16, policy: str = "latest"
    ) -> Subscription:
        sub = Subscription(callback, maxsize, policy)
        with self._lock:
            self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Stop and release a subscriber (its thread and queue)."""
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)
        sub.close()

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        with self._lock:
            return tuple(self._subs)

    def publish(self, events: TickEvents) -> None:
        for sub in self.subscriptions:
            sub.offer(events)

    def flush(self, timeout: float | None = None) -> bool:
        return all(sub.flush(timeout) for sub in self.subscriptions)

    def close(self) -> None:
        for sub in self.subscriptions:
            self.unsubscribe(sub)
