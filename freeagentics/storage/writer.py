"""The one writer that stores a running simulation, off the tick's hot path.

The simulation hands each tick's :class:`~freeagentics.simulation.TickEvents` to
:meth:`StorageWriter.submit` (or passes :meth:`StorageWriter.hook` as ``on_tick``).
Submitting only appends to a bounded in-memory queue; a background thread takes up to
``max_batch`` queued ticks at a time and writes them in **one transaction**:

* ``tick_metrics``: one row per tick, every tick;
* coalition events of every tick, in order (memberships with history);
* ``agents``: the latest state of every agent in the batch (older states of the same
  agents are superseded, so only the newest is written), agents that left marked removed;
* belief snapshots taken every ``snapshot_every`` ticks; the simulation's current tick.

Rows go in bulk (COPY + ``INSERT ... ON CONFLICT`` on PostgreSQL, executemany upserts on
SQLite), never one statement per agent per tick.

**When the database is slow or away** the batch is retried forever with exponential
backoff (``backoff_initial`` doubling up to ``backoff_max`` seconds); it is only taken
off the writer once committed, and every statement is an idempotent upsert, so a batch
whose commit was acknowledged too late is not written twice. Meanwhile the queue
fills, and then the ``policy`` decides:

``"block"`` (default)
    :meth:`submit` waits for room: the simulation slows to the database's pace
    (backpressure) and memory stays bounded by ``queue_size`` ticks.
``"coalesce"``
    :meth:`submit` folds the new tick into the newest queued entry instead: per-tick
    rows (metrics, coalition events, belief snapshots) are all kept, while per-agent
    state keeps only the newest tick. The simulation keeps its pace; memory grows by a
    small row per tick, up to ``coalesce_limit`` ticks per entry, after which
    :meth:`submit` blocks as under ``"block"``.

Nothing accepted is ever dropped. Counters (``batches_written``, ``rows_written``,
``retries``, ``queue_depth``, ``last_write_seconds`` ...) are plain attributes, ready to
be exported as metrics; :meth:`stats` returns them all.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import Connection, Engine

from freeagentics.errors import ConfigurationError
from freeagentics.storage import agents, coalitions, simulations
from freeagentics.storage import beliefs as belief_store
from freeagentics.storage._batch import CoalitionMeta, Pending
from freeagentics.storage._bulk import upsert
from freeagentics.storage._capture import belief_snapshots, coalition_meta
from freeagentics.storage.metrics import COLUMNS as METRIC_COLUMNS
from freeagentics.storage.tables import tick_metrics

if TYPE_CHECKING:  # the simulation package imports knowledge, which may import storage
    from freeagentics.simulation import Simulation, TickEvents

__all__ = ["POLICIES", "StorageWriter"]

POLICIES = ("block", "coalesce")


class StorageWriter:
    """Store the ticks of simulation ``simulation_id`` through ``engine``; see the module doc.

    Args:
        engine: from :func:`~freeagentics.storage.create_engine_for`, schema migrated.
        simulation_id: a stored simulation (:func:`~freeagentics.storage.simulations.create`).
        queue_size: ticks that may wait in the queue (entries, under ``"coalesce"``).
        max_batch: queue entries written per transaction.
        snapshot_every: with :meth:`hook`, store beliefs every this many ticks (0: never).
        policy: ``"block"`` or ``"coalesce"`` when the queue is full.
        coalesce_limit: ticks one entry may fold in under ``"coalesce"``.
        belief_dtype: storage dtype of belief snapshots.
        backoff_initial, backoff_max: retry delays in seconds.
        on_write_seconds: called on the writer's thread with the duration of each batch
            written (e.g. a Prometheus histogram's ``observe``).
    """

    def __init__(
        self,
        engine: Engine,
        simulation_id: int,
        *,
        queue_size: int = 64,
        max_batch: int = 32,
        snapshot_every: int = 0,
        policy: str = "block",
        coalesce_limit: int = 100_000,
        belief_dtype: str = "float16",
        backoff_initial: float = 0.05,
        backoff_max: float = 2.0,
        on_write_seconds: Callable[[float], None] | None = None,
    ):
        if policy not in POLICIES:
            raise ConfigurationError(f"policy must be one of {POLICIES}, got {policy!r}")
        for name, value in (
            ("queue_size", queue_size),
            ("max_batch", max_batch),
            ("coalesce_limit", coalesce_limit),
        ):
            if value < 1:
                raise ConfigurationError(f"{name} must be >= 1, got {value}")
        if snapshot_every < 0:
            raise ConfigurationError(f"snapshot_every must be >= 0, got {snapshot_every}")
        if not 0 < backoff_initial <= backoff_max:
            raise ConfigurationError("need 0 < backoff_initial <= backoff_max")
        self.engine, self.simulation_id = engine, simulation_id
        self.queue_size, self.max_batch, self.policy = queue_size, max_batch, policy
        self.snapshot_every, self.coalesce_limit = snapshot_every, coalesce_limit
        self.belief_dtype = belief_dtype
        self.backoff_initial, self.backoff_max = backoff_initial, backoff_max
        self._on_write_seconds = on_write_seconds
        # Counters, read by exporters and tests (written under the lock or by the thread).
        self.ticks_accepted = self.ticks_written = self.ticks_coalesced = 0
        self.batches_written = self.rows_written = self.retries = 0
        self.backpressure_waits = self.max_depth = 0
        self.last_write_seconds: float | None = None
        self.last_error: str | None = None
        self._queue: deque[Pending] = deque()
        self._writing: Pending | None = None
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, daemon=True, name="freeagentics-writer")
        self._thread.start()

    # ------------------------------------------------------------------ producer side
    @property
    def queue_depth(self) -> int:
        """Entries waiting in the queue (not counting the batch being written)."""
        return len(self._queue)

    @property
    def pending_ticks(self) -> int:
        """Ticks accepted and not yet committed."""
        with self._cond:
            writing = self._writing.ticks if self._writing is not None else 0
            return writing + sum(p.ticks for p in self._queue)

    def submit(
        self,
        events: TickEvents,
        beliefs: Sequence[belief_store.BeliefSnapshot] = (),
        meta: CoalitionMeta | None = None,
    ) -> None:
        """Accept one tick (in tick order); waits while the queue is full (see ``policy``)."""
        item = Pending(self.simulation_id, events, beliefs=list(beliefs), meta=meta)
        with self._cond:
            if self._closed:
                raise ConfigurationError("the writer is closed")
            while len(self._queue) >= self.queue_size:
                tail = self._queue[-1]
                if self.policy == "coalesce" and tail.ticks < self.coalesce_limit:
                    tail.absorb(item, reduce=True)
                    self.ticks_coalesced += 1
                    self.ticks_accepted += 1
                    return
                self.backpressure_waits += 1
                self._cond.wait()
            self._queue.append(item)
            self.ticks_accepted += 1
            self.max_depth = max(self.max_depth, len(self._queue))
            self._cond.notify_all()

    def hook(self, sim: Simulation) -> Callable[[TickEvents], None]:
        """An ``on_tick`` callback for ``sim.run`` that submits every tick of ``sim``.

        It also copies the agents' beliefs every ``snapshot_every`` ticks and the active
        coalitions' objectives and leaders when membership changed; both exist only on
        the simulation thread, hence a callback there rather than a bus subscription.
        """

        def on_tick(events: TickEvents) -> None:
            snaps: list[belief_store.BeliefSnapshot] = []
            if self.snapshot_every and events.tick % self.snapshot_every == 0:
                snaps = belief_snapshots(sim, events.tick, self.belief_dtype)
            meta = coalition_meta(sim, events) if events.coalition_events else None
            self.submit(events, snaps, meta)

        return on_tick

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything accepted is committed; False on timeout."""
        with self._cond:
            return self._cond.wait_for(
                lambda: not self._queue and self._writing is None, timeout=timeout
            )

    def close(self, timeout: float | None = None) -> bool:
        """Refuse further ticks, write what was accepted, stop; False if ``timeout`` hit.

        After a timeout the thread keeps retrying in the background (nothing is dropped).
        """
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        done = self.flush(timeout)
        if done:
            self._thread.join(timeout=5)
        return done

    def __enter__(self) -> StorageWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def stats(self) -> dict[str, float | int | None]:
        """Every counter, by name."""
        return {
            "ticks_accepted": self.ticks_accepted,
            "ticks_written": self.ticks_written,
            "ticks_coalesced": self.ticks_coalesced,
            "batches_written": self.batches_written,
            "rows_written": self.rows_written,
            "retries": self.retries,
            "backpressure_waits": self.backpressure_waits,
            "queue_depth": self.queue_depth,
            "max_depth": self.max_depth,
            "pending_ticks": self.pending_ticks,
            "last_write_seconds": self.last_write_seconds,
        }

    # ------------------------------------------------------------------ writer thread
    def _take(self) -> Pending | None:
        with self._cond:
            self._cond.wait_for(lambda: self._queue or self._closed)
            if not self._queue:
                return None
            batch = self._queue.popleft()
            for _ in range(self.max_batch - 1):
                if not self._queue:
                    break
                batch.absorb(self._queue.popleft(), reduce=True)
            self._writing = batch
            self._cond.notify_all()  # room in the queue: wake blocked producers
            return batch

    def _run(self) -> None:
        while (batch := self._take()) is not None:
            delay = self.backoff_initial
            while True:
                start = time.perf_counter()
                try:
                    rows = self._write(batch)
                except Exception as exc:  # any failure: keep the batch and try again
                    self.retries += 1
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    time.sleep(delay)
                    delay = min(2 * delay, self.backoff_max)
                    continue
                break
            seconds = time.perf_counter() - start
            if self._on_write_seconds is not None:
                self._on_write_seconds(seconds)
            with self._cond:
                self.last_write_seconds = seconds
                self.batches_written += 1
                self.rows_written += rows
                self.ticks_written += batch.ticks
                self._writing = None
                self._cond.notify_all()

    def _write(self, batch: Pending) -> int:
        metric_rows, events = batch.rows()
        with self.engine.connect() as conn:
            try:
                with conn.begin():
                    return self._write_in(conn, batch, metric_rows, events)
            except Exception:
                # The connection may be half-dead (server gone mid-COPY): never reuse it.
                conn.invalidate()
                raise

    def _write_in(self, conn: Connection, batch: Pending, metric_rows, events) -> int:
        sim = self.simulation_id
        simulations.require(conn, sim)
        rows = upsert(conn, tick_metrics, METRIC_COLUMNS, metric_rows)
        tick, kind, agent, coalition = (np.concatenate(col) for col in zip(*events, strict=True))
        if kind.size:
            rows += coalitions.apply_events(
                conn, sim, tick=tick, kind=kind, agent=agent, coalition=coalition
            )
        if batch.meta is not None:
            rows += coalitions.describe(
                conn, sim, batch.meta.ids, objective=batch.meta.objective, leader=batch.meta.leader
            )
        state = batch.latest
        n = len(state.ids)
        # Metrics collected every k ticks may predate agents added since: skip those then.
        per_agent = {k: v for k, v in state.metrics.items() if len(v) == n}
        rows += agents.upsert(
            conn,
            sim,
            state.tick,
            ids=state.ids,
            kinds=state.kinds,
            kind_names=state.kind_names,
            positions=state.positions,
            energy=state.energy,
            coalition=state.coalition,
            actions=state.actions,
            metrics=per_agent,
        )
        rows += agents.retire_missing(conn, sim, state.tick)
        if batch.beliefs:
            rows += belief_store.write(conn, sim, batch.beliefs, dtype=self.belief_dtype)
        simulations.update(conn, sim, tick=state.tick)
        return rows
