"""Path and query parameters shared by the routes, with their bounds."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

__all__ = ["MAX_ID", "AgentId", "CoalitionId", "Limit", "NodeId", "Offset", "SimId"]

MAX_ID = 2**62

SimId = Annotated[int, Path(ge=1, le=MAX_ID, description="Simulation id.")]
AgentId = Annotated[int, Path(ge=0, le=MAX_ID, description="Agent id.")]
CoalitionId = Annotated[int, Path(ge=0, le=MAX_ID, description="Coalition id.")]
NodeId = Annotated[int, Path(ge=1, le=MAX_ID, description="Knowledge-graph node id.")]
Offset = Annotated[int, Query(ge=0, le=MAX_ID, description="Items to skip.")]
Limit = Annotated[int, Query(ge=1, le=1_000, description="Items per page.")]
