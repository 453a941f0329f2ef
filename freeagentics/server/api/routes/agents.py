"""Agents of a simulation: list with filters and paging, inspect, add, remove."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from freeagentics.server.api.params import AgentId, Limit, Offset, SimId
from freeagentics.server.api.schemas import (
    AddAgents,
    AddedAgents,
    AgentDetail,
    AgentPage,
    RemoveAgents,
    RemovedAgents,
    error_responses,
)
from freeagentics.server.deps import Operator, ServiceDep, Viewer

__all__ = ["router"]

ERRORS = error_responses(401, 403, 404, 409, 422)
router = APIRouter(prefix="/simulations/{sim_id}/agents", tags=["agents"], responses=ERRORS)


@router.get("", response_model=AgentPage)
def list_agents(
    sim_id: SimId,
    service: ServiceDep,
    _: Viewer,
    kind: Annotated[str | None, Query(min_length=1, max_length=32)] = None,
    coalition: Annotated[int | None, Query(ge=-1, le=2**62, description="-1: in none")] = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> AgentPage:
    """Agents in id order, filtered by kind and coalition, one page at a time."""
    page = service.agents(sim_id, kind=kind, coalition=coalition, offset=offset, limit=limit)
    return AgentPage(**page)


@router.get("/{agent_id}", response_model=AgentDetail)
def get_agent(
    sim_id: SimId,
    agent_id: AgentId,
    service: ServiceDep,
    _: Viewer,
    history: Annotated[int, Query(ge=0, le=256, description="Recent beliefs to return")] = 8,
) -> AgentDetail:
    """Beliefs (per factor), q_pi, G, metrics and recent beliefs of one agent."""
    return AgentDetail(**service.agent_detail(sim_id, agent_id, history))


@router.post("", response_model=AddedAgents, status_code=status.HTTP_201_CREATED)
def add_agents(sim_id: SimId, body: AddAgents, service: ServiceDep, _: Operator) -> AddedAgents:
    """Add agents of a kind of the simulation (built-in or declared at creation)."""
    return AddedAgents(ids=service.add_agents(sim_id, body.kind, body.count))


@router.post("/remove", response_model=RemovedAgents)
def remove_agents(
    sim_id: SimId, body: RemoveAgents, service: ServiceDep, _: Operator
) -> RemovedAgents:
    """Remove agents by id; an unknown id removes none of them (404)."""
    return RemovedAgents(removed=service.remove_agents(sim_id, body.ids))


@router.delete("/{agent_id}", response_model=RemovedAgents)
def remove_agent(
    sim_id: SimId, agent_id: AgentId, service: ServiceDep, _: Operator
) -> RemovedAgents:
    """Remove one agent."""
    return RemovedAgents(removed=service.remove_agents(sim_id, [agent_id]))
