"""Populations of agents: cohorts of rows that share a model structure."""

from freeagentics.agents._config import CohortConfig
from freeagentics.agents.cohort import Cohort

__all__ = ["Cohort", "CohortConfig"]
