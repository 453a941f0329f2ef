"""Simulations: their configuration, seed, status and current tick."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from freeagentics.errors import ConfigurationError, UnknownIdError
from freeagentics.storage.tables import SIMULATION_STATUSES, simulations

__all__ = [
    "SimulationRecord",
    "assign",
    "config_to_json",
    "create",
    "get",
    "query",
    "require",
    "rewind",
    "update",
]


@dataclass(frozen=True)
class SimulationRecord:
    """One stored simulation."""

    id: int
    name: str | None
    config: dict
    seed: int | None
    status: str
    tick: int
    created_at: datetime
    updated_at: datetime


def config_to_json(config: Any) -> Any:
    """A JSON-able copy of a configuration (dataclasses, enums, tuples, numpy scalars)."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return {f.name: config_to_json(getattr(config, f.name)) for f in dataclasses.fields(config)}
    if isinstance(config, Mapping):
        return {str(k): config_to_json(v) for k, v in config.items()}
    if isinstance(config, list | tuple):
        return [config_to_json(v) for v in config]
    if isinstance(config, enum.Enum):
        return config.value
    if hasattr(config, "item"):  # numpy scalars
        return config.item()
    if hasattr(config, "tolist"):  # numpy arrays
        return config.tolist()
    return config


def _check_status(status: str) -> None:
    if status not in SIMULATION_STATUSES:
        raise ConfigurationError(f"status must be one of {SIMULATION_STATUSES}, got {status!r}")


def create(
    conn: Connection,
    config: Any = None,
    *,
    seed: int | None = None,
    name: str | None = None,
    status: str = "created",
) -> int:
    """Store a new simulation and return its id.

    ``config`` is a mapping or a dataclass such as ``SimulationConfig``; ``seed``
    defaults to ``config.seed`` when there is one.
    """
    _check_status(status)
    if seed is None:
        seed = getattr(config, "seed", None)
    row = {
        "name": name,
        "config": config_to_json(config if config is not None else {}),
        "seed": None if seed is None else int(seed),
        "status": status,
    }
    return int(conn.execute(simulations.insert().values(row)).inserted_primary_key[0])


def assign(conn: Connection, simulation_id: int, config: Any, *, name: str | None) -> None:
    """Give the stored simulation ``simulation_id`` its configuration, seed and name (a
    row made before its simulation was built, by whoever routes it to a host)."""
    values = {
        "name": name,
        "config": config_to_json(config),
        "seed": getattr(config, "seed", None),
        "updated_at": sa.func.now(),
    }
    stmt = simulations.update().where(simulations.c.id == simulation_id).values(values)
    if conn.execute(stmt).rowcount == 0:
        raise UnknownIdError(f"no simulation with id {simulation_id}")


def _record(row) -> SimulationRecord:
    return SimulationRecord(**row._mapping)


def get(conn: Connection, simulation_id: int) -> SimulationRecord:
    """The simulation ``simulation_id``; :class:`UnknownIdError` when there is none."""
    row = conn.execute(simulations.select().where(simulations.c.id == simulation_id)).first()
    if row is None:
        raise UnknownIdError(f"no simulation with id {simulation_id}")
    return _record(row)


def require(conn: Connection, simulation_id: int) -> None:
    """Raise :class:`UnknownIdError` unless simulation ``simulation_id`` exists."""
    found = conn.execute(sa.select(simulations.c.id).where(simulations.c.id == simulation_id))
    if found.first() is None:
        raise UnknownIdError(f"no simulation with id {simulation_id}")


def query(
    conn: Connection, *, status: str | None = None, limit: int = 100, offset: int = 0
) -> list[SimulationRecord]:
    """Simulations, newest first, optionally only those with ``status``."""
    stmt = simulations.select().order_by(simulations.c.id.desc()).limit(limit).offset(offset)
    if status is not None:
        _check_status(status)
        stmt = stmt.where(simulations.c.status == status)
    return [_record(row) for row in conn.execute(stmt)]


def update(
    conn: Connection, simulation_id: int, *, status: str | None = None, tick: int | None = None
) -> None:
    """Set the status and/or current tick of a simulation (the tick never goes backwards)."""
    values: dict[str, Any] = {"updated_at": sa.func.now()}
    if status is not None:
        _check_status(status)
        values["status"] = status
    stmt = simulations.update().where(simulations.c.id == simulation_id)
    if tick is not None:
        # Two-argument max() is SQLite's scalar maximum; PostgreSQL calls it greatest().
        greatest = sa.func.greatest if conn.dialect.name == "postgresql" else sa.func.max
        values["tick"] = greatest(simulations.c.tick, int(tick))
    if conn.execute(stmt.values(values)).rowcount == 0:
        raise UnknownIdError(f"no simulation with id {simulation_id}")


def rewind(conn: Connection, simulation_id: int, tick: int) -> None:
    """Set the current tick, also backwards (a simulation restored from a checkpoint)."""
    stmt = (
        simulations.update()
        .where(simulations.c.id == simulation_id)
        .values(tick=int(tick), updated_at=sa.func.now())
    )
    if conn.execute(stmt).rowcount == 0:
        raise UnknownIdError(f"no simulation with id {simulation_id}")
