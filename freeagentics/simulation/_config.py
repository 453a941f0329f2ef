"""The settings of a simulation (a scenario), validated on construction."""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Integral

from freeagentics._checks import whole_number_at_least
from freeagentics.errors import ConfigurationError
from freeagentics.worlds import GridWorldConfig

__all__ = ["CoalitionSettings", "ObjectiveSpec", "SimulationConfig"]

STRATEGIES = ("greedy", "optimal", "grid")
#: the activity tracker keeps this many moving fractions at most (4 bytes each)
MAX_STUCK_TICKS = 1_000_000


def _number_at_least(name: str, value, low) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < low:
        raise ConfigurationError(f"{name} must be a number >= {low}, got {value!r}")


def _set_whole_number(config: object, field_name: str, low: int, name: str | None = None) -> None:
    """Check a frozen dataclass's whole-number field and store it as a plain ``int``."""
    value = whole_number_at_least(name or field_name, getattr(config, field_name), low)
    object.__setattr__(config, field_name, value)


@dataclass(frozen=True)
class ObjectiveSpec:
    """A coalition objective: go to ``target`` (row, col) with up to ``capacity`` agents."""

    target: tuple[int, int]
    capacity: int = 10
    priority: float = 0.0
    kind: str = "reach_cell"
    required: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if len(self.target) != 2 or not all(
            isinstance(x, Integral) and not isinstance(x, bool) and x >= 0 for x in self.target
        ):
            raise ConfigurationError(
                f"objective target must be (row, col) whole numbers >= 0, got {self.target!r}"
            )
        _set_whole_number(self, "capacity", 1, "objective capacity")


@dataclass(frozen=True)
class CoalitionSettings:
    """How coalitions form: a strategy, a cadence, objectives and their pull on preferences.

    ``auto_objectives`` adds that many objectives at the richest resource cells when
    the simulation starts; ``strength`` is added to members' preference for "here"
    (reaching their objective).
    """

    strategy: str = "greedy"
    reform_every: int = 10
    strength: float = 4.0
    objectives: tuple[ObjectiveSpec, ...] = ()
    auto_objectives: int = 0
    objective_capacity: int = 10
    history: int = 4096

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ConfigurationError(
                f"coalitions.strategy must be one of {STRATEGIES}, got {self.strategy!r}"
            )
        _number_at_least("coalitions.strength", self.strength, 0)
        for name, low in (
            ("reform_every", 1),
            ("auto_objectives", 0),
            ("objective_capacity", 1),
            ("history", 1),
        ):
            _set_whole_number(self, name, low, f"coalitions.{name}")


@dataclass(frozen=True)
class SimulationConfig:
    """World, population and the cadence of everything around inference.

    ``agents`` maps kind names to initial counts (kinds: explorer, collector,
    coordinator, or ones registered on the simulation). ``stuck_ticks``: an alive agent
    that has not changed cell for this many ticks counts as stuck, and the world is
    frozen when hardly anybody moved over this many ticks (``TickEvents.activity``).
    """

    world: GridWorldConfig = field(default_factory=GridWorldConfig)
    agents: dict[str, int] = field(
        default_factory=lambda: {"explorer": 4, "collector": 3, "coordinator": 1}
    )
    seed: int = 0
    radius: int = 4
    history: int = 4
    coalitions: CoalitionSettings = field(default_factory=CoalitionSettings)
    knowledge_every: int = 10
    knowledge_max_nodes: int = 250_000
    metrics_every: int = 1
    waypoint_range: int = 16
    resource_index_every: int = 5
    stuck_ticks: int = 50

    def __post_init__(self) -> None:
        if not isinstance(self.agents, dict) or not self.agents:
            raise ConfigurationError("agents must map kind names to counts, e.g. {'explorer': 10}")
        agents = {
            kind: whole_number_at_least(f"agents.{kind}", n, 0) for kind, n in self.agents.items()
        }
        object.__setattr__(self, "agents", agents)
        total = sum(self.agents.values())
        if total < 1:
            raise ConfigurationError(
                f"agents must hold at least one agent in all, got {self.agents}"
            )
        cells = self.world.height * self.world.width
        if total > cells:
            raise ConfigurationError(
                f"agents: {total} agents do not fit a "
                f"{self.world.height} x {self.world.width} world"
            )
        for spec in self.coalitions.objectives:
            if spec.target[0] >= self.world.height or spec.target[1] >= self.world.width:
                raise ConfigurationError(
                    f"coalitions.objectives: target {spec.target} lies outside the "
                    f"{self.world.height} x {self.world.width} world"
                )
        if total != self.world.n_agents:
            object.__setattr__(self, "world", _with_agents(self.world, total))
        for name, low in (
            ("radius", 1),
            ("history", 1),
            ("knowledge_every", 1),
            ("metrics_every", 1),
            ("waypoint_range", 1),
            ("resource_index_every", 1),
            ("stuck_ticks", 1),
            ("knowledge_max_nodes", 16),
        ):
            _set_whole_number(self, name, low)
        if self.stuck_ticks > MAX_STUCK_TICKS:
            raise ConfigurationError(
                f"stuck_ticks must be at most {MAX_STUCK_TICKS}, got {self.stuck_ticks}"
            )
        _set_whole_number(self, "seed", 0)

    @property
    def n_agents(self) -> int:
        return sum(self.agents.values())


def _with_agents(world: GridWorldConfig, n: int) -> GridWorldConfig:
    from dataclasses import replace

    return replace(world, n_agents=n)
