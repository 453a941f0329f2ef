"""The service that owns the server's simulations: create, run, inspect, store, restore.

Simulations are identified by their id in the ``simulations`` table. Each runs in a
:class:`~freeagentics.server.services._managed.ManagedSimulation` (its own lock, runner
thread and :class:`~freeagentics.storage.StorageWriter`). Statuses follow the table:
``created`` → ``running`` ⇄ ``paused`` → ``completed`` (stopped), or ``failed``.
Unknown ids raise :class:`~freeagentics.errors.UnknownIdError`; requests that do not
fit the current status raise :class:`ConflictError`; requests over one of the
:class:`~freeagentics.server.services._limits.ResourceLimits` raise
:class:`~freeagentics.errors.LimitError` naming it (REST and WebSocket share them).

Reads (summaries, agents, coalitions, the world) come from the snapshot each
simulation publishes at the end of every tick, never from under its lock; only
knowledge-graph queries still take the lock (the graph is too large to copy per tick).

The service is the in-process :class:`~freeagentics.hosts.SimulationHost`: its public
methods take and return plain data (knowledge queries go by name, see
:mod:`._knowledge`), so a :class:`~freeagentics.hosts.ServiceProxy` can offer the same
methods for a service in another process.
"""

from __future__ import annotations

import dataclasses
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy import Engine

from freeagentics.errors import ConfigurationError, UnknownIdError
from freeagentics.server.services import _views
from freeagentics.server.services._errors import ConflictError
from freeagentics.server.services._heap import release_heap, settle_heap
from freeagentics.server.services._kinds import KindDefinition, build_kind
from freeagentics.server.services._knowledge import node_data, run_query
from freeagentics.server.services._limits import ResourceLimits, check_limit
from freeagentics.server.services._managed import ManagedSimulation
from freeagentics.server.services._persistence import (
    CheckpointPolicy,
    Restored,
    periodic,
    recover,
)
from freeagentics.server.services._snapshot import Snapshot
from freeagentics.simulation import Simulation, Subscription, TickEvents
from freeagentics.simulation.scenario import scenario_from_mapping
from freeagentics.storage import checkpoints as checkpoint_store
from freeagentics.storage import database_state
from freeagentics.storage import simulations as simulation_store
from freeagentics.storage.tables import simulations as simulations_table
from freeagentics.storage.writer import StorageWriter

__all__ = ["ConflictError", "SimulationService"]

Observer = Callable[[float], None]

#: Largest values a request may ask for: what one server process can hold (agents:
#: :attr:`ResourceLimits.max_agents_per_simulation`).
SCALE_LIMITS = {
    "world cells (world.height x world.width)": 4_000_000,
    "simulation.history": 256,
    "simulation.radius": 16,
    "world.observation_radius": 8,
    "simulation.knowledge_max_nodes": 2_000_000,
    "coalitions.history": 1_000_000,
    "coalitions.auto_objectives": 1_000,
}


#: seeds feed numpy's SeedSequence and the database's BIGINT column
MAX_SEED = 2**63 - 1


def _check_text(value: Any, path: str) -> None:
    """Refuse NUL characters in any string of ``value`` (PostgreSQL text cannot hold them)."""
    stack = [(value, path)]
    while stack:  # iterative: nesting depth is the request's, not the interpreter's
        item, where = stack.pop()
        if isinstance(item, str) and "\x00" in item:
            raise ConfigurationError(f"{where}: must not contain NUL characters")
        if isinstance(item, Mapping):
            stack.extend((v, f"{where}.{k}" if where else str(k)) for k, v in item.items())
            stack.extend((k, f"{where} (a key)") for k in item if isinstance(k, str))
        elif isinstance(item, list | tuple):
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(item))


def _check_scale(config: Any, limits: ResourceLimits) -> None:
    """Refuse scenarios too large for the server (a :class:`ConfigurationError` naming why)."""
    check_limit(
        "max_agents_per_simulation", config.n_agents, limits.max_agents_per_simulation, "agents"
    )
    if not 0 <= config.seed <= MAX_SEED:
        raise ConfigurationError(f"scenario.seed: {config.seed} is outside 0..{MAX_SEED}")
    values = {
        "world cells (world.height x world.width)": config.world.height * config.world.width,
        "simulation.history": config.history,
        "simulation.radius": config.radius,
        "world.observation_radius": config.world.observation_radius,
        "simulation.knowledge_max_nodes": config.knowledge_max_nodes,
        "coalitions.history": config.coalitions.history,
        "coalitions.auto_objectives": config.coalitions.auto_objectives,
    }
    for name, value in values.items():
        if value > SCALE_LIMITS[name]:
            raise ConfigurationError(
                f"{name}: {value} is more than this server allows ({SCALE_LIMITS[name]})"
            )


class SimulationService:
    """Every simulation the server runs, persisted through ``engine``.

    Args:
        engine: a migrated database.
        tick_rate_hz: ticks per second of a started simulation.
        limits: the resource limits (default: the settings' defaults).
        history_limit: most belief-history entries an agent view returns.
        on_tick_seconds: called with each tick's duration (metrics).
        on_db_write_seconds: called with the duration of each database write of the service.
        checkpoints: key, cadence and quota of checkpoints (default: a key of this
            process only, on request only); see :mod:`._persistence`.
        on_restored: called with the ticks lost by each simulation :meth:`recover` restores.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        tick_rate_hz: float = 10.0,
        limits: ResourceLimits | None = None,
        history_limit: int = 256,
        on_tick_seconds: Observer | None = None,
        on_db_write_seconds: Observer | None = None,
        checkpoints: CheckpointPolicy | None = None,
        on_restored: Callable[[int], None] | None = None,
    ):
        self.engine = engine
        self.checkpoint_policy = checkpoints or CheckpointPolicy(key=secrets.token_bytes(32))
        self._on_restored = on_restored
        self.tick_rate_hz = tick_rate_hz
        self.limits = limits = limits or ResourceLimits()
        self.max_simulations = limits.max_simulations
        self.history_limit = history_limit
        self._on_tick_seconds = on_tick_seconds
        self._on_db_write_seconds = on_db_write_seconds
        self._sims: dict[int, ManagedSimulation] = {}
        self._reserved = 0  # creations under way, counted against max_simulations
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ plumbing
    def _write(self, work: Callable[[sa.Connection], Any]) -> Any:
        start = time.perf_counter()
        with self.engine.begin() as conn:
            result = work(conn)
        if self._on_db_write_seconds is not None:
            self._on_db_write_seconds(time.perf_counter() - start)
        return result

    def _managed(self, sim_id: int) -> ManagedSimulation:
        try:
            return self._sims[sim_id]
        except KeyError:
            raise UnknownIdError(f"no simulation with id {sim_id}") from None

    def _record_status(self, managed: ManagedSimulation) -> None:
        self._write(lambda c: simulation_store.update(c, managed.id, status=managed.status))

    def snapshot(self, sim_id: int) -> Snapshot:
        """The simulation as of its last tick (no lock taken)."""
        return self._managed(sim_id).snapshot

    @staticmethod
    def _summary(managed: ManagedSimulation) -> dict[str, Any]:
        snap = managed.snapshot
        return {
            "id": managed.id,
            "name": managed.name,
            "status": managed.status,
            "tick": snap.tick,
            "agents": snap.agents,
            "kinds": dict(snap.kind_counts),
            "coalitions": snap.active_coalitions,
            "world": [snap.layout.height, snap.layout.width],
            "error": managed.error,
            "ticks_lost": managed.ticks_lost,
            "failovers": managed.failovers,
        }

    # ------------------------------------------------------------------ lifecycle
    def create(
        self,
        scenario: Mapping[str, Any] | None = None,
        *,
        name: str | None = None,
        kinds: Sequence[KindDefinition | Mapping[str, Any]] = (),
    ) -> int:
        """Build a simulation from a scenario mapping (and custom kinds, each a
        :class:`KindDefinition` or the map of its fields); return its id.

        A place under ``max_simulations`` is reserved before anything is built, so
        concurrent creations never hold more simulations than the limit.
        """
        kinds = [KindDefinition.of(k, f"kinds[{i}]") for i, k in enumerate(kinds)]
        with self._lock:
            held = len(self._sims) + self._reserved
            if held >= self.limits.max_simulations:
                raise ConflictError(
                    f"the server holds {held} simulations, its limit "
                    f"max_simulations={self.limits.max_simulations}; delete one first"
                )
            self._reserved += 1
        try:
            return self._create(scenario, name, kinds)
        finally:
            with self._lock:
                self._reserved -= 1

    def create_into(
        self,
        sim_id: int,
        scenario: Mapping[str, Any] | None = None,
        *,
        name: str | None = None,
        kinds: Sequence[KindDefinition | Mapping[str, Any]] = (),
    ) -> int:
        """As :meth:`create`, into the stored simulation ``sim_id`` that holds nothing yet
        (a row made by the router of a deployment whose simulations each have a host of
        their own); its configuration, seed and name are set. Returns ``sim_id``."""
        if sim_id in self._sims:
            raise ConflictError(f"simulation {sim_id} is already held here")
        kinds = [KindDefinition.of(k, f"kinds[{i}]") for i, k in enumerate(kinds)]
        with self._lock:
            self._reserved += 1
        try:
            return self._create(scenario, name, kinds, row=sim_id)
        finally:
            with self._lock:
                self._reserved -= 1

    def _create(
        self,
        scenario: Mapping[str, Any] | None,
        name: str | None,
        kinds: Sequence[KindDefinition],
        row: int | None = None,
    ) -> int:
        _check_text(name, "name")
        _check_text(scenario, "scenario")
        limits = self.limits
        for i, k in enumerate(kinds):
            where = f"kinds[{i}].count"
            check_limit("max_agents_per_request", k.count, limits.max_agents_per_request, where)
        parsed = scenario_from_mapping(scenario or {}, default_name=name or "simulation")
        _check_scale(parsed.config, limits)
        built = [build_kind(k, i, limits.model) for i, k in enumerate(kinds)]
        config = parsed.config
        if built:
            clash = sorted({k.name for k in built} & set(config.agents))
            if clash:
                raise ConfigurationError(f"kinds: {clash} already counted in the scenario's agents")
            counts = {**config.agents, **{k.name: k.count for k in kinds}}
            config = dataclasses.replace(config, agents=counts)
        _check_scale(config, limits)
        sim = Simulation(config, kinds=built)
        label = name or parsed.name
        if row is None:
            sim_id = self._write(
                lambda c: simulation_store.create(c, config, name=label, status="created")
            )
        else:
            sim_id = row
            self._write(lambda c: simulation_store.assign(c, row, config, name=label))
        managed = self._hold(sim_id, label, sim)
        if self.checkpoint_policy.every_ticks:
            with managed.lock:  # restorable from the start, whatever its kinds
                self._save_checkpoint(managed)
        return sim_id

    def _hold(self, sim_id: int, name: str, sim: Simulation) -> ManagedSimulation:
        """Run ``sim`` as stored simulation ``sim_id``: writer, runner, periodic checkpoints."""
        writer = StorageWriter(
            self.engine, sim_id, policy="coalesce", on_write_seconds=self._on_db_write_seconds
        )
        managed = ManagedSimulation(
            sim_id,
            name,
            sim,
            writer,
            self.tick_rate_hz,
            on_tick_seconds=self._on_tick_seconds,
            on_status=self._record_status,
            after_tick=periodic(self.checkpoint_policy, self._save_checkpoint),
        )
        with self._lock:
            self._sims[sim_id] = managed
        settle_heap()  # the new objects are long-lived: keep full collections off them
        return managed

    def recover(self) -> list[Restored]:
        """Bring back the simulations the database says were alive (server start).

        Running ones run again, paused and created ones stay so; each reports
        ``ticks_lost``. Those that cannot be restored are marked ``failed``.
        """
        return self._recover(None)

    def recover_one(self, sim_id: int) -> list[Restored]:
        """Bring back simulation ``sim_id`` from its latest checkpoint whatever its status
        (a host of one simulation that starts again after its process died), as
        :meth:`recover` does; empty when the database has no such simulation."""
        return self._recover([sim_id])

    def _recover(self, ids: Sequence[int] | None) -> list[Restored]:
        def adopt(sim_id: int, name: str, sim: Simulation, status: str, lost: int):
            managed = self._hold(sim_id, name, sim)
            managed.ticks_lost = lost
            managed.set_status(status)
            if status == "running":
                managed.launch()
            return managed

        return recover(self, adopt, self._on_restored, ids=ids)

    def mark_failover(self, sim_id: int, failovers: int) -> None:
        """Simulation ``sim_id`` resumed here after its host died, for the ``failovers``-th
        time (its summary says so)."""
        self._managed(sim_id).failovers = failovers

    def get(self, sim_id: int) -> dict[str, Any]:
        """Summary of one simulation."""
        return self._summary(self._managed(sim_id))

    def list(self, *, status: str | None = None) -> list[dict[str, Any]]:
        """Summaries of every simulation held, ascending id (optionally one status)."""
        with self._lock:
            held = [self._sims[k] for k in sorted(self._sims)]
        out = [self._summary(m) for m in held]
        return [s for s in out if status is None or s["status"] == status]

    def ids(self) -> list[int]:
        """Ids of the simulations held."""
        with self._lock:
            return sorted(self._sims)

    def _transition(self, sim_id: int, allowed: tuple[str, ...], status: str) -> dict[str, Any]:
        managed = self._managed(sim_id)
        with managed.lock:
            if managed.status not in allowed:
                raise ConflictError(
                    f"simulation {sim_id} is {managed.status}; this needs one of {list(allowed)}"
                )
            managed.set_status(status)
        self._record_status(managed)
        return self._summary(managed)

    def start(self, sim_id: int) -> dict[str, Any]:
        """Step the simulation in the background at the service's tick rate."""
        summary = self._transition(sim_id, ("created", "paused"), "running")
        self._managed(sim_id).launch()
        return summary

    def pause(self, sim_id: int) -> dict[str, Any]:
        """Stop stepping after the tick in progress; :meth:`resume` continues."""
        return self._transition(sim_id, ("running",), "paused")

    def resume(self, sim_id: int) -> dict[str, Any]:
        """Continue a paused simulation."""
        summary = self._transition(sim_id, ("paused",), "running")
        self._managed(sim_id).launch()
        return summary

    def stop(self, sim_id: int) -> dict[str, Any]:
        """End the simulation for good (it stays inspectable); its ticks are flushed."""
        summary = self._transition(sim_id, ("created", "running", "paused"), "completed")
        managed = self._managed(sim_id)
        managed.join()
        managed.writer.flush(timeout=10)
        return summary

    def step(self, sim_id: int, n: int) -> dict[str, Any]:
        """Run ``n`` ticks now, on the caller's thread (not while running).

        The lock is taken per tick, so knowledge queries wait one tick at most; a
        start or deletion between ticks ends the stepping early.
        """
        if n < 1:
            raise ConfigurationError(f"n must be >= 1, got {n}")
        check_limit("max_step_ticks", n, self.limits.max_step_ticks, "n")
        managed = self._managed(sim_id)
        for done in range(n):
            with managed.lock:
                if managed.status not in ("created", "paused"):
                    if done:
                        break  # changed under us: the ticks run so far stand
                    raise ConflictError(
                        f"simulation {sim_id} is {managed.status}; pause it before stepping"
                    )
                managed.step()
        return self._summary(managed)

    def delete(self, sim_id: int) -> None:
        """Stop the simulation, and remove it and everything stored about it."""
        managed = self._managed(sim_id)
        managed.set_status("completed")
        managed.join()
        managed.writer.close(timeout=10)
        with managed.lock:
            managed.sim.bus.close()
        with self._lock:
            self._sims.pop(sim_id, None)
        self._write(
            lambda c: c.execute(simulations_table.delete().where(simulations_table.c.id == sim_id))
        )
        del managed  # the last reference: what it leaves in cycles is collectable now
        release_heap()

    def close(self) -> None:
        """Stop every runner and flush every writer (server shutdown)."""
        with self._lock:
            held = list(self._sims.values())
        for managed in held:
            if managed.status in ("running", "paused"):
                managed.set_status("completed")
                managed.join()
                self._record_status(managed)
            managed.writer.close(timeout=10)
            with managed.lock:
                managed.sim.bus.close()

    # ------------------------------------------------------------------ checkpoints
    def checkpoint(self, sim_id: int) -> dict[str, Any]:
        """Store the simulation's exact state in the database; returns the checkpoint record.

        The oldest checkpoints are pruned to keep the simulation within its quota.
        """
        managed = self._managed(sim_id)
        policy = self.checkpoint_policy
        with managed.lock:  # the state of one tick; stored after the lock is released
            data, tick = managed.sim.to_checkpoint(policy.key), managed.sim.tick
        checkpoint_id = self._write(lambda c: policy.save(c, sim_id, tick, data))
        return self._checkpoint_record(sim_id, checkpoint_id)

    def _save_checkpoint(self, managed: ManagedSimulation) -> int:
        """Write ``managed``'s checkpoint (hold its lock); returns the checkpoint id."""
        policy = self.checkpoint_policy
        data, tick = managed.sim.to_checkpoint(policy.key), managed.sim.tick
        return self._write(lambda c: policy.save(c, managed.id, tick, data))

    def _checkpoint_record(self, sim_id: int, checkpoint_id: int) -> dict[str, Any]:
        for record in self.checkpoints(sim_id):
            if record["id"] == checkpoint_id:
                return record
        raise UnknownIdError(f"simulation {sim_id} has no checkpoint {checkpoint_id}")

    def checkpoints(self, sim_id: int) -> list[dict[str, Any]]:
        """The simulation's stored checkpoints, oldest first."""
        self._managed(sim_id)
        with self.engine.connect() as conn:
            records = checkpoint_store.query(conn, sim_id)
        return [
            {
                "id": r.id,
                "tick": r.tick,
                "size_bytes": r.size_bytes,
                "sha256": r.sha256,
                "created_at": r.created_at.isoformat(),  # JSON-ready, as every result
            }
            for r in records
        ]

    def restore(self, sim_id: int, checkpoint_id: int | None = None) -> dict[str, Any]:
        """Continue the simulation from one of its checkpoints (default: the latest)."""
        managed = self._managed(sim_id)
        with self.engine.connect() as conn:  # the HMAC is checked before anything is parsed
            restored = self.checkpoint_policy.load(conn, sim_id, checkpoint_id)
        managed.replace(restored)
        release_heap()  # the replaced simulation's objects go; the restored one's stay
        return self._summary(managed)

    # ------------------------------------------------------------------ world
    def world(self, sim_id: int) -> dict[str, Any]:
        """The world's layout and resource amounts now (see :func:`_views.world_view`)."""
        return _views.world_view(self.snapshot(sim_id))

    # ------------------------------------------------------------------ agents
    def add_agents(self, sim_id: int, kind: str, count: int) -> list[int]:
        """Add ``count`` agents of ``kind`` (running or not); returns their ids."""
        limits = self.limits
        check_limit("max_agents_per_request", count, limits.max_agents_per_request, "count")
        managed = self._managed(sim_id)
        with managed.lock:
            self._require_live(managed)
            total = managed.sim.population.n + count
            check_limit(
                "max_agents_per_simulation",
                total,
                limits.max_agents_per_simulation,
                f"simulation {sim_id}'s agents after adding {count}",
            )
            ids = [int(i) for i in managed.sim.add_agents(kind, count)]
            managed.publish()
            return ids

    def remove_agents(self, sim_id: int, ids: Sequence[int]) -> int:
        """Remove agents by id (all or none); returns how many were removed."""
        managed = self._managed(sim_id)
        with managed.lock:
            self._require_live(managed)
            unique = np.unique(np.asarray(ids, dtype=np.int64))
            if unique.size >= managed.sim.population.n:
                raise ConflictError("removing every agent would leave an empty simulation")
            managed.sim.remove_agents(unique)
            managed.publish()
            return int(unique.size)

    @staticmethod
    def _require_live(managed: ManagedSimulation) -> None:
        if managed.status in ("completed", "failed"):
            raise ConflictError(f"simulation {managed.id} is {managed.status}")

    def agents(
        self,
        sim_id: int,
        *,
        kind: str | None = None,
        coalition: int | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> dict[str, Any]:
        """One page of the simulation's agents, filtered by kind and coalition."""
        return _views.agent_page(
            self.snapshot(sim_id), kind=kind, coalition=coalition, offset=offset, limit=limit
        )

    def agent_detail(self, sim_id: int, agent_id: int, history: int = 16) -> dict[str, Any]:
        """Beliefs, q_pi, G, metrics and up to ``history`` recent beliefs of one agent."""
        managed = self._managed(sim_id)
        history = min(history, self.history_limit)
        return _views.agent_detail(managed.snapshot, agent_id, history, lambda: managed.live_tick)

    # ------------------------------------------------------------------ coalitions
    def coalitions(self, sim_id: int) -> list[dict[str, Any]]:
        """The active coalitions."""
        return _views.coalition_list(self.snapshot(sim_id))

    def coalition(self, sim_id: int, coalition_id: int) -> dict[str, Any]:
        """One active coalition and its members."""
        return _views.coalition_detail(self.snapshot(sim_id), coalition_id)

    def trigger_formation(self, sim_id: int) -> dict[str, Any]:
        """Re-form coalitions now: one tick runs with a re-formation; returns its changes."""
        managed = self._managed(sim_id)
        with managed.lock:
            self._require_live(managed)
            managed.sim.coalitions.request_reform()
            events = managed.step()
            changes = events.coalition_events
            kinds = changes.get("kind", np.empty(0, np.int8))
            return {
                "tick": events.tick,
                "events": len(kinds),
                "coalitions": _views.coalition_list(managed.snapshot),
            }

    # ------------------------------------------------------------------ knowledge graph
    def knowledge(self, sim_id: int, query: str, **params: Any) -> tuple[Any, dict[str, Any]]:
        """Run the named ``query`` (one of :data:`._knowledge.QUERIES`) with ``params``
        against the simulation's knowledge graph under its lock.

        Returns the query's result (plain data) and the ticks it is from: ``tick``, the
        simulation's tick, and ``as_of_tick``, the tick the graph reflects (its last
        fold, every ``knowledge_every`` ticks; ``None`` before the first), read under
        the same lock.
        """
        managed = self._managed(sim_id)
        with managed.lock:
            sim = managed.sim
            result = run_query(sim.knowledge, query, params)
            return result, {"tick": sim.tick, "as_of_tick": sim.knowledge_tick}

    def knowledge_agent(self, sim_id: int, agent_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """The knowledge graph's node of agent ``agent_id`` (a map of its fields) and its
        ticks (see :meth:`knowledge`).

        Raises :class:`UnknownIdError` naming the agent when the graph has no node for
        it: the simulation has no such agent, or has not folded it into the graph yet.
        """
        managed = self._managed(sim_id)
        with managed.lock:
            sim = managed.sim
            graph = sim.knowledge
            ticks = {"tick": sim.tick, "as_of_tick": sim.knowledge_tick}
            node_id = graph.node_id("agent", agent_id)
            if node_id is not None:
                return node_data(graph.get_node(node_id)), ticks
            if not np.isin(agent_id, sim.population.ids):
                raise UnknownIdError(f"simulation {sim_id} has no agent {agent_id}")
            folded = ticks["as_of_tick"]
            raise UnknownIdError(
                f"agent {agent_id} has no node in the knowledge graph yet: the graph folds "
                f"agents in every {sim.config.knowledge_every} ticks (last at tick "
                f"{'none yet' if folded is None else folded}; the simulation is at tick "
                f"{sim.tick})"
            )

    def knowledge_stats(self, sim_id: int) -> tuple[int, int, int]:
        """The knowledge graph's ``(version, nodes, edges)`` as of the last tick (no lock)."""
        return self.snapshot(sim_id).knowledge

    # ------------------------------------------------------------------ events and metrics
    def subscribe_ticks(
        self,
        sim_id: int,
        callback: Callable[[TickEvents], None],
        maxsize: int = 16,
        policy: str = "latest",
    ) -> Subscription:
        """Deliver each tick's events of a simulation to ``callback`` off the tick's thread.

        The subscription survives :meth:`restore`; end it with :meth:`unsubscribe_ticks`.
        Subscribing takes only the bus's own lock, never the simulation's: it does not
        wait for a tick.
        """
        bus = self._managed(sim_id).sim.bus  # the same bus across restores
        return bus.subscribe(callback, maxsize=maxsize, policy=policy)

    def unsubscribe_ticks(self, sim_id: int, subscription: Subscription) -> None:
        """End a subscription (a no-op when the simulation is gone)."""
        managed = self._sims.get(sim_id)
        if managed is None:
            subscription.close()
            return
        managed.sim.bus.unsubscribe(subscription)

    def health(self) -> dict[str, Any]:
        """``database``: ``"ok"`` when the database answers a query, else the error's type
        name; ``simulations``: how many are held."""
        return {"database": database_state(self.engine), "simulations": len(self.ids())}

    def gauges(self) -> dict[str, Any]:
        """Agents by kind, queue depths and last write latency across simulations, and
        each simulation's latest activity (moving, alive, stuck agents and warnings)."""
        kinds: dict[str, int] = {}
        activity: dict[int, dict[str, Any]] = {}
        queues = {"storage_writer": 0, "event_subscribers": 0}
        last_write = 0.0
        with self._lock:
            held = list(self._sims.values())
        for managed in held:
            for kind, n in managed.snapshot.kind_counts.items():
                kinds[kind] = kinds.get(kind, 0) + n
            subs = managed.sim.bus.subscriptions
            if managed.sim.activity.latest:
                activity[managed.id] = managed.sim.activity.latest
            queues["storage_writer"] += managed.writer.queue_depth
            queues["event_subscribers"] += sum(s.depth for s in subs)
            last_write = max(last_write, managed.writer.last_write_seconds or 0.0)
        return {
            "agents_by_kind": kinds,
            "queues": queues,
            "last_write_seconds": last_write,
            "activity": activity,
        }
