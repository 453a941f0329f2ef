"""Keeps the server's WebSocket metrics (:class:`~freeagentics.server.metrics.ServerMetrics`)
up to date from the hub's plain counters.

The hub counts in integers (no metric call per message); :class:`MetricsSync` moves the
increments into the Prometheus counters and sets the gauges once per ``period_s``:
``freeagentics_websocket_connections``, ``freeagentics_websocket_queue_depth``,
``freeagentics_messages_sent_total{topic}``, ``freeagentics_messages_dropped_total{topic}``
(``topic`` is the topic kind, or ``reply`` for acks, pongs and errors),
``freeagentics_frames_superseded_total``, ``freeagentics_frames_skipped_total{topic}``
(frames subscribers missed for the egress budget),
``freeagentics_websocket_egress_bytes_total`` and
``freeagentics_websocket_egress_limit_bytes_per_second`` (the budget; 0: none).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from freeagentics.server.ws.hub import Hub

__all__ = ["MetricsSync"]


class MetricsSync:
    """Copies ``hub``'s counters into ``metrics`` (a ``ServerMetrics``)."""

    def __init__(self, hub: Hub, metrics: Any, period_s: float = 1.0):
        self.hub, self.metrics, self.period_s = hub, metrics, period_s
        self._sent: dict[str, int] = {}
        self._dropped: dict[str, int] = {}
        self._skipped: dict[str, int] = {}
        self._superseded = self._egress_bytes = 0
        self._task: asyncio.Task | None = None

    def update(self) -> None:
        """One copy: counter increments since the last, gauges as they are now (of the
        metrics this process keeps: a host's hub has no clients, an API's relayed
        frames are never superseded)."""
        m = self.metrics
        egress = self.hub.egress
        if m.ws_connections is not None:
            m.ws_connections.set(len(self.hub.clients))
            m.ws_queue_depth.set(self.hub.queue_depth)
            m.ws_egress_limit.set(egress.rate or 0)
            if egress.bytes_sent > self._egress_bytes:
                m.ws_egress_bytes.inc(egress.bytes_sent - self._egress_bytes)
                self._egress_bytes = egress.bytes_sent
        for counter, totals, seen in (
            (m.messages_sent, self.hub.sent_by_topic(), self._sent),
            (m.messages_dropped, self.hub.dropped_by_topic(), self._dropped),
            (m.frames_skipped, self.hub.skipped_by_topic(), self._skipped),
        ):
            if counter is None:
                continue
            for kind, total in totals.items():
                delta = total - seen.get(kind, 0)
                if delta > 0:
                    counter.labels(kind).inc(delta)
                seen[kind] = total
        superseded = self.hub.frames_superseded
        if m.frames_superseded is not None and superseded > self._superseded:
            m.frames_superseded.inc(superseded - self._superseded)
            self._superseded = superseded

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.period_s)
            self.update()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.update()
