"""Agents' latest state, written in bulk from arrays and queried by status, kind, coalition."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa
from sqlalchemy import Connection

from freeagentics.errors import ConfigurationError, UnknownIdError
from freeagentics.storage import simulations
from freeagentics.storage._bulk import upsert as _upsert
from freeagentics.storage.tables import AGENT_STATUSES, agents, coalition_memberships

__all__ = ["AgentRecord", "count", "get", "query", "retire_missing", "upsert"]

_COLUMNS = (
    "simulation_id",
    "agent_id",
    "kind",
    "status",
    "coalition_id",
    "row",
    "col",
    "energy",
    "last_action",
    "metrics",
    "updated_tick",
)


@dataclass(frozen=True)
class AgentRecord:
    """One agent's stored state."""

    simulation_id: int
    agent_id: int
    kind: str
    status: str
    coalition_id: int | None
    row: int
    col: int
    energy: float
    last_action: int | None
    metrics: dict
    updated_tick: int


def upsert(
    conn: Connection,
    simulation_id: int,
    tick: int,
    *,
    ids: np.ndarray,
    kinds: np.ndarray,
    kind_names: Sequence[str],
    positions: np.ndarray,
    energy: np.ndarray,
    coalition: np.ndarray | None = None,
    actions: np.ndarray | None = None,
    metrics: Mapping[str, np.ndarray] | None = None,
) -> int:
    """Write the state of ``N`` agents at ``tick`` in one bulk statement.

    Args:
        ids: ``(N,)`` agent ids, unique.
        kinds: ``(N,)`` kind codes indexing ``kind_names``.
        positions: ``(N, 2)`` (row, col).
        energy: ``(N,)``.
        coalition: ``(N,)`` coalition id or -1 (stored as NULL).
        actions: ``(N,)`` last move.
        metrics: per-agent ``(N,)`` arrays, stored as a JSON summary per agent.

    A stored row is only replaced by one with the same or a later ``tick``. Returns ``N``.
    """
    simulations.require(conn, simulation_id)
    n = len(ids)
    names = np.asarray(kind_names, dtype=object)[np.asarray(kinds)]
    coalition_col = [None] * n if coalition is None else _nullable(coalition)
    action_col = [None] * n if actions is None else np.asarray(actions).tolist()
    if metrics:
        keys = list(metrics)
        columns = [_finite(metrics[k]) for k in keys]
        metric_col = [dict(zip(keys, vals, strict=True)) for vals in zip(*columns, strict=True)]
    else:
        metric_col = [{}] * n
    pos = np.asarray(positions)
    rows = list(
        zip(
            [simulation_id] * n,
            np.asarray(ids).tolist(),
            names.tolist(),
            ["active"] * n,
            coalition_col,
            pos[:, 0].tolist(),
            pos[:, 1].tolist(),
            np.asarray(energy, dtype=np.float64).tolist(),
            action_col,
            metric_col,
            [int(tick)] * n,
            strict=True,
        )
    )
    return _upsert(conn, agents, _COLUMNS, rows, update=_COLUMNS[2:], newer="updated_tick")


def _finite(values: np.ndarray) -> list:
    """Floats for JSON, NaN and infinities as None (JSONB refuses them)."""
    values = np.asarray(values, dtype=np.float64)
    out = values.tolist()
    if not np.isfinite(values).all():
        out = [v if np.isfinite(v) else None for v in out]
    return out


def _nullable(values: np.ndarray) -> list:
    return [None if v < 0 else v for v in np.asarray(values).tolist()]


def retire_missing(conn: Connection, simulation_id: int, tick: int) -> int:
    """Mark removed every active agent not written at ``tick`` or later; returns how many.

    Call after upserting the whole population of ``tick``: whoever was not in it has
    left, and so has left its coalition (its open membership is closed at ``tick``).
    """
    stmt = (
        agents.update()
        .where(
            agents.c.simulation_id == simulation_id,
            agents.c.status == "active",
            agents.c.updated_tick < tick,
        )
        .values(status="removed", updated_tick=tick)
    )
    retired = conn.execute(stmt).rowcount
    if retired:
        gone = sa.select(agents.c.agent_id).where(
            agents.c.simulation_id == simulation_id,
            agents.c.status == "removed",
            agents.c.updated_tick == tick,
        )
        m = coalition_memberships.c
        conn.execute(
            coalition_memberships.update()
            .where(m.simulation_id == simulation_id, m.left_tick.is_(None), m.agent_id.in_(gone))
            .values(left_tick=tick)
        )
    return retired


def get(conn: Connection, simulation_id: int, agent_id: int) -> AgentRecord:
    """One agent; :class:`UnknownIdError` when it was never stored."""
    stmt = agents.select().where(
        agents.c.simulation_id == simulation_id, agents.c.agent_id == agent_id
    )
    row = conn.execute(stmt).first()
    if row is None:
        raise UnknownIdError(f"no agent {agent_id} in simulation {simulation_id}")
    return AgentRecord(**row._mapping)


def query(
    conn: Connection,
    simulation_id: int,
    *,
    status: str | None = None,
    kind: str | None = None,
    coalition: int | None = None,
    after: int | None = None,
    limit: int = 100,
) -> list[AgentRecord]:
    """Agents in id order, filtered; page with ``after`` = the last id of the previous page.

    Keyset paging (``agent_id > after``) costs the same for every page, unlike OFFSET.
    """
    simulations.require(conn, simulation_id)
    if status is not None and status not in AGENT_STATUSES:
        raise ConfigurationError(f"status must be one of {AGENT_STATUSES}, got {status!r}")
    if limit < 1:
        raise ConfigurationError(f"limit must be >= 1, got {limit}")
    stmt = agents.select().where(agents.c.simulation_id == simulation_id)
    if status is not None:
        stmt = stmt.where(agents.c.status == status)
    if kind is not None:
        stmt = stmt.where(agents.c.kind == kind)
    if coalition is not None:
        stmt = stmt.where(agents.c.coalition_id == coalition)
    if after is not None:
        stmt = stmt.where(agents.c.agent_id > after)
    stmt = stmt.order_by(agents.c.agent_id).limit(limit)
    return [AgentRecord(**row._mapping) for row in conn.execute(stmt)]


def count(conn: Connection, simulation_id: int, *, status: str | None = None) -> int:
    """How many agents a simulation has stored (with ``status`` when given)."""
    stmt = sa.select(sa.func.count()).where(agents.c.simulation_id == simulation_id)
    if status is not None:
        stmt = stmt.where(agents.c.status == status)
    return int(conn.execute(stmt).scalar_one())
