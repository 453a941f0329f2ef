"""Checking a world checkpoint before it replaces a world's state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from freeagentics.errors import ConfigurationError
from freeagentics.worlds._config import GridWorldConfig
from freeagentics.worlds._layout import Layout
from freeagentics.worlds._population import check_free_cells

__all__ = ["STATE_KEYS", "Checkpoint", "read_checkpoint"]

STATE_KEYS = (
    "walls",
    "goals",
    "hazards",
    "resource_kind",
    "resources",
    "positions",
    "energy",
    "active",
    "tick",
    "rng",
)


@dataclass(frozen=True, eq=False)
class Checkpoint:
    """A validated world state (C slots, K resource types, H x W grid).

    Attributes:
        layout: the static layout.
        resources: (K, H, W) float32.
        positions: (C, 2) int32, (-1, -1) on free slots.
        energy: (C,) float32, 0 on free slots.
        active: (C,) bool.
        tick: ticks since reset.
        rng: generator positioned where the checkpoint left it.
    """

    layout: Layout
    resources: np.ndarray
    positions: np.ndarray
    energy: np.ndarray
    active: np.ndarray
    tick: int
    rng: np.random.Generator


def read_checkpoint(state: dict[str, Any], config: GridWorldConfig) -> Checkpoint:
    """Validate a ``GridWorld.get_state()`` dict against ``config`` and copy it.

    Raises:
        ConfigurationError: a key is missing or an array does not fit the config.
    """
    missing = [k for k in STATE_KEYS if k not in state]
    if missing:
        raise ConfigurationError(f"state is missing {missing}")
    shape = (config.height, config.width)
    layout = Layout(
        walls=state["walls"],
        goals=state["goals"],
        hazards=state["hazards"],
        resource_kind=state["resource_kind"],
    )
    if layout.shape != shape:
        raise ConfigurationError(f"state grid must be {shape}, got {layout.shape}")
    resources = np.array(state["resources"], dtype=np.float32)
    if resources.shape != (config.n_resource_types, *shape):
        raise ConfigurationError(
            f"state resources must have shape {(config.n_resource_types, *shape)}, "
            f"got {resources.shape}"
        )
    active = np.array(state["active"], dtype=bool)
    c = active.shape[0]
    positions = np.asarray(state["positions"])
    energy = np.array(state["energy"], dtype=np.float32)
    if active.ndim != 1 or positions.shape != (c, 2) or energy.shape != (c,):
        raise ConfigurationError("state positions, energy and active disagree in length")
    slots = np.flatnonzero(active)
    check_free_cells(positions[slots], layout.walls, np.full(shape, -1, dtype=np.int32))
    # Free slots are normalised so a restored world equals a fresh one slot for slot.
    clean_positions = np.full((c, 2), -1, dtype=np.int32)
    clean_positions[slots] = positions[slots]
    clean_energy = np.zeros(c, dtype=np.float32)
    clean_energy[slots] = energy[slots]
    rng = np.random.default_rng()
    rng.bit_generator.state = state["rng"]
    return Checkpoint(
        layout=layout,
        resources=resources,
        positions=clean_positions,
        energy=clean_energy,
        active=active,
        tick=int(state["tick"]),
        rng=rng,
    )
