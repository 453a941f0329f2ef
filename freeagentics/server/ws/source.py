"""The hub's view of :class:`~freeagentics.server.services.simulations.SimulationService`.

Topic keys carry simulation ids as text; the service numbers its simulations, so ids
that are not integers are unknown here (another process may still own them, via Redis).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from freeagentics.errors import UnknownIdError
from freeagentics.simulation._events import TickEvents

__all__ = ["ServiceSource"]

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
