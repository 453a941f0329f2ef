"""Exceptions raised by FreeAgentics.

Every error a user can cause derives from :class:`FreeAgenticsError`, so one
``except`` clause catches them all::

    FreeAgenticsError
    ├── ModelError                 a generative model is malformed
    │   └── SpecError              a named specification (JSON/TOML/GMN) cannot be compiled
    ├── ObservationError           observations do not fit the model (shape, range)
    ├── ConfigurationError         an option value is invalid (unknown mode, bad precision, ...)
    │   ├── CheckpointError        a checkpoint is not one, of an old format, altered or incomplete
    │   └── LimitError             a request is over a resource limit (``limit`` names it)
    ├── ConflictError              a request does not fit the current state (stepping a running run)
    └── UnknownIdError             an id (agent, node, coalition, ...) does not exist

Errors subclass ``ValueError`` (or ``KeyError`` for unknown ids) as well, so code
written against plain Python exceptions keeps working.
"""

from __future__ import annotations

__all__ = [
    "CheckpointError",
    "ConfigurationError",
    "ConflictError",
    "FreeAgenticsError",
    "LimitError",
    "ModelError",
    "ObservationError",
    "SpecError",
    "UnknownIdError",
]


class FreeAgenticsError(Exception):
    """Base class of every error raised on purpose by FreeAgentics."""


class ModelError(FreeAgenticsError, ValueError):
    """A generative model is malformed.

    ``array`` names the offending array (``"A[1]"``, ``"B[0]"``, ``"policies"``),
    ``index`` locates the first bad entry where there is one.
    """

    def __init__(self, message: str, *, array: str | None = None, index: tuple | None = None):
        super().__init__(message)
        self.array = array
        self.index = index


class SpecError(ModelError):
    """A named model specification cannot be compiled; ``path`` locates the bad field."""

    def __init__(self, message: str, *, path: str | None = None):
        super().__init__(message, array=path)
        self.path = path


class ObservationError(FreeAgenticsError, ValueError):
    """Observations handed to a population do not fit its model."""


class ConfigurationError(FreeAgenticsError, ValueError):
    """An option has a value outside the ones it accepts."""


class LimitError(ConfigurationError):
    """A request is over a resource limit; ``limit`` names the limit (a setting's name)."""

    def __init__(self, message: str, *, limit: str):
        super().__init__(message)
        self.limit = limit


class ConflictError(FreeAgenticsError):
    """The request does not fit the current state (e.g. stepping a running simulation)."""


class UnknownIdError(FreeAgenticsError, KeyError):
    """An id that does not exist was asked for."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep the message readable
        return str(self.args[0]) if self.args else ""


class CheckpointError(ConfigurationError):
    """A checkpoint cannot be read: not one, an old or unknown format, another key,
    altered bytes, or missing or malformed state. Nothing in it was run."""
