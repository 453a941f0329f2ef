"""The names of the built-in agent kinds, known without building the kinds (light to import:
the scenario schema names them, and API processes validate scenarios without the kernels)."""

from __future__ import annotations

__all__ = ["BUILTIN_KINDS"]

#: names of :func:`~freeagentics.agents.kinds.builtin_kinds`, sorted
BUILTIN_KINDS = ("collector", "coordinator", "explorer")
