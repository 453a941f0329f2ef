"""Coalitions of a simulation: list, inspect, trigger a formation now."""

from __future__ import annotations

from fastapi import APIRouter

from freeagentics.server.api.params import CoalitionId, SimId
from freeagentics.server.api.schemas import (
    CoalitionDetail,
    CoalitionOut,
    FormationOut,
    error_responses,
)
from freeagentics.server.deps import Operator, ServiceDep, Viewer

__all__ = ["router"]

ERRORS = error_responses(401, 403, 404, 409)
router = APIRouter(prefix="/simulations/{sim_id}/coalitions", tags=["coalitions"], responses=ERRORS)


@router.get("", response_model=list[CoalitionOut])
def list_coalitions(sim_id: SimId, service: ServiceDep, _: Viewer) -> list[CoalitionOut]:
    """The active coalitions, ascending id."""
    return [CoalitionOut(**c) for c in service.coalitions(sim_id)]


@router.get("/{coalition_id}", response_model=CoalitionDetail)
def get_coalition(
    sim_id: SimId, coalition_id: CoalitionId, service: ServiceDep, _: Viewer
) -> CoalitionDetail:
    """One active coalition: leader, objective and its target, members."""
    return CoalitionDetail(**service.coalition(sim_id, coalition_id))


@router.post("/formation", response_model=FormationOut)
def trigger_formation(sim_id: SimId, service: ServiceDep, _: Operator) -> FormationOut:
    """Re-form coalitions now (one tick runs with a re-formation)."""
    return FormationOut(**service.trigger_formation(sim_id))
