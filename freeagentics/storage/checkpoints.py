"""Checkpoints: the bytes written by ``Simulation.checkpoint``, stored inline or by path."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import Connection

from freeagentics.errors import FreeAgenticsError, UnknownIdError
from freeagentics.storage import simulations
from freeagentics.storage.tables import checkpoints

__all__ = ["CheckpointRecord", "CorruptCheckpointError", "latest", "load", "query", "save"]


class CorruptCheckpointError(FreeAgenticsError, ValueError):
    """A checkpoint's bytes (inline or on disk) are not the ones that were saved."""


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
    conn: Connection, simulation_id: int, tick: int, path: str | Path, *, inline: bool = True
) -> int:
    """Record the checkpoint file at ``path``; returns the checkpoint id.

    With ``inline`` the bytes go into the database (the file may then be deleted);
    otherwise only the path, size and SHA-256 are stored.
    """
    simulations.require(conn, simulation_id)
    path = Path(path)
    data = path.read_bytes()
    row = {
        "simulation_id": simulation_id,
        "tick": int(tick),
        "data": data if inline else None,
        "path": str(path.resolve()),
        "size_bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    return int(conn.execute(checkpoints.insert().values(row)).inserted_primary_key[0])


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
    """The checkpoint's bytes, from the database or its file, checked against the SHA-256."""
    row = conn.execute(
        sa.select(checkpoints.c.data, checkpoints.c.path, checkpoints.c.sha256).where(
            checkpoints.c.id == checkpoint_id
        )
    ).first()
    if row is None:
        raise UnknownIdError(f"no checkpoint with id {checkpoint_id}")
    data = bytes(row.data) if row.data is not None else Path(row.path).read_bytes()
    if hashlib.sha256(data).hexdigest() != row.sha256:
        raise CorruptCheckpointError(
            f"checkpoint {checkpoint_id}: bytes do not match their SHA-256 {row.sha256}"
        )
    return data
