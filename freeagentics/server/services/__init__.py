"""Services: what the routes call. Each owns one concern and knows nothing of HTTP."""

from __future__ import annotations

from freeagentics._lazy import lazy_names

__all__ = [
    "ConflictError",
    "KindDefinition",
    "ResourceLimits",
    "SimulationService",
    "compile_model",
]

# the names load with their modules on first use (see freeagentics._lazy): an API
# process whose simulations run in a host never imports the service itself
__getattr__, __dir__ = lazy_names(
    __name__,
    {
        "ConflictError": "._errors",
        "KindDefinition": "._kinds",
        "compile_model": "._kinds",
        "ResourceLimits": "._limits",
        "SimulationService": ".simulations",
    },
)
