"""Checkpoints: the bytes of ``Simulation.to_checkpoint``, stored in the database.

Rows hold their bytes inline. The ``path`` column of earlier versions is never
followed: a row without bytes is refused, so a row cannot make the server read an
arbitrary file. The SHA-256 kept beside the bytes only detects storage corruption; who
wrote a checkpoint is proven by its HMAC, which the reader checks before parsing.

Each simulation keeps at most ``max_count`` checkpoints and ``max_bytes`` bytes of
them: saving one more prunes the oldest (lowest tick, then id) until it fits, and a
single checkpoint larger than ``max_bytes`` is refused with :class:`CheckpointQuotaError`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import Connection

from freeagentics.errors import ConfigurationError, FreeAgenticsError, UnknownIdError
from freeagentics.storage import simulations
from freeagentics.storage.tables import checkpoints

__all__ = [
    "CheckpointQuotaError",
    "CheckpointRecord",
    "CorruptCheckpointError",
    "latest",
    "load",
    "query",
    "save",
]


class CorruptCheckpointError(FreeAgenticsError, ValueError):
    """A stored checkpoint's bytes are missing or not the ones that were saved."""


class CheckpointQuotaError(ConfigurationError):
    """A checkpoint does not fit the per-simulation quota (the message names the limit)."""


@dataclass(frozen=True)
class CheckpointRecord:
    """A stored checkpoint (without its bytes; see :func:`load`)."""

    id: int
    simulation_id: int
    tick: int
    path: str | None
    size_bytes: int
    sha256: str
    inline: bool
    created_at: datetime


_FIELDS = (
    checkpoints.c.id,
    checkpoints.c.simulation_id,
    checkpoints.c.tick,
    checkpoints.c.path,
    checkpoints.c.size_bytes,
    checkpoints.c.sha256,
    checkpoints.c.data.is_not(None).label("inline"),
    checkpoints.c.created_at,
)


def save(
    conn: Connection,
    simulation_id: int,
    tick: int,
    data: bytes,
    *,
    max_count: int | None = None,
    max_bytes: int | None = None,
) -> int:
    """Store checkpoint bytes; returns the checkpoint id (oldest pruned to fit the quota).

    Raises:
        CheckpointQuotaError: ``data`` alone is larger than ``max_bytes``.
        UnknownIdError: no such simulation.
    """
    simulations.require(conn, simulation_id)
    data = bytes(data)
    if max_bytes is not None and len(data) > max_bytes:
        raise CheckpointQuotaError(
            f"checkpoint of {len(data)} bytes is larger than checkpoint_max_bytes "
            f"({max_bytes}) per simulation"
        )
    if max_count is not None or max_bytes is not None:
        _prune(conn, simulation_id, max_count, max_bytes, len(data))
    row = {
        "simulation_id": simulation_id,
        "tick": int(tick),
        "data": data,
        "path": None,
        "size_bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    return int(conn.execute(checkpoints.insert().values(row)).inserted_primary_key[0])


def _prune(
    conn: Connection, simulation_id: int, max_count: int | None, max_bytes: int | None, new: int
) -> None:
    """Delete the oldest checkpoints until one of ``new`` bytes fits both limits."""
    rows = conn.execute(
        sa.select(checkpoints.c.id, checkpoints.c.size_bytes)
        .where(checkpoints.c.simulation_id == simulation_id)
        .order_by(checkpoints.c.tick, checkpoints.c.id)
    ).all()
    count, total = len(rows), sum(r.size_bytes for r in rows)
    doomed = []
    for row in rows:
        over_count = max_count is not None and count + 1 > max_count
        over_bytes = max_bytes is not None and total + new > max_bytes
        if not (over_count or over_bytes):
            break
        doomed.append(row.id)
        count, total = count - 1, total - row.size_bytes
    if doomed:
        conn.execute(checkpoints.delete().where(checkpoints.c.id.in_(doomed)))


def _record(row) -> CheckpointRecord:
    values = dict(row._mapping)
    values["inline"] = bool(values["inline"])
    return CheckpointRecord(**values)


def query(conn: Connection, simulation_id: int) -> list[CheckpointRecord]:
    """A simulation's checkpoints, oldest first."""
    simulations.require(conn, simulation_id)
    stmt = (
        sa.select(*_FIELDS)
        .where(checkpoints.c.simulation_id == simulation_id)
        .order_by(checkpoints.c.tick, checkpoints.c.id)
    )
    return [_record(r) for r in conn.execute(stmt)]


def latest(conn: Connection, simulation_id: int) -> CheckpointRecord:
    """The checkpoint with the highest tick; :class:`UnknownIdError` when there is none."""
    simulations.require(conn, simulation_id)
    stmt = (
        sa.select(*_FIELDS)
        .where(checkpoints.c.simulation_id == simulation_id)
        .order_by(checkpoints.c.tick.desc(), checkpoints.c.id.desc())
        .limit(1)
    )
    row = conn.execute(stmt).first()
    if row is None:
        raise UnknownIdError(f"simulation {simulation_id} has no checkpoint")
    return _record(row)


def load(conn: Connection, checkpoint_id: int) -> bytes:
    """The checkpoint's stored bytes, checked against their SHA-256 (never read from a path)."""
    row = conn.execute(
        sa.select(checkpoints.c.data, checkpoints.c.sha256).where(checkpoints.c.id == checkpoint_id)
    ).first()
    if row is None:
        raise UnknownIdError(f"no checkpoint with id {checkpoint_id}")
    if row.data is None:
        raise CorruptCheckpointError(
            f"checkpoint {checkpoint_id} has no stored bytes (files named by a row are not read)"
        )
    data = bytes(row.data)
    if hashlib.sha256(data).hexdigest() != row.sha256:
        raise CorruptCheckpointError(
            f"checkpoint {checkpoint_id}: stored bytes do not match their SHA-256"
        )
    return data
