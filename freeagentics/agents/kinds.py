"""Agent kinds: a model, how an agent of the kind reads the world, and what it pursues.

A kind bundles
- ``model``: its generative model (any :class:`GenerativeModel`, e.g. from a named
  spec with :func:`~freeagentics.models.load_spec`);
- ``observer``: how observations are read from the world —
  ``"compass"`` (the direction of the agent's target: the nine outcomes of
  :data:`~freeagentics.models.builders.COMPASS_OUTCOMES`) or ``"cell"`` (the code of
  the cell under the agent, :class:`~freeagentics.worlds.Cell`);
- ``target``: what the compass points at — ``"waypoint"`` (a personal destination,
  redrawn on arrival: exploration), ``"resource"`` (the nearest cell holding a
  resource), ``"coalition"`` (the centre of the agent's coalition), or ``"none"``;
  a coalition member always heads for its coalition's objective instead;
- ``capabilities``: the vector coalition formation matches against objectives;
- ``config``: inference settings for the kind's cohort;
- ``drives``: :class:`~freeagentics.agents.drives.Drives`, the contact, novelty and
  interoception factors whose expected free energy adds to the compass factor's
  (None: the model alone decides).

Why drives: with the compass factor alone an agent wants nothing once its target is
reached, cannot tell a blocked move from a made one, and does not know its energy —
in a run every agent ends up standing still. The built-in kinds therefore carry
drives: explorers a strong novelty drive (they keep covering the world), collectors
a strong interoceptive one over a weak compass pull to the nearest food (hungry ones
forage, fed ones wander off and come back as patches regrow), coordinators between.
The compass factor stays one factor and one modality on the fast engine; the drives
are closed-form terms over the five moves (see :mod:`freeagentics.agents.drives`),
so a model's size stays independent of the world's and 10^5 agents stay cheap.

Actions are the world's moves (up, down, left, right, stay), control 0 of factor 0.
The three kinds of the original system are predefined; :func:`define_kind` makes more.
The models are egocentric: their size depends on a radius, never on the world's size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from freeagentics.agents._config import CohortConfig
from freeagentics.agents.drives import Drives
from freeagentics.errors import ConfigurationError
from freeagentics.models import GenerativeModel
from freeagentics.models.builders import COMPASS_OUTCOMES, displacement_model

__all__ = ["OBSERVERS", "TARGETS", "AgentKind", "builtin_kinds", "define_kind"]

OBSERVERS = ("compass", "cell")
TARGETS = ("waypoint", "resource", "coalition", "none")


@dataclass(frozen=True)
class AgentKind:
    """One kind of agent; see the module docstring for the fields."""

    name: str
    model: GenerativeModel
    observer: str = "compass"
    target: str = "waypoint"
    capabilities: tuple[float, ...] = (1.0, 0.0, 0.0)
    config: CohortConfig = field(default_factory=lambda: _kind_config(1))
    drives: Drives | None = None

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("_", "").replace("-", "").isalnum():
            raise ConfigurationError(
                f"kind name must be letters, digits, '-' or '_', got {self.name!r}"
            )
        if self.observer not in OBSERVERS:
            raise ConfigurationError(
                f"kind {self.name!r}: observer must be one of {OBSERVERS}, got {self.observer!r}"
            )
        if self.target not in TARGETS:
            raise ConfigurationError(
                f"kind {self.name!r}: target must be one of {TARGETS}, got {self.target!r}"
            )
        m = self.model
        if m.num_factors < 1 or m.num_controls[0] != 5:
            raise ConfigurationError(
                f"kind {self.name!r}: factor 0 must take the 5 world moves as controls, "
                f"got {m.num_controls[0]}"
            )
        if self.observer == "compass" and m.num_obs[0] != len(COMPASS_OUTCOMES):
            raise ConfigurationError(
                f"kind {self.name!r}: a compass observer needs {len(COMPASS_OUTCOMES)} outcomes "
                f"in modality 0, the model has {m.num_obs[0]}"
            )
        if m.num_modalities != 1:
            raise ConfigurationError(
                f"kind {self.name!r}: observers fill one modality, the model has {m.num_modalities}"
            )
        if self.drives is not None:
            side = round(np.sqrt(m.num_states[0]))
            cfg = self.config
            if (
                self.observer != "compass"
                or m.num_factors != 1
                or side * side != m.num_states[0]
                or side % 2 == 0
                or m.policy_len != 1
                or cfg.learn_A
                or cfg.learn_B
                or cfg.plan_every != 1
            ):
                raise ConfigurationError(
                    f"kind {self.name!r}: drives need a displacement (compass) model with "
                    "policy_len 1, no learning and plan_every 1"
                )


def _kind_config(plan_every: int) -> CohortConfig:
    """The inference settings of a kind made without a config.

    Exact argmax among moves (no tie tolerance): a tolerance sends near-ties to the first
    move, ``up``, which walks agents into walls; a kind's cohort runs on one engine, so
    agreement between engines on near-ties does not arise.
    """
    return CohortConfig(gamma=8.0, alpha=8.0, plan_every=plan_every, tie_tolerance=0.0)


def define_kind(
    name: str,
    model: GenerativeModel | None = None,
    *,
    observer: str = "compass",
    target: str = "waypoint",
    capabilities: tuple[float, ...] = (1.0, 0.0, 0.0),
    radius: int = 4,
    preference: float = 4.0,
    config: CohortConfig | None = None,
    drives: Drives | None = None,
    exact_planning: bool = False,
) -> AgentKind:
    """A kind with the egocentric compass model unless ``model`` is given.

    Without ``config``, a kind whose policies look ``T > 1`` steps ahead plans every
    ``T`` steps and follows its plan in between (``plan_every = T``): about ``T`` times
    less policy work per step. ``exact_planning=True`` plans at every step instead,
    the answer of an agent that replans after each observation. A ``config`` given is
    used as it is.
    """
    model = model if model is not None else displacement_model(radius, preference=preference)
    if config is None:
        plan_every = 1 if exact_planning else model.policy_len
        config = _kind_config(plan_every)
    return AgentKind(
        name=name,
        model=model,
        observer=observer,
        target=target,
        capabilities=tuple(float(c) for c in capabilities),
        config=config,
        drives=drives,
    )


def builtin_kinds(radius: int = 4) -> dict[str, AgentKind]:
    """The original system's kinds: explorer, resource collector, coalition coordinator.

    Capabilities are ``(exploring, collecting, coordinating)``.
    """
    return {
        "explorer": define_kind(
            "explorer",
            target="waypoint",
            capabilities=(1.0, 0.2, 0.0),
            radius=radius,
            drives=Drives(novelty=2.0, forage=0.5, hungry=2),
        ),
        "collector": define_kind(
            "collector",
            target="resource",
            capabilities=(0.2, 1.0, 0.0),
            radius=radius,
            preference=0.0,
            drives=Drives(novelty=0.5, pull=0.0, forage=0.5, hunger=(8.0, 6.0, 4.0, 0.0), hungry=3),
        ),
        "coordinator": define_kind(
            "coordinator",
            target="coalition",
            capabilities=(0.3, 0.3, 1.0),
            radius=radius,
            drives=Drives(novelty=1.0),
        ),
    }


def kind_capabilities(kinds: list[AgentKind], width: int) -> np.ndarray:
    """Capability rows ``(len(kinds), width)``, zero-padded."""
    out = np.zeros((len(kinds), width))
    for i, kind in enumerate(kinds):
        out[i, : len(kind.capabilities)] = kind.capabilities
    return out
