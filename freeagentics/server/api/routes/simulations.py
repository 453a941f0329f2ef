"""Simulations: create, list, inspect, start, pause, resume, step, stop, delete, checkpoints."""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, Field

from freeagentics.hosts import WireArray
from freeagentics.server.api.params import SimId
from freeagentics.server.api.schemas import (
    CheckpointOut,
    CreateSimulation,
    RestoreRequest,
    SimulationOut,
    StepRequest,
    error_responses,
)
from freeagentics.server.deps import Admin, Operator, ServiceDep, Viewer
from freeagentics.server.services import KindDefinition

__all__ = ["router"]

ERRORS = error_responses(401, 403, 404, 409, 422)


class TypedArrayOut(BaseModel):
    """A typed array as in WebSocket JSON frames: little-endian bytes, base64 in ``data``."""

    dtype: str = Field(description="uint8, int32 or float32")
    shape: list[int]
    data: str = Field(description="base64 of the raw little-endian bytes")


class WorldOut(BaseModel):
    """The world's layout (cell codes) and its resource cells' current amounts."""

    tick: int
    height: int
    width: int
    resource_names: list[str]
    cells: TypedArrayOut = Field(
        description="(H, W) uint8: 0 empty, 1 wall, 2 goal, 5 hazard, 6+k resource k"
    )
    resource_cells: TypedArrayOut = Field(description="(R,) int32 linear index row*W+col")
    resource_amounts: TypedArrayOut = Field(description="(R,) float32 amount now")


def _typed(values: Any) -> TypedArrayOut:
    """A numpy array (a service in this process) or a :class:`WireArray` (from a host
    process: its bytes go out as they came, numpy never loaded) as a typed array."""
    wire = values if isinstance(values, WireArray) else WireArray.of(values)
    data = base64.b64encode(wire.data).decode("ascii")
    return TypedArrayOut(dtype=wire.name, shape=list(wire.shape), data=data)


router = APIRouter(prefix="/simulations", tags=["simulations"], responses=ERRORS)


def _links(*targets: tuple[str, str, str]) -> dict[str, dict]:
    """OpenAPI links from a created simulation to the operations on it (clients and
    stateful test tools follow them): ``(name, method, path under /simulations/{sim_id})``."""
    base = "/api/v1/simulations/{sim_id}"
    return {
        name: {
            "operationRef": "#/paths/"
            + (base + tail).replace("~", "~0").replace("/", "~1")
            + f"/{method}",
            "parameters": {"sim_id": "$response.body#/id"},
        }
        for name, method, tail in targets
    }


CREATED_LINKS = _links(
    ("GetSimulation", "get", ""),
    ("GetWorld", "get", "/world"),
    ("StartSimulation", "post", "/start"),
    ("PauseSimulation", "post", "/pause"),
    ("ResumeSimulation", "post", "/resume"),
    ("StepSimulation", "post", "/step"),
    ("StopSimulation", "post", "/stop"),
    ("Checkpoint", "post", "/checkpoints"),
    ("ListCheckpoints", "get", "/checkpoints"),
    ("Restore", "post", "/restore"),
    ("ListAgents", "get", "/agents"),
    ("AddAgents", "post", "/agents"),
    ("ListCoalitions", "get", "/coalitions"),
    ("TriggerFormation", "post", "/coalitions/formation"),
    ("KnowledgeStats", "get", "/knowledge/stats"),
    ("FindNodes", "get", "/knowledge/nodes"),
    ("DeleteSimulation", "delete", ""),
)
Status = Query(None, alias="status", pattern="^(created|running|paused|completed|failed)$")


@router.post(
    "",
    response_model=SimulationOut,
    status_code=status.HTTP_201_CREATED,
    responses={201: {"description": "The simulation created", "links": CREATED_LINKS}},
)
def create_simulation(body: CreateSimulation, service: ServiceDep, _: Operator) -> SimulationOut:
    """Create a simulation from a scenario and optional custom kinds (model specs)."""
    kinds = [
        KindDefinition(
            name=k.name,
            count=k.count,
            spec=k.spec,
            gmn=k.gmn,
            policy_len=k.policy_len,
            observer=k.observer,
            target=k.target,
            capabilities=tuple(k.capabilities),
        )
        for k in body.kinds
    ]
    # only what the caller wrote: unset sections keep the scenario's defaults and notes
    scenario = body.scenario.model_dump(exclude_unset=True) if body.scenario else None
    sim_id = service.create(scenario, name=body.name, kinds=kinds)
    if body.start:
        return SimulationOut(**service.start(sim_id))
    return SimulationOut(**service.get(sim_id))


@router.get("", response_model=list[SimulationOut])
def list_simulations(
    service: ServiceDep, _: Viewer, status_filter: str | None = Status
) -> list[SimulationOut]:
    """Every simulation the server holds, optionally with one status."""
    return [SimulationOut(**s) for s in service.list(status=status_filter)]


@router.get("/{sim_id}", response_model=SimulationOut)
def get_simulation(sim_id: SimId, service: ServiceDep, _: Viewer) -> SimulationOut:
    """One simulation's status, tick and population."""
    return SimulationOut(**service.get(sim_id))


@router.get("/{sim_id}/world", response_model=WorldOut)
def world(sim_id: SimId, service: ServiceDep, _: Viewer) -> WorldOut:
    """Walls, goals, hazards and resource cells (static), and resource amounts now."""
    w = service.world(sim_id)
    arrays = {k: _typed(w[k]) for k in ("cells", "resource_cells", "resource_amounts")}
    return WorldOut(
        tick=w["tick"],
        height=w["height"],
        width=w["width"],
        resource_names=w["resource_names"],
        **arrays,
    )


@router.post("/{sim_id}/start", response_model=SimulationOut)
def start(sim_id: SimId, service: ServiceDep, _: Operator) -> SimulationOut:
    """Step in the background at the server's tick rate."""
    return SimulationOut(**service.start(sim_id))


@router.post("/{sim_id}/pause", response_model=SimulationOut)
def pause(sim_id: SimId, service: ServiceDep, _: Operator) -> SimulationOut:
    """Stop stepping after the tick in progress."""
    return SimulationOut(**service.pause(sim_id))


@router.post("/{sim_id}/resume", response_model=SimulationOut)
def resume(sim_id: SimId, service: ServiceDep, _: Operator) -> SimulationOut:
    """Continue a paused simulation."""
    return SimulationOut(**service.resume(sim_id))


@router.post("/{sim_id}/step", response_model=SimulationOut)
def step(
    sim_id: SimId, service: ServiceDep, _: Operator, body: StepRequest | None = None
) -> SimulationOut:
    """Run ``n`` ticks now (the simulation must not be running); no body runs one."""
    return SimulationOut(**service.step(sim_id, (body or StepRequest()).n))


@router.post("/{sim_id}/stop", response_model=SimulationOut)
def stop(sim_id: SimId, service: ServiceDep, _: Operator) -> SimulationOut:
    """End the simulation for good; it stays inspectable."""
    return SimulationOut(**service.stop(sim_id))


@router.delete("/{sim_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delete(sim_id: SimId, service: ServiceDep, _: Admin) -> Response:
    """Stop the simulation and delete everything stored about it."""
    service.delete(sim_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{sim_id}/checkpoints", response_model=CheckpointOut, status_code=status.HTTP_201_CREATED
)
def checkpoint(sim_id: SimId, service: ServiceDep, _: Operator) -> CheckpointOut:
    """Store the simulation's exact state in the database."""
    return CheckpointOut(**service.checkpoint(sim_id))


@router.get("/{sim_id}/checkpoints", response_model=list[CheckpointOut])
def list_checkpoints(sim_id: SimId, service: ServiceDep, _: Viewer) -> list[CheckpointOut]:
    """The simulation's checkpoints, oldest first."""
    return [CheckpointOut(**c) for c in service.checkpoints(sim_id)]


@router.post("/{sim_id}/restore", response_model=SimulationOut)
def restore(
    sim_id: SimId, service: ServiceDep, _: Admin, body: RestoreRequest | None = None
) -> SimulationOut:
    """Continue from a checkpoint (default: the latest); WebSocket subscribers carry over."""
    return SimulationOut(**service.restore(sim_id, body.checkpoint_id if body else None))
