"""Where the agents' rows are stepped: the seam between a simulation and its cohorts.

A tick's per-agent work (perceive, learn, plan, act; feel refused moves; remember
beliefs; report metrics) depends only on each agent's own row of its cohort and on
what the simulation hands it, so it sits behind :class:`AgentRows`. The simulation
computes every kind's :class:`GroupInputs` from the world (targets, compass readings,
contact, energy), hands them over, and gets moves back. :class:`LocalAgents` steps
the rows in this process; ``freeagentics.hosts.shards`` steps them in shard actors,
rows split across processes and machines, with the same arithmetic row for row.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Protocol

import numpy as np

from freeagentics.agents.drives import act_with_drives, forget_visits
from freeagentics.state import State
from freeagentics.worlds import Move

if TYPE_CHECKING:
    from freeagentics.agents.cohort import Cohort
    from freeagentics.agents.kinds import AgentKind
    from freeagentics.agents.population import Group, Population

__all__ = ["AgentRows", "GroupInputs", "LocalAgents", "act_group", "sense_group"]

_STAY = int(Move.STAY)


@dataclass(frozen=True)
class GroupInputs:
    """What one kind's agents perceive this tick, rows in the group's order (``n`` rows).

    Attributes:
        obs: ``(n, 1)`` int64 outcome indices (compass reading or cell code).
        contact: ``(n, 5)`` int32 cell codes touching each agent (kinds with drives).
        positions: ``(n, 2)`` int32 cells (kinds with drives).
        level: ``(n,)`` int64 interoceptive energy level (kinds with drives).
        food: ``(n,)`` bool, the compass points at food (kinds with drives).
        objective: ``(n,)`` bool, the agent's coalition has an objective (kinds with drives).

    The drive fields are None for kinds without drives.
    """

    obs: np.ndarray
    contact: np.ndarray | None = None
    positions: np.ndarray | None = None
    level: np.ndarray | None = None
    food: np.ndarray | None = None
    objective: np.ndarray | None = None

    def rows(self, start: int, stop: int) -> GroupInputs:
        """The inputs of rows ``start:stop`` (views)."""
        values = (getattr(self, f.name) for f in fields(self))
        return GroupInputs(*(None if a is None else a[start:stop] for a in values))


def act_group(
    kind: AgentKind, cohort: Cohort, visits: np.ndarray, inputs: GroupInputs, strength: float
) -> np.ndarray:
    """Perceive, plan and act for one kind's rows: world moves ``(n,)`` int64.

    ``strength`` is the coalitions' pull added to members of a coalition with an
    objective (their ``objective`` rows).
    """
    drives = kind.drives
    if drives is None:
        return cohort.step(inputs.obs)[:, 0]
    pull = np.where(inputs.objective, drives.pull + strength, drives.pull)
    return act_with_drives(
        cohort,
        drives,
        inputs.obs,
        inputs.contact,
        inputs.positions,
        visits,
        inputs.level,
        inputs.food,
        pull,
    )


def sense_group(
    kind: AgentKind,
    cohort: Cohort,
    visits: np.ndarray,
    refused: np.ndarray,
    tick: int,
    first_row: int = 0,
) -> None:
    """After the world step: a refused move (``refused`` ``(n,)`` bool) is felt as
    staying, and one agent in ``forget_every`` halves its visit counts (``first_row``:
    where these rows start in their group). Kinds with drives only (the others do not
    feel their moves)."""
    if refused.any():
        cohort.actions[refused, 0] = _STAY
    forget_visits(visits, tick, kind.drives.forget_every, first_row)


class AgentRows(Protocol):
    """The per-agent work of a tick, wherever the rows live (groups with agents only)."""

    def act(self, groups: list[Group], inputs: list[GroupInputs]) -> list[np.ndarray]:
        """Moves ``(n,)`` per group, from each group's inputs."""

    def sense(self, groups: list[Group], refused: list[np.ndarray], tick: int) -> None:
        """:func:`sense_group` for each group with drives (``refused`` lines up with it)."""

    def record_history(self, tick: int) -> None:
        """Store this tick's beliefs in every agent's history ring."""

    def set_preferences(self, group: Group, prefs: np.ndarray) -> None:
        """Per-agent preferences ``(n, O)`` of a compass group's agents."""

    def metrics(self, groups: list[Group]) -> dict[int, dict[str, np.ndarray]]:
        """Per group code: the cohort's per-agent metrics ``(n,)`` each."""

    def population_state(self) -> State:
        """The population's exact state (as :meth:`Population.export_state` gives it)."""

    def check_resizable(self) -> None:
        """Raise :class:`~freeagentics.errors.ConfigurationError` where agents cannot be
        added or removed."""


class LocalAgents:
    """The rows in this process: each kind's cohort steps in the population itself."""

    def __init__(self, population: Population, strength: float):
        self.population = population
        self.strength = strength

    def act(self, groups: list[Group], inputs: list[GroupInputs]) -> list[np.ndarray]:
        return [
            act_group(g.kind, g.cohort, g.visits, x, self.strength)
            for g, x in zip(groups, inputs, strict=True)
        ]

    def sense(self, groups: list[Group], refused: list[np.ndarray], tick: int) -> None:
        for g, mask in zip(groups, refused, strict=True):
            sense_group(g.kind, g.cohort, g.visits, mask, tick)

    def record_history(self, tick: int) -> None:
        self.population.record_history(tick)

    def set_preferences(self, group: Group, prefs: np.ndarray) -> None:
        group.cohort.set_preferences([prefs])

    def metrics(self, groups: list[Group]) -> dict[int, dict[str, np.ndarray]]:
        return {g.code: g.cohort.metrics() for g in groups}

    def population_state(self) -> State:
        return self.population.export_state()

    def check_resizable(self) -> None:
        """Always possible here."""
