"""A :class:`SimulationConfig` to JSON and back (for checkpoint manifests)."""

from __future__ import annotations

import dataclasses
from typing import Any

from freeagentics.simulation._config import CoalitionSettings, ObjectiveSpec, SimulationConfig
from freeagentics.state import CheckpointError
from freeagentics.worlds import GridWorldConfig, ResourceType

__all__ = ["config_from_json", "config_to_json"]


def config_to_json(config: SimulationConfig) -> dict[str, Any]:
    """The configuration as nested JSON objects (tuples become lists)."""
    return dataclasses.asdict(config)


def config_from_json(values: Any) -> SimulationConfig:
    """The configuration of :func:`config_to_json`, validated again on construction."""
    try:
        v = dict(values)
        world = dict(v.pop("world"))
        world["resources"] = tuple(ResourceType(**r) for r in world.get("resources", ()))
        coalitions = dict(v.pop("coalitions"))
        coalitions["objectives"] = tuple(
            ObjectiveSpec(
                **{**o, "target": tuple(o["target"]), "required": tuple(o.get("required", ()))}
            )
            for o in coalitions.get("objectives", ())
        )
        return SimulationConfig(
            world=GridWorldConfig(**world), coalitions=CoalitionSettings(**coalitions), **v
        )
    except (TypeError, ValueError, KeyError) as exc:
        raise CheckpointError(f"checkpoint holds an invalid configuration: {exc}") from None
