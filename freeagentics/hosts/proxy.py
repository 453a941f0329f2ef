"""The caller's side of a host: :class:`ServiceProxy` forwards each call through a transport."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from freeagentics.hosts._surface import Transport

__all__ = ["ServiceProxy"]


class ServiceProxy:
    """A :class:`~freeagentics.hosts.SimulationHost` whose simulations live elsewhere.

    Each method sends ``(name, args, kwargs)`` through ``transport`` and returns what
    the service there returned (tuples as tuples), or raises what it raised; the
    transport's deadline bounds every call (:class:`~freeagentics.hosts.HostTimeoutError`
    past it, ``step`` included: see :class:`~freeagentics.hosts.Transport`).

    Args:
        transport: carries the calls (a socket to a host process, Ray actors, ...).
        limits: the resource limits the host enforces (its settings', known here too).
    """

    def __init__(self, transport: Transport, *, limits: Any = None):
        self.transport = transport
        self.limits = limits

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self.transport.call(method, args, kwargs)

    # ------------------------------------------------------------------ lifecycle
    def create(
        self,
        scenario: Mapping[str, Any] | None = None,
        *,
        name: str | None = None,
        kinds: Sequence[Any] = (),
    ) -> int:
        return self._call("create", scenario, name=name, kinds=list(kinds))

    def get(self, sim_id: int) -> dict[str, Any]:
        return self._call("get", sim_id)

    def list(self, *, status: str | None = None) -> list[dict[str, Any]]:
        return self._call("list", status=status)

    def ids(self) -> list[int]:
        return self._call("ids")

    def start(self, sim_id: int) -> dict[str, Any]:
        return self._call("start", sim_id)

    def pause(self, sim_id: int) -> dict[str, Any]:
        return self._call("pause", sim_id)

    def resume(self, sim_id: int) -> dict[str, Any]:
        return self._call("resume", sim_id)

    def stop(self, sim_id: int) -> dict[str, Any]:
        return self._call("stop", sim_id)

    def step(self, sim_id: int, n: int) -> dict[str, Any]:
        return self._call("step", sim_id, n)

    def delete(self, sim_id: int) -> None:
        self._call("delete", sim_id)

    def recover(self) -> list[Any]:
        return self._call("recover")

    def close(self) -> None:
        self._call("close")

    # ------------------------------------------------------------------ checkpoints
    def checkpoint(self, sim_id: int) -> dict[str, Any]:
        return self._call("checkpoint", sim_id)

    def checkpoints(self, sim_id: int) -> list[dict[str, Any]]:
        return self._call("checkpoints", sim_id)

    def restore(self, sim_id: int, checkpoint_id: int | None = None) -> dict[str, Any]:
        return self._call("restore", sim_id, checkpoint_id)

    # ------------------------------------------------------------------ world and agents
    def world(self, sim_id: int) -> dict[str, Any]:
        return self._call("world", sim_id)

    def add_agents(self, sim_id: int, kind: str, count: int) -> list[int]:
        return self._call("add_agents", sim_id, kind, count)

    def remove_agents(self, sim_id: int, ids: Sequence[int]) -> int:
        return self._call("remove_agents", sim_id, list(ids))

    def agents(
        self,
        sim_id: int,
        *,
        kind: str | None = None,
        coalition: int | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> dict[str, Any]:
        return self._call(
            "agents", sim_id, kind=kind, coalition=coalition, offset=offset, limit=limit
        )

    def agent_detail(self, sim_id: int, agent_id: int, history: int = 16) -> dict[str, Any]:
        return self._call("agent_detail", sim_id, agent_id, history)

    # ------------------------------------------------------------------ coalitions
    def coalitions(self, sim_id: int) -> list[dict[str, Any]]:
        return self._call("coalitions", sim_id)

    def coalition(self, sim_id: int, coalition_id: int) -> dict[str, Any]:
        return self._call("coalition", sim_id, coalition_id)

    def trigger_formation(self, sim_id: int) -> dict[str, Any]:
        return self._call("trigger_formation", sim_id)

    # ------------------------------------------------------------------ knowledge graph
    def knowledge(self, sim_id: int, query: str, **params: Any) -> tuple[Any, dict[str, Any]]:
        result, ticks = self._call("knowledge", sim_id, query, **params)
        return result, ticks

    def knowledge_agent(self, sim_id: int, agent_id: int) -> tuple[Any, dict[str, Any]]:
        node, ticks = self._call("knowledge_agent", sim_id, agent_id)
        return node, ticks

    def knowledge_stats(self, sim_id: int) -> tuple[int, int, int]:
        version, nodes, edges = self._call("knowledge_stats", sim_id)
        return version, nodes, edges

    # ------------------------------------------------------------------ health and metrics
    def gauges(self) -> dict[str, Any]:
        return self._call("gauges")

    def health(self) -> dict[str, Any]:
        return self._call("health")
