"""Belief snapshots: one row per (simulation, tick, kind) holding every agent's posterior.

Beliefs are stored as raw little-endian bytes (float16 by default: 2 bytes per state,
plenty for display and analysis of probabilities) with their shape, never one row per
agent: a snapshot of 10 000 agents over 100 states is one 2 MB row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa
from sqlalchemy import Connection

from freeagentics.errors import ConfigurationError, UnknownIdError
from freeagentics.storage import simulations
from freeagentics.storage._bulk import upsert
from freeagentics.storage.tables import belief_snapshots

__all__ = ["COLUMNS", "BeliefSnapshot", "encode", "read", "ticks", "write"]

COLUMNS = ("simulation_id", "tick", "kind", "count", "shape", "dtype", "agent_ids", "beliefs")
_DTYPES = ("float16", "float32", "float64")


@dataclass(frozen=True)
class BeliefSnapshot:
    """Beliefs of the ``N`` agents of one kind at one tick.

    Attributes:
        ids: ``(N,)`` int64 agent ids.
        beliefs: ``(N, *shape)`` posteriors in the stored dtype.
    """

    tick: int
    kind: str
    ids: np.ndarray
    beliefs: np.ndarray


def encode(simulation_id: int, snapshot: BeliefSnapshot, dtype: str = "float16") -> tuple:
    """The row (in :data:`COLUMNS` order) storing ``snapshot`` as ``dtype`` bytes."""
    if dtype not in _DTYPES:
        raise ConfigurationError(f"dtype must be one of {_DTYPES}, got {dtype!r}")
    ids = np.ascontiguousarray(snapshot.ids, dtype="<i8")
    beliefs = np.ascontiguousarray(snapshot.beliefs, dtype=np.dtype(dtype).newbyteorder("<"))
    if beliefs.ndim < 1 or beliefs.shape[0] != ids.shape[0]:
        raise ConfigurationError(
            f"beliefs must be (N, ...) with N = {ids.shape[0]} ids, got {beliefs.shape}"
        )
    return (
        simulation_id,
        int(snapshot.tick),
        snapshot.kind,
        int(ids.shape[0]),
        list(beliefs.shape[1:]),
        dtype,
        ids.tobytes(),
        beliefs.tobytes(),
    )


def write(
    conn: Connection,
    simulation_id: int,
    snapshots: Iterable[BeliefSnapshot],
    *,
    dtype: str = "float16",
) -> int:
    """Store snapshots (a retried snapshot replaces the same row); returns how many."""
    simulations.require(conn, simulation_id)
    rows = [encode(simulation_id, s, dtype) for s in snapshots]
    return upsert(conn, belief_snapshots, COLUMNS, rows, update=COLUMNS[3:])


def read(conn: Connection, simulation_id: int, tick: int, kind: str) -> BeliefSnapshot:
    """The snapshot of ``kind`` at ``tick``; :class:`UnknownIdError` when there is none."""
    t = belief_snapshots.c
    row = conn.execute(
        belief_snapshots.select().where(
            t.simulation_id == simulation_id, t.tick == tick, t.kind == kind
        )
    ).first()
    if row is None:
        raise UnknownIdError(f"no {kind!r} belief snapshot at tick {tick} of {simulation_id}")
    dtype = np.dtype(row.dtype).newbyteorder("<")
    ids = np.frombuffer(row.agent_ids, dtype="<i8").astype(np.int64)
    beliefs = np.frombuffer(row.beliefs, dtype=dtype).reshape(row.count, *row.shape)
    return BeliefSnapshot(row.tick, row.kind, ids, beliefs.astype(dtype.newbyteorder("=")))


def ticks(conn: Connection, simulation_id: int, kind: str | None = None) -> list[int]:
    """Ticks that have a snapshot (of ``kind`` when given), ascending."""
    t = belief_snapshots.c
    stmt = sa.select(t.tick).distinct().where(t.simulation_id == simulation_id)
    if kind is not None:
        stmt = stmt.where(t.kind == kind)
    return list(conn.execute(stmt.order_by(t.tick)).scalars())
