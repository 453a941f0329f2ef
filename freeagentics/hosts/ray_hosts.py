"""Simulations on a Ray cluster: :class:`RayHosts`, the API's transport to one actor per simulation.

Each simulation runs in an actor of its own (the class is named by the caller: the
server's :mod:`freeagentics.server.rayhost`; this module imports nothing of the
server), made with

* ``name="freeagentics-sim-{id}"`` in the deployment's ``namespace``: any API process
  finds it by the simulation's id (:func:`actor_name`), nothing to keep in step;
* ``lifetime="detached"``: it outlives the API process that made it (API processes
  are stateless and come and go);
* ``max_restarts``: when its process or its node dies, Ray starts it again on a live
  node, where it resumes from the simulation's latest checkpoint in the database;
* ``scheduling_strategy="SPREAD"``: simulations spread over the cluster's nodes;
* ``max_task_retries=0``: a call never runs twice (a step must not), and a call made
  while the actor restarts fails at once, which the API answers with a 503.

Routing (:meth:`RayHosts.call`, one ``(method, args, kwargs)`` as for any
:class:`~freeagentics.hosts.Transport`):

* a method of one simulation (its id first) goes to that simulation's actor;
* ``create`` makes the simulation's row in the database and its actor under a lock
  (PostgreSQL's advisory lock: concurrent creations in every API process stay within
  ``max_simulations``), then the actor builds the simulation into the row; when that
  fails the actor and the row are removed and the failure is the caller's answer;
* ``ids`` are the actors' names; ``list``, ``gauges`` and ``host.metrics`` ask every
  actor at once (``list`` leaves out an actor that does not answer in time, one that
  is restarting; the others are merged by the functions given in ``merge``);
* ``health`` and ``recover`` use the database: ``recover`` gives each simulation the
  database says is alive but that has no actor (the cluster was restarted) an actor
  that restores it from its latest checkpoint.

Every call blocks until the actor answers, or its deadline (``call_timeout_s``, or the
``timeout_s`` it is given) passes: the API makes them on worker threads. The failures
of the seam (:mod:`._errors`): an actor that is restarting raises
:class:`~freeagentics.hosts.HostUnavailableError`; one that does not answer within the
deadline, :class:`~freeagentics.hosts.HostTimeoutError` naming the method (the call is
cancelled if it has not begun; one that has may still complete, except a ``create``,
whose actor and row are then removed); an id with no actor and no row,
:class:`~freeagentics.errors.UnknownIdError`. The actors' own exceptions travel as
:func:`~freeagentics.hosts.error_to_wire` maps, never pickled.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from freeagentics.errors import ConflictError, FreeAgenticsError, UnknownIdError
from freeagentics.hosts._client import DEFAULT_CALL_TIMEOUT_S
from freeagentics.hosts._errors import HostTimeoutError, HostUnavailableError, error_from_wire

__all__ = ["ACTOR_PREFIX", "RayHosts", "actor_name"]

log = logging.getLogger("freeagentics.hosts")

ACTOR_PREFIX = "freeagentics-sim-"
#: statuses of simulations that are alive (restored when they have no actor)
LIVE_STATUSES = ("created", "running", "paused")
#: the methods answered here rather than by one simulation's actor
_DEPLOYMENT_METHODS = ("list", "ids", "gauges", "health", "recover", "close")
#: actor handles kept (a handle is a few hundred bytes; more ids are looked up again)
MAX_HANDLES = 4096


def actor_name(sim_id: int) -> str:
    """The name of simulation ``sim_id``'s actor."""
    return f"{ACTOR_PREFIX}{int(sim_id)}"


class RayHosts:
    """The simulations of one deployment, each in its actor on the Ray cluster at ``address``.

    Args:
        actor: the actor class, ``"module:Class"``; it is made with ``(sim_id, config,
            restore)`` and answers ``call(method, args, kwargs)`` with ``(True, value)``
            or ``(False, error map)``, and ``where()`` with ``{"pid", "node_id"}``.
        config: plain data every actor is made with (the server's settings).
        address: the cluster (``ray.init``'s address; a process already connected to a
            cluster uses that connection).
        namespace: the deployment's Ray namespace.
        database_url: the deployment's database (where rows are made, and read by
            ``health`` and ``recover``).
        max_simulations: simulations the deployment holds at once.
        max_restarts: Ray restarts of an actor whose process or node died (-1: no limit).
        actor_cpus: CPUs Ray reserves for each actor.
        call_timeout_s: a call's deadline unless it is given one (``timeout_s``).
        fanout_timeout_s: the longest ``list``, ``gauges`` and ``host.metrics`` wait.
        max_concurrency: calls one actor runs at once (on threads of its own).
        merge: for fan-out methods, ``method -> f({sim_id: answer}) -> answer``.
        migrate: migrate the database at :meth:`start`.
    """

    def __init__(
        self,
        actor: str,
        config: Mapping[str, Any],
        *,
        address: str,
        namespace: str,
        database_url: str,
        max_simulations: int = 32,
        max_restarts: int = 16,
        actor_cpus: float = 1.0,
        call_timeout_s: float = DEFAULT_CALL_TIMEOUT_S,
        fanout_timeout_s: float = 10.0,
        max_concurrency: int = 32,
        merge: Mapping[str, Callable[[dict[int, Any]], Any]] | None = None,
        migrate: bool = True,
    ):
        self.actor, self.config = actor, dict(config)
        self.address, self.namespace, self.database_url = address, namespace, database_url
        self.max_simulations, self.max_restarts = max_simulations, max_restarts
        self.actor_cpus, self.max_concurrency = actor_cpus, max_concurrency
        self.call_timeout_s, self.fanout_timeout_s = call_timeout_s, fanout_timeout_s
        self.merge = dict(merge or {})
        self.migrate = migrate
        self.state = "stopped"  # up, stopped
        self.engine: Any = None
        self._actor_class: Any = None
        self._owns_ray = False
        self._handles: OrderedDict[int, Any] = OrderedDict()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Connect to the cluster (unless this process is connected) and the database."""
        import ray

        from freeagentics.storage import create_engine_for, upgrade

        if not ray.is_initialized():
            ray.init(
                address=self.address,
                namespace=self.namespace,
                log_to_driver=False,
                configure_logging=False,
            )
            self._owns_ray = True
        self.engine = create_engine_for(self.database_url, pool_size=2, max_overflow=8)
        if self.migrate:
            upgrade(self.engine)
        module, _, name = self.actor.partition(":")
        self._actor_class = ray.remote(getattr(importlib.import_module(module), name))
        self.state = "up"

    def stop(self) -> None:
        """Let go of the cluster and the database; the actors, detached, run on."""
        self.state = "stopped"
        with self._lock:
            self._handles.clear()
        if self.engine is not None:
            self.engine.dispose()
            self.engine = None
        if self._owns_ray:
            import ray

            ray.shutdown()
            self._owns_ray = False

    def why(self) -> str:
        return "the simulations' Ray cluster is not connected" if self.state != "up" else ""

    # ------------------------------------------------------------------ Transport
    def call(
        self,
        method: str,
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
        *,
        timeout_s: float | None = None,
    ) -> Any:
        if self.state != "up":
            raise HostUnavailableError(self.why())
        deadline = self.call_timeout_s if timeout_s is None else timeout_s
        if method in self.merge:
            return self.merge[method](self.fan_out(method, args, kwargs))
        if method == "create":
            return self.create(*args, **kwargs, timeout_s=deadline)
        if method in _DEPLOYMENT_METHODS:
            return getattr(self, f"_{method}")(*args, **kwargs)
        if not args:
            raise UnknownIdError(f"{method} needs a simulation id")
        sim_id = args[0]
        if method == "delete":
            return self._delete(sim_id, deadline)
        return self._route(sim_id, method, args, kwargs, deadline)

    # ------------------------------------------------------------------ one simulation
    def _route(
        self,
        sim_id: Any,
        method: str,
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
        timeout_s: float,
    ) -> Any:
        handle = self._handle(sim_id)
        ref = handle.call.remote(method, list(args), dict(kwargs))
        return self._answer(sim_id, method, ref, timeout_s)

    def _handle(self, sim_id: Any) -> Any:
        """Simulation ``sim_id``'s actor (UnknownIdError, or HostUnavailableError when the
        database has it alive but Ray has no actor for it)."""
        if isinstance(sim_id, bool) or not isinstance(sim_id, int):
            raise UnknownIdError(f"no simulation with id {sim_id}")
        with self._lock:
            handle = self._handles.get(sim_id)
            if handle is not None:
                self._handles.move_to_end(sim_id)
                return handle
        import ray

        try:
            handle = ray.get_actor(actor_name(sim_id), namespace=self.namespace)
        except ValueError:  # no actor of that name
            self._missing(sim_id)
        except Exception as exc:  # the cluster itself does not answer
            raise HostUnavailableError(f"the Ray cluster does not answer: {_cause(exc)}") from None
        with self._lock:
            self._handles[sim_id] = handle
            while len(self._handles) > MAX_HANDLES:
                self._handles.popitem(last=False)
        return handle

    def _forget(self, sim_id: int) -> None:
        with self._lock:
            self._handles.pop(sim_id, None)

    def _missing(self, sim_id: int) -> None:
        """Raise why ``sim_id`` has no actor: no such simulation, or its actor is gone."""
        from freeagentics.storage import simulations as simulation_store

        with self.engine.connect() as conn:
            try:
                record = simulation_store.get(conn, sim_id)
            except UnknownIdError:
                raise UnknownIdError(f"no simulation with id {sim_id}") from None
        if record.status in LIVE_STATUSES:
            raise HostUnavailableError(
                f"simulation {sim_id} has no host: its actor died more often than "
                f"max_restarts={self.max_restarts} allows; starting the server again "
                "restores it from its latest checkpoint"
            )
        raise UnknownIdError(f"simulation {sim_id} is {record.status} and held by no host any more")

    def _answer(self, sim_id: int, method: str, ref: Any, timeout: float) -> Any:
        """The value of an actor's answer ``ref`` to ``method``, or the exception it
        stands for (:class:`HostTimeoutError` after ``timeout`` seconds)."""
        import ray
        from ray import exceptions as rx

        try:
            ok, value = ray.get(ref, timeout=timeout)
        except rx.GetTimeoutError:
            try:  # not begun: it never runs; begun: a threaded actor's call runs on
                ray.cancel(ref)
            except Exception as exc:
                log.info("%s of simulation %d not cancelled: %s", method, sim_id, exc)
            raise HostTimeoutError(
                method,
                timeout,
                f"simulation {sim_id}'s host did not answer {method} within {timeout:g} s; "
                "the call may still complete on the host",
            ) from None
        except rx.ActorUnavailableError:
            raise HostUnavailableError(
                f"simulation {sim_id}'s host is restarting (its process or node died); it "
                "resumes from its latest checkpoint: try again in a few seconds"
            ) from None
        except rx.ActorDiedError as exc:
            self._forget(sim_id)
            if getattr(exc, "actor_init_failed", False):
                raise HostUnavailableError(
                    f"simulation {sim_id}'s host could not start: {_cause(exc)}"
                ) from None
            self._missing(sim_id)
            raise  # _missing always raises
        except rx.RayError as exc:
            raise HostUnavailableError(
                f"simulation {sim_id}'s host failed: {type(exc).__name__}: {_cause(exc)}"
            ) from None
        if not ok:
            raise error_from_wire(value)
        return value

    def _spawn(self, sim_id: int, restore: bool) -> Any:
        """Make simulation ``sim_id``'s actor (``restore``: from its latest checkpoint)."""
        handle = self._actor_class.options(
            name=actor_name(sim_id),
            namespace=self.namespace,
            lifetime="detached",
            max_restarts=self.max_restarts,
            max_task_retries=0,
            max_concurrency=self.max_concurrency,
            num_cpus=self.actor_cpus,
            scheduling_strategy="SPREAD",
        ).remote(sim_id, self.config, restore)
        with self._lock:
            self._handles[sim_id] = handle
        return handle

    def _kill(self, sim_id: int, handle: Any) -> None:
        """End ``sim_id``'s actor for good and wait (a few seconds at most) until its name
        is free, so that no process finds it any more."""
        import ray

        self._forget(sim_id)
        ray.kill(handle, no_restart=True)
        deadline = time.monotonic() + 5.0
        while sim_id in self._ids() and time.monotonic() < deadline:
            time.sleep(0.05)

    # ------------------------------------------------------------------ the deployment
    def _locked(self, conn: Any) -> None:
        """Serialise this transaction with every process's creations and recoveries."""
        if conn.dialect.name == "postgresql":
            import sqlalchemy as sa

            conn.execute(
                sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                {"key": f"freeagentics-hosts:{self.namespace}"},
            )

    def create(
        self,
        scenario: Mapping[str, Any] | None = None,
        *,
        name: str | None = None,
        kinds: Sequence[Any] = (),
        unless_named: bool = False,
        timeout_s: float | None = None,
    ) -> int:
        """Make a simulation (see the module docstring); returns its id. ``unless_named``
        (for the server's own simulations, such as the demo): when a live simulation
        already has ``name``, return its id instead (decided under the lock, so that API
        processes starting together make one). A creation that misses its deadline
        (``timeout_s``, default ``call_timeout_s``) is undone: its actor and row go."""
        import sqlalchemy as sa

        from freeagentics.storage import simulations as simulation_store
        from freeagentics.storage.tables import simulations as table

        with self.engine.begin() as conn:
            self._locked(conn)
            if unless_named:
                found = conn.execute(
                    sa.select(table.c.id).where(
                        table.c.name == name, table.c.status.in_(LIVE_STATUSES)
                    )
                ).first()
                if found is not None:
                    return int(found.id)
            held = len(self._ids())
            if held >= self.max_simulations:
                raise ConflictError(
                    f"the server holds {held} simulations, its limit "
                    f"max_simulations={self.max_simulations}; delete one first"
                )
            # a client's name is set by the actor once it has checked it (and the rest)
            label = name if unless_named else None
            sim_id = simulation_store.create(conn, {}, name=label, status="created")
            handle = self._spawn(sim_id, restore=False)
        deadline = self.call_timeout_s if timeout_s is None else timeout_s
        try:
            ref = handle.call.remote(
                "create_into", [sim_id, scenario], {"name": name, "kinds": kinds}
            )
            return self._answer(sim_id, "create", ref, deadline)
        except HostTimeoutError:
            self._discard(sim_id, handle)
            raise HostTimeoutError(
                "create",
                deadline,
                f"simulation {sim_id}'s host did not answer create within {deadline:g} s; "
                "the simulation was removed",
            ) from None
        except BaseException:
            self._discard(sim_id, handle)
            raise

    def _discard(self, sim_id: int, handle: Any) -> None:
        """Remove a simulation whose creation failed: its actor and its row."""
        from freeagentics.storage.tables import simulations

        try:
            self._kill(sim_id, handle)
        except Exception:
            log.exception("the actor of simulation %d could not be ended", sim_id)
        with self.engine.begin() as conn:
            conn.execute(simulations.delete().where(simulations.c.id == sim_id))

    def _delete(self, sim_id: Any, timeout_s: float) -> None:
        try:
            handle = self._handle(sim_id)
        except HostUnavailableError:  # alive in the database, no actor: the row goes alone
            from freeagentics.storage.tables import simulations

            with self.engine.begin() as conn:
                conn.execute(simulations.delete().where(simulations.c.id == sim_id))
            return
        try:
            self._answer(sim_id, "delete", handle.call.remote("delete", [sim_id], {}), timeout_s)
        except UnknownIdError:  # an actor whose row went: it holds nothing, and goes too
            self._kill(sim_id, handle)
            raise
        self._kill(sim_id, handle)

    def _ids(self) -> list[int]:
        import ray

        try:
            named = ray.util.list_named_actors(all_namespaces=True)
        except Exception as exc:
            raise HostUnavailableError(f"the Ray cluster does not answer: {_cause(exc)}") from None
        ids = []
        for actor in named:
            name = actor.get("name", "")
            if actor.get("namespace") == self.namespace and name.startswith(ACTOR_PREFIX):
                tail = name[len(ACTOR_PREFIX) :]
                if tail.isdigit():
                    ids.append(int(tail))
        return sorted(ids)

    def fan_out(
        self, method: str, args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None
    ) -> dict[int, Any]:
        """``method`` asked of every actor at once: ``{sim_id: answer}`` of those that
        answered within ``fanout_timeout_s`` (``args`` after the id for methods of one
        simulation: ``get``, ``world``...; as given otherwise)."""
        asked = {}
        for sim_id in self._ids():
            try:
                handle = self._handle(sim_id)
            except (UnknownIdError, HostUnavailableError):
                continue
            full = [sim_id, *args] if method in _PER_SIMULATION else list(args)
            asked[sim_id] = handle.call.remote(method, full, dict(kwargs or {}))
        deadline = time.monotonic() + self.fanout_timeout_s
        answers = {}
        for sim_id, ref in asked.items():
            try:
                left = max(0.0, deadline - time.monotonic())
                answers[sim_id] = self._answer(sim_id, method, ref, left)
            except (FreeAgenticsError, HostUnavailableError) as exc:
                log.info("simulation %d left out of %s: %s", sim_id, method, exc)
        return answers

    def _list(self, *, status: str | None = None) -> list[dict[str, Any]]:
        summaries = self.fan_out("get")
        return [
            summaries[i]
            for i in sorted(summaries)
            if status is None or summaries[i]["status"] == status
        ]

    def _gauges(self) -> dict[str, Any]:
        raise HostUnavailableError("gauges need a merge function (RayHosts(merge=...))")

    def _health(self) -> dict[str, Any]:
        from freeagentics.storage import database_state

        return {"database": database_state(self.engine), "simulations": len(self._ids())}

    def _recover(self) -> list[dict[str, Any]]:
        """Give every simulation that is alive in the database but has no actor an actor
        that restores it; returns ``[{"id", "name", "status"}]`` of those."""
        import sqlalchemy as sa

        from freeagentics.storage.tables import simulations as table

        spawned = []
        with self.engine.begin() as conn:
            self._locked(conn)
            held = set(self._ids())
            rows = conn.execute(
                sa.select(table.c.id, table.c.name, table.c.status)
                .where(table.c.status.in_(LIVE_STATUSES))
                .order_by(table.c.id)
            ).all()
            for row in rows:
                if row.id in held:
                    continue
                self._spawn(row.id, restore=True)
                spawned.append({"id": row.id, "name": row.name, "status": row.status})
        return spawned

    def _close(self) -> None:
        """Nothing: the actors are detached and outlive this process."""

    # ------------------------------------------------------------------ operations
    def where(self, sim_id: int) -> dict[str, Any]:
        """``{"pid", "node_id"}`` of the process hosting ``sim_id`` now."""
        import ray

        return ray.get(self._handle(sim_id).where.remote(), timeout=self.call_timeout_s)

    def remove_all(self) -> list[int]:
        """End every actor of the namespace for good (their rows stay); returns their ids."""
        import ray

        ids = self._ids()
        for sim_id in ids:
            try:
                handle = ray.get_actor(actor_name(sim_id), namespace=self.namespace)
            except ValueError:
                continue
            ray.kill(handle, no_restart=True)
            self._forget(sim_id)
        deadline = time.monotonic() + 10.0
        while self._ids() and time.monotonic() < deadline:
            time.sleep(0.05)
        return ids


#: fan-out methods whose first argument is the simulation's id
_PER_SIMULATION = frozenset({"get", "world", "coalitions", "knowledge_stats", "checkpoints"})


def _cause(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[-1] if text else type(exc).__name__)[:300]
