"""The hub's view of the simulations: :class:`ServiceSource` for a service in this
process, :class:`HostSource` for a host process's.

Topic keys carry simulation ids as text; the service numbers its simulations, so ids
that are not integers are unknown here (another process may still own them, via Redis).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from freeagentics.errors import UnknownIdError

if TYPE_CHECKING:
    from freeagentics.simulation._events import TickEvents

__all__ = ["HostSource", "ServiceSource"]

#: tick batches the hub may have waiting: it only ever wants the newest
_BATCHES = 2


def _numeric(sim_id: str) -> int:
    """The service's id for ``sim_id``: canonical decimal digits only (not ``"0_01"``)."""
    if not (sim_id.isascii() and sim_id.isdigit()) or str(int(sim_id)) != sim_id:
        raise UnknownIdError(f"no simulation with id {sim_id}")
    return int(sim_id)


class ServiceSource:
    """Adapts the simulation service to :class:`~freeagentics.server.ws.hub.TickSource`."""

    def __init__(self, service: Any):
        self.service = service

    def check(self, sim_id: str) -> None:
        self.service.snapshot(_numeric(sim_id))

    def subscribe(self, sim_id: str, callback: Callable[[TickEvents], None]) -> Any:
        return self.service.subscribe_ticks(
            _numeric(sim_id), callback, maxsize=_BATCHES, policy="latest"
        )

    def unsubscribe(self, sim_id: str, handle: Any) -> None:
        self.service.unsubscribe_ticks(_numeric(sim_id), handle)

    def knowledge(self, sim_id: str) -> tuple[int, int, int] | None:
        try:
            return self.service.knowledge_stats(_numeric(sim_id))
        except UnknownIdError:
            return None


class HostSource:
    """The hub's source when the simulations live in a host process: none is here (every
    topic comes through the relay), and :meth:`verify` asks the host whether one exists.

    ``service`` is the :class:`~freeagentics.hosts.ServiceProxy` to the host.
    """

    def __init__(self, service: Any):
        self.service = service

    def check(self, sim_id: str) -> None:
        raise UnknownIdError(f"simulation {sim_id} runs in the simulation host")

    def subscribe(self, sim_id: str, callback: Callable[[TickEvents], None]) -> Any:
        raise UnknownIdError(f"simulation {sim_id} runs in the simulation host")

    def unsubscribe(self, sim_id: str, handle: Any) -> None:
        pass

    def knowledge(self, sim_id: str) -> tuple[int, int, int] | None:
        return None

    def verify(self, sim_id: str) -> None:
        """Raise :class:`UnknownIdError` unless the host holds ``sim_id`` (blocks)."""
        self.service.get(_numeric(sim_id))
