"""Request and response bodies of the REST API, with the bounds that reject bad input."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from freeagentics.simulation.scenario import ScenarioSpec

__all__ = [
    "AddAgents",
    "AddedAgents",
    "AgentDetail",
    "AgentPage",
    "AgentSummary",
    "CheckpointOut",
    "CoalitionDetail",
    "CoalitionOut",
    "CreateSimulation",
    "EdgeOut",
    "ErrorOut",
    "FactorBeliefs",
    "FormationOut",
    "GraphStatsOut",
    "GraphTicks",
    "Health",
    "KHopOut",
    "KindSpec",
    "ModelErrorOut",
    "ModelSummary",
    "NeighboursOut",
    "NodeOut",
    "NodePage",
    "NodeRead",
    "PathOut",
    "PolicyLabels",
    "PrincipalOut",
    "RemoveAgents",
    "RemovedAgents",
    "RestoreRequest",
    "SimulationOut",
    "StepRequest",
    "TokenOut",
    "TokenRequest",
    "ValidateModel",
    "ValidationOut",
]

MAX_AGENTS_PER_REQUEST = 10_000
MAX_GMN_CHARS = 200_000


class _Strict(BaseModel):
    """Request bodies refuse unknown fields, so a typo is an error, not a silent default."""

    model_config = ConfigDict(extra="forbid")


class ErrorOut(BaseModel):
    """Every error response: a message naming the problem, its kind, and details."""

    detail: str
    type: str
    errors: list[dict[str, Any]] | None = None


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` of a router whose routes can fail with ``codes``."""
    return {code: {"model": ErrorOut} for code in codes}


# ---------------------------------------------------------------------- models
class _ModelSource(_Strict):
    spec: dict[str, Any] | None = Field(None, description="A named model spec (JSON form).")
    gmn: Annotated[str, Field(max_length=MAX_GMN_CHARS)] | dict[str, Any] | None = Field(
        None,
        description="GMN: the text form, or the JSON form "
        '(`{"nodes": [...], "edges": [...]}`) as an object.',
    )
    policy_len: int = Field(1, ge=1, le=4, description="Planning horizon for GMN models.")

    @model_validator(mode="after")
    def _one_source(self) -> _ModelSource:
        if (self.spec is None) == (self.gmn is None):
            raise ValueError("give exactly one of 'spec' or 'gmn'")
        return self


class ValidateModel(_ModelSource):
    """A model to validate: a named spec or GMN text."""


class ModelSummary(BaseModel):
    num_states: list[int]
    num_obs: list[int]
    num_controls: list[int]
    num_policies: int
    policy_len: int


class ModelErrorOut(BaseModel):
    path: str | None
    message: str


class ValidationOut(BaseModel):
    valid: bool
    error: ModelErrorOut | None = None
    warnings: list[str] = Field(
        default_factory=list,
        description="What a GMN model was accepted with: the original format's shortcuts, "
        "each with the meaning it was given.",
    )
    summary: ModelSummary | None = None


# ---------------------------------------------------------------------- simulations
class KindSpec(_ModelSource):
    """A custom agent kind defined by a model, and how many agents of it to start with."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    count: int = Field(0, ge=0, le=MAX_AGENTS_PER_REQUEST)
    observer: Literal["compass", "cell"] = "compass"
    target: Literal["waypoint", "resource", "coalition", "none"] = "waypoint"
    capabilities: list[float] = Field(default=[1.0, 0.0, 0.0], min_length=3, max_length=3)


class CreateSimulation(_Strict):
    """A simulation from a scenario (the structure of a scenario file) and custom kinds."""

    name: str | None = Field(None, min_length=1, max_length=100)
    scenario: ScenarioSpec | None = Field(
        None,
        description="The structure of a scenario file (sections scenario, world, agents, "
        "coalitions, simulation; each optional). Omitted: the defaults.",
    )
    kinds: list[KindSpec] = Field(default_factory=list, max_length=8)
    start: bool = Field(False, description="Start stepping at once.")


class SimulationOut(BaseModel):
    id: int
    name: str
    status: str
    tick: int
    agents: int
    kinds: dict[str, int]
    coalitions: int
    world: list[int]
    error: str | None = None
    ticks_lost: int | None = Field(
        None,
        description="Ticks lost when the simulation was last restored from its checkpoint "
        "(at server start, or after its host died).",
    )
    failovers: int | None = Field(
        None,
        description="Times the simulation resumed from its checkpoint on another host after "
        "its host (a Ray actor's process or node) died.",
    )


class StepRequest(_Strict):
    n: int = Field(1, ge=1, le=1_000, description="Ticks to run now.")


class RestoreRequest(_Strict):
    checkpoint_id: int | None = Field(None, ge=1, description="Default: the latest.")


class CheckpointOut(BaseModel):
    id: int
    tick: int
    size_bytes: int
    sha256: str
    created_at: datetime


# ---------------------------------------------------------------------- agents
class AddAgents(_Strict):
    kind: str = Field(min_length=1, max_length=32)
    count: int = Field(1, ge=1, le=MAX_AGENTS_PER_REQUEST)


class AddedAgents(BaseModel):
    ids: list[int]


class RemoveAgents(_Strict):
    ids: list[int] = Field(min_length=1, max_length=MAX_AGENTS_PER_REQUEST)

    @model_validator(mode="after")
    def _non_negative(self) -> RemoveAgents:
        if any(i < 0 or i >= 2**62 for i in self.ids):
            raise ValueError("ids must be agent ids, whole numbers >= 0")
        return self


class RemovedAgents(BaseModel):
    removed: int


FLOAT32_NOTE = "float32, written as its shortest decimal that reads back as the same float32"


class AgentSummary(BaseModel):
    id: int
    kind: str
    position: list[int]
    energy: float = Field(description=f"Energy ({FLOAT32_NOTE}).")
    coalition: int


class AgentPage(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[AgentSummary]


class FactorBeliefs(BaseModel):
    """An agent's beliefs about one hidden-state factor: ``p[i]`` is the probability of
    ``states[i]``."""

    factor: str = Field(description="The factor's name in the kind's model.")
    states: list[str] = Field(description="(S_f,) the factor's state names, in model order.")
    p: list[float] = Field(description=f"(S_f,) q(s_f), summing to 1 ({FLOAT32_NOTE}).")


class PolicyLabels(BaseModel):
    """The kind's policies named by their controls, in the order of ``q_pi`` and ``G``.

    ``plans[i][t][j]`` is the control policy ``i`` applies at step ``t`` to factor
    ``factors[j]``. Only the first ``steps`` steps of each policy are named: all
    ``horizon`` of them unless the model has too many policies to name compactly
    (then the first action only, or none: ``steps`` 0 and ``plans`` empty).
    """

    factors: list[str] = Field(description="(F_c,) names of the factors policies control.")
    horizon: int = Field(description="Steps per policy (the model's policy_len).")
    steps: int = Field(description="Steps of each policy named in plans (0..horizon).")
    plans: list[list[list[str]]] = Field(
        description="(P, steps, F_c) control names; empty when steps is 0."
    )


class AgentDetail(BaseModel):
    id: int
    kind: str
    tick: int = Field(description="The simulation tick these values are from.")
    position: list[int]
    energy: float = Field(description=f"Energy ({FLOAT32_NOTE}).")
    coalition: int
    role: str
    beliefs: list[FactorBeliefs] = Field(description="One entry per hidden-state factor.")
    q_pi: list[float] = Field(description=f"(P,) posterior over policies ({FLOAT32_NOTE}).")
    G: list[float] = Field(
        description="(P,) negative expected free energy per policy, as pymdp stores it: "
        f"q_pi = softmax(gamma * G + ln E) ({FLOAT32_NOTE})."
    )
    policies: PolicyLabels = Field(description="What the policies of q_pi and G do.")
    metrics: dict[str, float] = Field(description=f"Per-agent metrics ({FLOAT32_NOTE}).")
    history: list[list[float]] = Field(
        description="(k, sum of S_f) recent beliefs, oldest first, ending at tick: the "
        "factors' q(s_f) concatenated in beliefs order, stored at bfloat16 precision."
    )


# ---------------------------------------------------------------------- coalitions
class CoalitionOut(BaseModel):
    id: int
    objective: int
    leader: int | None
    size: int
    created_tick: int


class CoalitionDetail(CoalitionOut):
    members: list[int]
    target: list[float] | None = Field(description="The objective's target (row, col); null: none.")


class FormationOut(BaseModel):
    tick: int
    events: int
    coalitions: list[CoalitionOut]


# ---------------------------------------------------------------------- knowledge
class GraphTicks(BaseModel):
    """Which ticks a knowledge-graph read is from: the graph is folded from the
    simulation every ``knowledge_every`` ticks, so it can be behind the simulation."""

    tick: int = Field(description="The simulation's tick when the graph was read.")
    as_of_tick: int | None = Field(
        description="The simulation tick the graph reflects (its last fold); null before "
        "the first fold."
    )


class NodeOut(BaseModel):
    id: int
    type: str
    key: str
    properties: dict[str, bool | int | float | str]
    created_tick: int
    updated_tick: int


class NodeRead(NodeOut, GraphTicks):
    """One node, and the ticks of the graph it was read from."""


class NodePage(GraphTicks):
    items: list[NodeOut]
    offset: int
    limit: int


class EdgeOut(BaseModel):
    src: int
    dst: int
    type: str
    properties: dict[str, bool | int | float | str]
    weight: float


class NeighboursOut(GraphTicks):
    node: int
    neighbours: list[int]
    edges: list[EdgeOut]


class KHopOut(GraphTicks):
    node: int
    k: int
    distances: dict[str, int] = Field(description="Node id (as a string) -> hops.")


class PathOut(GraphTicks):
    src: int
    dst: int
    path: list[int] | None


class GraphStatsOut(GraphTicks):
    nodes: int
    edges: int
    max_nodes: int
    max_edges: int
    nodes_by_type: dict[str, int]
    edges_by_type: dict[str, int]


# ---------------------------------------------------------------------- auth and health
class TokenRequest(_Strict):
    ttl_seconds: int | None = Field(None, ge=60, le=7 * 24 * 3600)


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    role: str


class PrincipalOut(BaseModel):
    name: str
    role: str


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    mode: str
    database: str | None = None
    simulations: int | None = None
    host: str | None = Field(None, description="Why the simulation host is unavailable.")
