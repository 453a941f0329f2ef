"""Services: what the routes call. Each owns one concern and knows nothing of HTTP."""

from __future__ import annotations

from freeagentics.server.services._errors import ConflictError
from freeagentics.server.services._kinds import KindDefinition, compile_model
from freeagentics.server.services._limits import ResourceLimits
from freeagentics.server.services.simulations import SimulationService

__all__ = [
    "ConflictError",
    "KindDefinition",
    "ResourceLimits",
    "SimulationService",
    "compile_model",
]
