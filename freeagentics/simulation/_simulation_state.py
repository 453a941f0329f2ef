"""A simulation's exact state: its configuration, kinds and every component's state.

Parts (each a component's :class:`~freeagentics.state.State`): ``world``,
``population``, ``coalitions``, ``knowledge``, ``updater`` and ``activity``, ``kind.<i>`` per
kind; the simulation's own are its tick, generator, waypoints, the resource index
and the targets looked up in it (the resource rule's, and the food of hungry agents of
kinds with drives), and the latest metrics.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from freeagentics.agents._kind_state import kind_from_state, kind_state
from freeagentics.simulation._config_json import config_from_json, config_to_json
from freeagentics.simulation._targets import ResourceIndex
from freeagentics.state import CheckpointError, State, rng_from_state, rng_state

if TYPE_CHECKING:
    from freeagentics.agents.kinds import AgentKind
    from freeagentics.simulation._config import SimulationConfig
    from freeagentics.simulation.simulation import Simulation

__all__ = ["load_simulation_state", "setup_of", "simulation_state"]

#: components with ``export_state`` / ``import_state``, by attribute name
COMPONENTS = ("world", "population", "coalitions", "knowledge", "_updater", "activity")


def simulation_state(sim: Simulation) -> State:
    state = State(
        values={
            "config": config_to_json(sim.config),
            "kinds": len(sim.population.groups),
            "tick": sim.tick,
            "rng": rng_state(sim._rng),
            "metrics_tick": sim._metrics_tick,
            "metrics": list(sim.metrics),
            "resources_built": sim._resources_built,
            "has_resource_index": sim._resources is not None,
            "resource_targets": {str(c): t for c, (t, _) in sim._resource_targets.items()},
            "hungry_targets": {str(c): t for c, (t, _, _) in sim._hungry_targets.items()},
        }
    )
    for g in sim.population.groups:
        state.put(f"kind.{g.code}", kind_state(g.kind))
        state.arrays[f"waypoints.{g.code}"] = sim._waypoints[g.code]
    for code, (_, targets) in sim._resource_targets.items():
        state.arrays[f"resource_targets.{code}"] = targets
    for code, (_, nearest, looked_up) in sim._hungry_targets.items():
        state.arrays[f"hungry_targets.{code}"] = nearest
        state.arrays[f"hungry_looked_up.{code}"] = looked_up
    if sim._resources is not None:
        state.arrays["resource_cells"] = sim._resources.cells
    for name, values in sim.metrics.items():
        state.arrays[f"metrics.{name}"] = values
    for name in COMPONENTS:
        part = (
            sim.agent_rows.population_state()  # its rows may live in shards
            if name == "population"
            else getattr(sim, name).export_state()
        )
        state.put(name.lstrip("_"), part)
    return state


def setup_of(state: State) -> tuple[SimulationConfig, list[AgentKind]]:
    """The configuration and kinds to build the simulation that ``state`` continues."""
    config = config_from_json(state.value("config", dict))
    kinds = [kind_from_state(state.part(f"kind.{i}")) for i in range(state.value("kinds", int))]
    return config, kinds


def load_simulation_state(sim: Simulation, state: State) -> None:
    """Continue ``sim`` (built from :func:`setup_of`) from ``state``."""
    codes = [g.code for g in sim.population.groups]
    waypoints = {c: state.array(f"waypoints.{c}", ndim=2) for c in codes}
    targets = {}
    for code, built in state.value("resource_targets", dict).items():
        if not code.isdigit() or int(code) not in codes or not isinstance(built, int):
            raise CheckpointError(f"resource targets name an unknown kind {code!r}")
        targets[int(code)] = (built, state.array(f"resource_targets.{code}", ndim=2))
    hungry = {}
    for code, built in state.value("hungry_targets", dict).items():
        if not code.isdigit() or int(code) not in codes or not isinstance(built, int):
            raise CheckpointError(f"hungry targets name an unknown kind {code!r}")
        nearest = state.array(f"hungry_targets.{code}", np.int32, 2)
        looked_up = state.array(f"hungry_looked_up.{code}", np.bool_, 1)
        if nearest.shape != (looked_up.size, 2):
            raise CheckpointError(f"hungry targets of kind {code} disagree in length")
        hungry[int(code)] = (built, nearest, looked_up)
    index = (
        ResourceIndex.from_cells(state.array("resource_cells", np.int32, 2))
        if state.value("has_resource_index", bool)
        else None
    )
    metrics = {name: state.array(f"metrics.{name}") for name in state.value("metrics", list)}
    parts = {name: state.part(name.lstrip("_")) for name in COMPONENTS}
    for name, part in parts.items():
        getattr(sim, name).import_state(part)
    for g in sim.population.groups:
        if waypoints[g.code].shape != (g.n, 2):
            raise CheckpointError(f"waypoints of kind {g.kind.name!r} do not fit its agents")
    sim.tick = state.value("tick", int)
    sim._rng = rng_from_state(state.value("rng", dict))
    sim._waypoints = waypoints
    sim._resource_targets = targets
    sim._hungry_targets = hungry
    sim._resources = index
    sim._resources_built = state.value("resources_built", int)
    sim.metrics = metrics
    sim._metrics_tick = state.value("metrics_tick", int)
