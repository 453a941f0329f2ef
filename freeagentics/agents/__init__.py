"""Populations of agents: cohorts of rows that share a model structure."""

from __future__ import annotations

from freeagentics._lazy import lazy_names

__all__ = ["Cohort", "CohortConfig"]

# the names load with their modules on first use (see freeagentics._lazy)
__getattr__, __dir__ = lazy_names(
    __name__,
    {
        "CohortConfig": "._config",
        "Cohort": ".cohort",
    },
)
