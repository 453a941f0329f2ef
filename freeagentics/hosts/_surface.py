"""The seam between the API and where simulations run: :class:`SimulationHost`.

:class:`~freeagentics.server.services.SimulationService` implements it in the calling
process; :class:`~freeagentics.hosts.ServiceProxy` implements it by forwarding every
call through a :class:`Transport` to a service elsewhere (a host process today, Ray
actors next). Arguments and results are plain data (numbers, strings, lists, maps,
numpy arrays; a :class:`KindDefinition` as the map of its fields), so they cross any
transport; errors are the service's own (see :mod:`._errors`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

__all__ = ["HOST_METHODS", "SimulationHost", "Transport"]

#: the methods a transport carries: every public method of :class:`SimulationHost`
HOST_METHODS = (
    "create",
    "get",
    "list",
    "ids",
    "start",
    "pause",
    "resume",
    "stop",
    "step",
    "delete",
    "checkpoint",
    "checkpoints",
    "restore",
    "world",
    "add_agents",
    "remove_agents",
    "agents",
    "agent_detail",
    "coalitions",
    "coalition",
    "trigger_formation",
    "knowledge",
    "knowledge_agent",
    "knowledge_stats",
    "gauges",
    "health",
    "recover",
    "close",
)


class Transport(Protocol):
    """Carries one call to a host and brings back its result.

    ``call`` blocks until the host answers, and never longer than the transport's
    deadline for the call; it returns the method's result as plain data, raises the
    service's own exception when the method raised one,
    :class:`~freeagentics.hosts.HostUnavailableError` when the host cannot be reached,
    and :class:`~freeagentics.hosts.HostTimeoutError` (a kind of the former) when it did
    not answer within the deadline (the call may still complete there). Calls from
    several threads at once run concurrently on the host.

    Every call, ``step`` of ``n`` ticks included, has the same deadline (the server's
    ``host_call_timeout_seconds``) rather than one that grows with ``n``: the deadline
    is what bounds how long one request holds a thread of the API, and one growing with
    the request would let a single ``step`` of ``max_step_ticks`` hold it for that many
    tick allowances; nor can the API know a tick's cost, which spans orders of magnitude
    with the population and the model. A step that outlives the deadline is not lost:
    it runs on in the host (its ticks show in the simulation's summary) while its caller
    is told so; deployments whose long steps are routine raise the deadline.
    """

    def call(self, method: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any: ...


@runtime_checkable
class SimulationHost(Protocol):
    """Every simulation of a server: create, run, inspect, store, restore.

    ``limits`` is the :class:`~freeagentics.server.services.ResourceLimits` the host
    enforces. Ids are the ``simulations`` table's; see ``SimulationService`` for what
    each method does and raises.
    """

    limits: Any

    def create(
        self,
        scenario: Mapping[str, Any] | None = None,
        *,
        name: str | None = None,
        kinds: Sequence[Any] = (),
    ) -> int: ...

    def get(self, sim_id: int) -> dict[str, Any]: ...

    def list(self, *, status: str | None = None) -> list[dict[str, Any]]: ...

    def ids(self) -> list[int]: ...

    def start(self, sim_id: int) -> dict[str, Any]: ...

    def pause(self, sim_id: int) -> dict[str, Any]: ...

    def resume(self, sim_id: int) -> dict[str, Any]: ...

    def stop(self, sim_id: int) -> dict[str, Any]: ...

    def step(self, sim_id: int, n: int) -> dict[str, Any]: ...

    def delete(self, sim_id: int) -> None: ...

    def checkpoint(self, sim_id: int) -> dict[str, Any]: ...

    def checkpoints(self, sim_id: int) -> list[dict[str, Any]]: ...

    def restore(self, sim_id: int, checkpoint_id: int | None = None) -> dict[str, Any]: ...

    def world(self, sim_id: int) -> dict[str, Any]: ...

    def add_agents(self, sim_id: int, kind: str, count: int) -> list[int]: ...

    def remove_agents(self, sim_id: int, ids: Sequence[int]) -> int: ...

    def agents(
        self,
        sim_id: int,
        *,
        kind: str | None = None,
        coalition: int | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> dict[str, Any]: ...

    def agent_detail(self, sim_id: int, agent_id: int, history: int = 16) -> dict[str, Any]: ...

    def coalitions(self, sim_id: int) -> list[dict[str, Any]]: ...

    def coalition(self, sim_id: int, coalition_id: int) -> dict[str, Any]: ...

    def trigger_formation(self, sim_id: int) -> dict[str, Any]: ...

    def knowledge(self, sim_id: int, query: str, **params: Any) -> tuple[Any, dict[str, Any]]: ...

    def knowledge_agent(self, sim_id: int, agent_id: int) -> tuple[Any, dict[str, Any]]: ...

    def knowledge_stats(self, sim_id: int) -> tuple[int, int, int]: ...

    def gauges(self) -> dict[str, Any]: ...

    def health(self) -> dict[str, Any]: ...

    def recover(self) -> list[Any]: ...

    def close(self) -> None: ...
