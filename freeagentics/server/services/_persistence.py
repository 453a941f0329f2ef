"""Checkpoints of the server's simulations: keyed, bounded, periodic, and read back at start.

Every checkpoint the server writes is authenticated with an HMAC-SHA256 under a key
derived from the server's secret (:func:`checkpoint_key`), and every checkpoint it
reads is checked under that key before anything in it is parsed: a row written by
anyone without the secret is refused, whatever its SHA-256 column says.

A simulation is checkpointed when it is created, every ``every_ticks`` ticks (on the
thread that stepped it, before the next tick, so a crash loses at most that many
ticks) and on request; each keeps at most ``max_count`` checkpoints and ``max_bytes``
bytes, the oldest pruned first. When the server starts, :func:`recover` brings back
every simulation the database says was created, running or paused, from its latest
checkpoint, and reports the ticks lost (the last tick the database recorded minus the
checkpoint's); rows it cannot bring back are marked ``failed``, never left ``running``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from freeagentics.errors import UnknownIdError
from freeagentics.simulation import Simulation
from freeagentics.storage import checkpoints as checkpoint_store
from freeagentics.storage import simulations as simulation_store
from freeagentics.storage.tables import simulations as simulations_table

if TYPE_CHECKING:
    from freeagentics.server.services._managed import ManagedSimulation
    from freeagentics.server.services.simulations import SimulationService

__all__ = ["CheckpointPolicy", "Restored", "checkpoint_key", "recover"]

log = logging.getLogger("freeagentics.server.checkpoints")

#: statuses of simulations that were alive when the server stopped
LIVE_STATUSES = ("created", "running", "paused")


def checkpoint_key(secret: str) -> bytes:
    """The key checkpoints are authenticated with, derived from the server's secret
    (never the token-signing key itself)."""
    return hmac.new(secret.encode(), b"freeagentics checkpoint key 1", hashlib.sha256).digest()


@dataclass(frozen=True)
class CheckpointPolicy:
    """How the server checkpoints: its key, cadence (0: on request only) and quota."""

    key: bytes
    every_ticks: int = 0
    max_count: int = 16
    max_bytes: int = 512 * 1024 * 1024

    def due(self, tick: int) -> bool:
        return self.every_ticks > 0 and tick > 0 and tick % self.every_ticks == 0

    def save(self, conn: sa.Connection, sim_id: int, tick: int, data: bytes) -> int:
        return checkpoint_store.save(
            conn, sim_id, tick, data, max_count=self.max_count, max_bytes=self.max_bytes
        )

    def load(self, conn: sa.Connection, sim_id: int, checkpoint_id: int | None) -> Simulation:
        """The simulation of one of ``sim_id``'s checkpoints (default: the latest).

        Raises:
            UnknownIdError: no such checkpoint of this simulation.
            CheckpointError: the bytes fail the HMAC or are not a valid checkpoint.
        """
        if checkpoint_id is None:
            checkpoint_id = checkpoint_store.latest(conn, sim_id).id
        elif checkpoint_id not in {r.id for r in checkpoint_store.query(conn, sim_id)}:
            raise UnknownIdError(f"simulation {sim_id} has no checkpoint {checkpoint_id}")
        data = checkpoint_store.load(conn, checkpoint_id)
        return Simulation.from_checkpoint(data, self.key)


@dataclass(frozen=True)
class Restored:
    """What :func:`recover` did with one stored simulation."""

    id: int
    name: str
    status: str
    tick: int | None
    ticks_lost: int | None
    error: str | None = None


def recover(
    service: SimulationService,
    adopt: Callable[[int, str, Simulation, str, int], ManagedSimulation],
    on_restored: Callable[[int], None] | None = None,
    ids: Sequence[int] | None = None,
) -> list[Restored]:
    """Bring back the simulations a previous server left alive (see the module docstring),
    or exactly those whose ids are in ``ids``, whatever their status (a host of its own
    that started again brings back its simulation, completed or failed ones too: they
    stay inspectable).

    ``adopt(id, name, sim, status, ticks_lost)`` hands a restored simulation to the
    service; ``on_restored(ticks_lost)`` is called for each (metrics).
    """
    table = simulations_table
    query = sa.select(table.c.id, table.c.name, table.c.status, table.c.tick)
    if ids is None:
        query = query.where(table.c.status.in_(LIVE_STATUSES))
    else:
        query = query.where(table.c.id.in_([int(i) for i in ids]))
    with service.engine.connect() as conn:
        rows = conn.execute(query.order_by(table.c.id)).all()
    report = []
    for row in rows:
        name = row.name or f"simulation-{row.id}"
        if len(service.ids()) >= service.max_simulations:
            report.append(_give_up(service, row, name, "the server's max_simulations is reached"))
            continue
        try:
            with service.engine.connect() as conn:
                record = checkpoint_store.latest(conn, row.id)
                sim = service.checkpoint_policy.load(conn, row.id, record.id)
        except Exception as exc:  # one bad row must not keep the server from starting
            report.append(_give_up(service, row, name, f"{type(exc).__name__}: {exc}"))
            continue
        lost = max(0, int(row.tick) - sim.tick)
        with service.engine.begin() as conn:  # before it runs and stores ticks again
            simulation_store.rewind(conn, row.id, sim.tick)
        adopt(row.id, name, sim, row.status, lost)
        if on_restored is not None:
            on_restored(lost)
        log.warning(
            "restored simulation %d (%s) at tick %d from checkpoint %d: %d tick(s) lost",
            row.id,
            name,
            sim.tick,
            record.id,
            lost,
        )
        report.append(Restored(row.id, name, row.status, sim.tick, lost))
    return report


def _give_up(service: SimulationService, row: Any, name: str, reason: str) -> Restored:
    with service.engine.begin() as conn:
        simulation_store.update(conn, row.id, status="failed")
    log.error("simulation %d (%s) cannot be restored, marked failed: %s", row.id, name, reason)
    return Restored(row.id, name, "failed", None, None, reason)


def periodic(policy: CheckpointPolicy, write: Callable[[ManagedSimulation], None]):
    """An ``after_tick`` hook for :class:`ManagedSimulation` checkpointing every
    ``policy.every_ticks`` ticks; a failed write is logged and the simulation goes on."""

    def after_tick(managed: ManagedSimulation, tick: int) -> None:
        if not policy.due(tick):
            return
        try:
            write(managed)
        except Exception:  # storage trouble must not stop the simulation
            log.exception("checkpoint of simulation %d failed at tick %d", managed.id, tick)

    return after_tick
