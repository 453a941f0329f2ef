"""Errors the services raise beyond :mod:`freeagentics.errors`."""

from __future__ import annotations

from freeagentics.errors import FreeAgenticsError

__all__ = ["ConflictError"]


class ConflictError(FreeAgenticsError):
    """The request does not fit the current state (e.g. stepping a running simulation)."""
