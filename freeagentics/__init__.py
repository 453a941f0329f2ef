"""FreeAgentics: multi-agent Active Inference where agents are rows, not objects."""

from freeagentics.errors import (
    CheckpointError,
    ConfigurationError,
    FreeAgenticsError,
    ModelError,
    ObservationError,
    SpecError,
    UnknownIdError,
)

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "ConfigurationError",
    "FreeAgenticsError",
    "ModelError",
    "ObservationError",
    "SpecError",
    "UnknownIdError",
    "__version__",
]
