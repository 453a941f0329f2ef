"""Coalitions and their membership history, applied from arrays of membership events.

A membership row is open (``left_tick`` NULL) while the agent belongs to the coalition.
Applying the same events twice leaves the same rows: formations and joins are keyed
inserts, and leaves and dissolutions only close memberships that began at or before them.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby

import numpy as np
import sqlalchemy as sa
from sqlalchemy import Connection

from freeagentics.coalitions import EventKind
from freeagentics.errors import ConfigurationError, UnknownIdError
from freeagentics.storage import simulations
from freeagentics.storage._bulk import upsert
from freeagentics.storage.tables import COALITION_STATUSES, coalition_memberships, coalitions

__all__ = [
    "CoalitionRecord",
    "MembershipRecord",
    "apply_events",
    "describe",
    "get",
    "history",
    "members",
    "query",
]

_m = coalition_memberships


@dataclass(frozen=True)
class CoalitionRecord:
    simulation_id: int
    coalition_id: int
    objective: int | None
    leader: int | None
    status: str
    created_tick: int
    dissolved_tick: int | None


@dataclass(frozen=True)
class MembershipRecord:
    simulation_id: int
    coalition_id: int
    agent_id: int
    joined_tick: int
    left_tick: int | None


def apply_events(
    conn: Connection,
    simulation_id: int,
    *,
    tick: np.ndarray,
    kind: np.ndarray,
    agent: np.ndarray,
    coalition: np.ndarray,
) -> int:
    """Apply ``E`` membership events in order; returns ``E``.

    Args:
        tick: ``(E,)`` tick of each event.
        kind: ``(E,)`` :class:`~freeagentics.coalitions.EventKind` codes.
        agent: ``(E,)`` agent **ids** (not row indices); ignored for FORM and DISSOLVE.
        coalition: ``(E,)`` coalition ids.

    Consecutive events of one kind go to the database as one statement.
    """
    simulations.require(conn, simulation_id)
    events = list(
        zip(
            np.asarray(kind).tolist(),
            np.asarray(tick).tolist(),
            np.asarray(agent).tolist(),
            np.asarray(coalition).tolist(),
            strict=True,
        )
    )
    for code, run in groupby(events, key=lambda e: e[0]):
        _APPLY[EventKind(code)](conn, simulation_id, [e[1:] for e in run])
    return len(events)


def _form(conn: Connection, sim: int, run: list) -> None:
    rows = list({c: (sim, c, "active", t) for t, _, c in run}.values())
    upsert(conn, coalitions, ("simulation_id", "coalition_id", "status", "created_tick"), rows)


def _join(conn: Connection, sim: int, run: list) -> None:
    # A join may name a coalition formed before storage started: record it as formed then.
    _form(conn, sim, run)
    rows = list({(c, a, t): (sim, c, a, t) for t, a, c in run}.values())
    upsert(conn, _m, ("simulation_id", "coalition_id", "agent_id", "joined_tick"), rows)


def _leave(conn: Connection, sim: int, run: list) -> None:
    stmt = (
        _m.update()
        .where(
            _m.c.simulation_id == sim,
            _m.c.coalition_id == sa.bindparam("c"),
            _m.c.agent_id == sa.bindparam("a"),
            _m.c.left_tick.is_(None),
            _m.c.joined_tick <= sa.bindparam("t"),
        )
        .values(left_tick=sa.bindparam("t"))
    )
    conn.execute(stmt, [{"c": c, "a": a, "t": t} for t, a, c in run])


def _dissolve(conn: Connection, sim: int, run: list) -> None:
    params = [{"c": c, "t": t} for t, _, c in run]
    conn.execute(
        coalitions.update()
        .where(
            coalitions.c.simulation_id == sim,
            coalitions.c.coalition_id == sa.bindparam("c"),
            coalitions.c.status == "active",
        )
        .values(status="dissolved", dissolved_tick=sa.bindparam("t")),
        params,
    )
    conn.execute(
        _m.update()
        .where(
            _m.c.simulation_id == sim,
            _m.c.coalition_id == sa.bindparam("c"),
            _m.c.left_tick.is_(None),
            _m.c.joined_tick <= sa.bindparam("t"),
        )
        .values(left_tick=sa.bindparam("t")),
        params,
    )


_APPLY = {
    EventKind.FORM: _form,
    EventKind.JOIN: _join,
    EventKind.LEAVE: _leave,
    EventKind.DISSOLVE: _dissolve,
}


def describe(
    conn: Connection,
    simulation_id: int,
    coalition_ids: np.ndarray,
    *,
    objective: np.ndarray,
    leader: np.ndarray,
) -> int:
    """Set objective and leader of stored coalitions, ``(C,)`` each, -1 for none.

    Unknown coalitions are skipped; returns how many rows changed.
    """
    params = [
        {"c": c, "o": None if o < 0 else o, "l": None if ld < 0 else ld}
        for c, o, ld in zip(
            np.asarray(coalition_ids).tolist(),
            np.asarray(objective).tolist(),
            np.asarray(leader).tolist(),
            strict=True,
        )
    ]
    if not params:
        return 0
    stmt = (
        coalitions.update()
        .where(
            coalitions.c.simulation_id == simulation_id,
            coalitions.c.coalition_id == sa.bindparam("c"),
        )
        .values(objective=sa.bindparam("o"), leader=sa.bindparam("l"))
    )
    return conn.execute(stmt, params).rowcount


def get(conn: Connection, simulation_id: int, coalition_id: int) -> CoalitionRecord:
    """One coalition; :class:`UnknownIdError` when it was never stored."""
    row = conn.execute(
        coalitions.select().where(
            coalitions.c.simulation_id == simulation_id,
            coalitions.c.coalition_id == coalition_id,
        )
    ).first()
    if row is None:
        raise UnknownIdError(f"no coalition {coalition_id} in simulation {simulation_id}")
    return CoalitionRecord(**row._mapping)


def query(
    conn: Connection, simulation_id: int, *, status: str | None = None
) -> list[CoalitionRecord]:
    """A simulation's coalitions in id order, optionally only those with ``status``."""
    simulations.require(conn, simulation_id)
    stmt = coalitions.select().where(coalitions.c.simulation_id == simulation_id)
    if status is not None:
        if status not in COALITION_STATUSES:
            raise ConfigurationError(f"status must be one of {COALITION_STATUSES}, got {status!r}")
        stmt = stmt.where(coalitions.c.status == status)
    return [CoalitionRecord(**r._mapping) for r in conn.execute(stmt.order_by("coalition_id"))]


def members(
    conn: Connection, simulation_id: int, coalition_id: int, *, at: int | None = None
) -> np.ndarray:
    """``(M,)`` int64 ids of the members now, or just after tick ``at``, ascending."""
    get(conn, simulation_id, coalition_id)
    stmt = sa.select(_m.c.agent_id).where(
        _m.c.simulation_id == simulation_id, _m.c.coalition_id == coalition_id
    )
    if at is None:
        stmt = stmt.where(_m.c.left_tick.is_(None))
    else:
        stmt = stmt.where(
            _m.c.joined_tick <= at, sa.or_(_m.c.left_tick.is_(None), _m.c.left_tick > at)
        )
    ids = conn.execute(stmt.order_by(_m.c.agent_id)).scalars().all()
    return np.asarray(ids, dtype=np.int64)


def history(conn: Connection, simulation_id: int, agent_id: int) -> list[MembershipRecord]:
    """Every membership of one agent, oldest first."""
    simulations.require(conn, simulation_id)
    stmt = (
        _m.select()
        .where(_m.c.simulation_id == simulation_id, _m.c.agent_id == agent_id)
        .order_by(_m.c.joined_tick, _m.c.coalition_id)
    )
    return [MembershipRecord(**r._mapping) for r in conn.execute(stmt)]
