"""Simulations on Ray: the actor that hosts one simulation, and the API's side of them.

``freeagentics serve --ray ADDRESS`` (or ``FREEAGENTICS_RAY_ADDRESS``) runs every
simulation in a :class:`SimulationActor` on that cluster, one actor per simulation, made
and found by :class:`~freeagentics.hosts.ray_hosts.RayHosts` (named, detached,
restarted by Ray on a live node when its process or node dies). The API processes keep
no simulation: routes and services are the same, and the API's hub gets the
simulations' frames through Redis.

An actor runs a :class:`~freeagentics.server.services.SimulationService` that holds
exactly its simulation, on the deployment's PostgreSQL (pools of a few connections),
and a headless hub that encodes each wanted topic's frames once and publishes them
through Redis (:class:`~freeagentics.server.ws.redis_fanout.RedisFanout` without
relaying: it never receives other simulations' frames). Ray has no public pub/sub;
frames through actor calls would need an actor in every API process and pass through
the object store, while Redis pub/sub is already how API processes share frames.

* made for a new simulation, it waits for ``create_into``, which builds the simulation
  into the row the API made;
* made to restore (``restore=True``: the API found the simulation alive in the
  database with no actor), or started again by Ray after its process or node died, it
  restores the simulation from its latest checkpoint (``recover``: ticks lost counted;
  a running simulation runs on), answering 503 until it has; a restart by Ray is a
  failover, counted in Redis (:class:`~freeagentics.server.failover.FailoverLedger`)
  and in the simulation's summary (``failovers``, ``ticks_lost``); then it takes up
  the topics API processes want, so frames resume without waiting for a refresh.

This module is light (the actor's machinery is imported when an actor starts, and what
only the API process uses when it is called): the API process names the actor class
without loading the simulations, and a worker that takes an actor imports little more
than what its node preloaded (:data:`PRELOAD`, :mod:`freeagentics.hosts.ray_node`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from freeagentics.errors import ConflictError
from freeagentics.hosts import HostUnavailableError, error_to_wire

if TYPE_CHECKING:
    from freeagentics.hosts.ray_hosts import RayHosts
    from freeagentics.server.settings import Settings

__all__ = ["ACTOR_CLASS", "PRELOAD", "SimulationActor", "bring_up_ray", "make_ray_hosts"]

log = logging.getLogger("freeagentics.server.host")

#: the actor class, as :class:`~freeagentics.hosts.ray_hosts.RayHosts` takes it
ACTOR_CLASS = "freeagentics.server.rayhost:SimulationActor"
#: what a node's workers import before they take work (``RAY_preload_python_modules``):
#: the actor's class and the machinery it opens a simulation with
PRELOAD = ("freeagentics.server._rayruntime", "freeagentics.server.rayhost")


class SimulationActor:
    """One simulation's host (decorated by ``ray.remote`` where it is made).

    A new simulation's host opens before the actor is up (a failure is the creation's).
    A host that restores (made to, or started again by Ray) is up at once and restores
    on a thread of its own, answering 503 (``HostUnavailableError``) until it is done,
    so that no call waits for a restore; if the restore fails, the process exits and
    Ray starts it again (up to ``max_restarts``).

    Args:
        sim_id: the simulation's id (its row in the database).
        settings: the server's settings as plain data (``Settings.model_dump(mode="json")``).
        restore: restore the simulation from its latest checkpoint now.
    """

    def __init__(self, sim_id: int, settings: Mapping[str, Any], restore: bool = False):
        import ray

        self.sim_id = sim_id
        self.started_at, self.opened_at = time.time(), None
        from freeagentics.server._rayruntime import RayHostRuntime

        failover = ray.get_runtime_context().was_current_actor_reconstructed
        self.runtime = RayHostRuntime(sim_id, failover=failover)
        self._open = threading.Event()
        if restore or failover:
            opening = threading.Thread(
                target=self._restore, args=(settings,), daemon=True, name="host-restore"
            )
            opening.start()
        else:
            self.runtime.open(settings)
            self._opened()

    def _opened(self) -> None:
        self.opened_at = time.time()
        self._open.set()

    def _restore(self, settings: Mapping[str, Any]) -> None:
        try:
            self.runtime.open(settings, restart=True)
        except BaseException:
            log.exception("simulation %d could not be restored; its host exits", self.sim_id)
            os._exit(1)  # Ray starts it again, up to max_restarts
        self._opened()

    def call(self, method: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> tuple[bool, Any]:
        """``(True, value)``, or ``(False, error map)`` (see ``error_to_wire``)."""
        if not self._open.is_set():
            busy = HostUnavailableError(
                f"simulation {self.sim_id}'s host is restoring it from its latest "
                "checkpoint; try again in a few seconds"
            )
            return False, error_to_wire(busy)
        try:
            return True, self.runtime.call(method, args, kwargs)
        except Exception as exc:  # every failure is the caller's answer
            return False, error_to_wire(exc)

    def where(self) -> dict[str, Any]:
        """The process and Ray node hosting the simulation now, and when (``time.time()``)
        this process had imported the host's machinery (before the actor began, when its
        node preloads it), began to open the host and had opened it (restored, when it
        did; None until then)."""
        import ray

        from freeagentics.server import _rayruntime

        return {
            "pid": os.getpid(),
            "node_id": ray.get_runtime_context().get_node_id(),
            "imported_at": _rayruntime.IMPORTED_AT,
            "started_at": self.started_at,
            "opened_at": self.opened_at,
        }


def make_ray_hosts(settings: Settings) -> RayHosts:
    """The transport to this deployment's simulation actors (started by the app)."""
    from freeagentics.hosts.ray_hosts import RayHosts
    from freeagentics.server.metrics import merge_families, merge_gauges

    assert settings.ray_address is not None and settings.database_url is not None
    config = settings.model_dump(mode="json")
    config["api_keys"] = {}  # the actors need the secret (checkpoints' key), not the keys
    return RayHosts(
        ACTOR_CLASS,
        config,
        address=settings.ray_address,
        namespace=settings.ray_namespace,
        database_url=settings.database_url,
        max_simulations=settings.max_simulations,
        max_restarts=settings.ray_max_restarts,
        actor_cpus=settings.ray_actor_cpus,
        call_timeout_s=settings.ray_call_timeout_seconds or settings.host_call_timeout_seconds,
        merge={"gauges": merge_gauges, "host.metrics": merge_families},
        migrate=settings.auto_migrate,
    )


def bring_up_ray(hosts: RayHosts, settings: Settings) -> list[dict[str, Any]]:
    """At an API process's start: give the simulations the database has alive but Ray
    has no actor for (the cluster was restarted) actors that restore them (when
    ``restore_on_start``), and make and start the demo unless one is alive (when
    ``demo``). Returns the simulations given actors."""
    from freeagentics.server.demo import demo_scenario

    restored = hosts.call("recover", (), {}) if settings.restore_on_start else []
    if settings.demo:
        sim_id = hosts.create(demo_scenario(settings.demo_agents), name="demo", unless_named=True)
        try:
            if hosts.call("get", (sim_id,), {})["status"] == "created":
                hosts.call("start", (sim_id,), {})
        except (HostUnavailableError, ConflictError):  # being restored, or another started it
            pass
    return restored
