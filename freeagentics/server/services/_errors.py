"""Errors the services raise beyond :mod:`freeagentics.errors` (re-exported from there)."""

from __future__ import annotations

from freeagentics.errors import ConflictError

__all__ = ["ConflictError"]
