"""Per-tick aggregate metrics: one row per tick, summarised from the tick's event batch."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import Connection

from freeagentics.storage import simulations
from freeagentics.storage._bulk import upsert
from freeagentics.storage.tables import tick_metrics

if TYPE_CHECKING:
    from freeagentics.simulation import TickEvents

__all__ = ["COLUMNS", "TickMetrics", "read", "summarise", "write"]

COLUMNS = (
    "simulation_id",
    "tick",
    "agents",
    "coalitions",
    "mean_energy",
    "events",
    "tick_seconds",
    "metrics",
    "timings",
)


@dataclass(frozen=True)
class TickMetrics:
    """Aggregates of one tick: ``metrics`` holds the mean of each per-agent metric."""

    simulation_id: int
    tick: int
    agents: int
    coalitions: int
    mean_energy: float | None
    events: int
    tick_seconds: float
    metrics: dict
    timings: dict


def _mean(values: np.ndarray) -> float | None:
    if values.size == 0:
        return None
    mean = float(np.nanmean(values)) if np.isfinite(values).any() else math.nan
    return mean if math.isfinite(mean) else None  # JSON has no NaN


def summarise(simulation_id: int, events: TickEvents) -> tuple:
    """The ``tick_metrics`` row (in :data:`COLUMNS` order) of one event batch."""
    coalition = np.asarray(events.coalition)
    active = np.unique(coalition[coalition >= 0]).size
    kinds = events.coalition_events.get("kind")
    return (
        simulation_id,
        int(events.tick),
        len(events.ids),
        int(active),
        _mean(np.asarray(events.energy, dtype=np.float64)),
        0 if kinds is None else len(kinds),
        float(sum(events.timings.values())),
        {k: _mean(np.asarray(v, dtype=np.float64)) for k, v in events.metrics.items()},
        {k: float(v) for k, v in events.timings.items()},
    )


def write(conn: Connection, simulation_id: int, rows: Iterable[Sequence]) -> int:
    """Store rows made by :func:`summarise`; a tick already stored is left as it is."""
    simulations.require(conn, simulation_id)
    return upsert(conn, tick_metrics, COLUMNS, list(rows))


def read(
    conn: Connection, simulation_id: int, *, start: int | None = None, stop: int | None = None
) -> list[TickMetrics]:
    """Metrics of ticks ``start <= tick < stop`` (open ends when None), ascending."""
    simulations.require(conn, simulation_id)
    t = tick_metrics.c
    stmt = tick_metrics.select().where(t.simulation_id == simulation_id)
    if start is not None:
        stmt = stmt.where(t.tick >= start)
    if stop is not None:
        stmt = stmt.where(t.tick < stop)
    return [TickMetrics(**r._mapping) for r in conn.execute(stmt.order_by(t.tick))]
