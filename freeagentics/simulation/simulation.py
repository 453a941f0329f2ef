"""A simulation: world + population + coalitions + knowledge graph, one tick at a time.

Stages of a tick (each timed in ``TickEvents.timings``):

1. ``observe`` — each agent's compass reading towards its target (coalition
   objective for members; else its kind's target), or the cell under it;
2. ``inference`` — every kind's cohort perceives, plans and acts (one batch per kind);
   kinds with drives add what touches them, their visit memory and their energy
   (:mod:`freeagentics.agents.drives`), and after the world step feel which of their
   moves were refused;
3. ``world`` — the grid world applies all moves at once; the activity tracker folds
   in who moved, who is alive and who is stuck (``TickEvents.activity``);
4. ``coalitions`` — re-formation every ``reform_every`` ticks; members' preferences
   follow their coalition's objective;
5. ``metrics`` — per-agent metrics, every ``metrics_every`` ticks (and on knowledge
   ticks);
6. ``knowledge`` — every ``knowledge_every`` ticks the graph folds in agents'
   summaries, resource sightings and memberships;
7. ``history`` — the belief-history ring;
8. ``events`` — the tick's event batch handed to subscribers through their bounded
   queues.

A :attr:`Simulation.controller` (see :mod:`freeagentics.simulation.baselines`), when
set, decides every agent's move in place of stage 2: baselines run on the same world.

Everything random draws from generators spawned from ``config.seed``: the same seed
gives the same trajectory, and :meth:`checkpoint` / :meth:`restore` continue it
exactly, in another process too.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

from freeagentics.agents.drives import energy_levels
from freeagentics.agents.kinds import AgentKind, builtin_kinds, kind_capabilities
from freeagentics.agents.population import Population
from freeagentics.coalitions import (
    CoalitionManager,
    GreedyFormation,
    GridClustering,
    Objective,
    OptimalAssignment,
)
from freeagentics.errors import ConfigurationError
from freeagentics.knowledge import InMemoryKnowledgeGraph, KnowledgeUpdater, Sightings
from freeagentics.models.builders import COMPASS_OUTCOMES, compass_of
from freeagentics.simulation._activity import ActivityTracker
from freeagentics.simulation._config import ObjectiveSpec, SimulationConfig
from freeagentics.simulation._events import EventBus, TickEvents
from freeagentics.simulation._rows import AgentRows, GroupInputs, LocalAgents
from freeagentics.simulation._simulation_state import (
    load_simulation_state,
    setup_of,
    simulation_state,
)
from freeagentics.simulation._targets import ResourceIndex, coalition_centres, redraw_waypoints
from freeagentics.state import MAGIC, CheckpointError, State, decode, encode
from freeagentics.worlds import Cell, GridWorld, Move

__all__ = ["CHECKPOINT_FORMAT", "Simulation"]

CHECKPOINT_FORMAT = MAGIC
CHECKPOINT_KIND = "simulation"
_HERE = COMPASS_OUTCOMES.index("here")


class _TickView(NamedTuple):
    """The world as the agents' inputs read it at the start of a tick."""

    positions: np.ndarray  # (C, 2) per world slot
    agent_positions: np.ndarray  # (N, 2) in id order
    membership: np.ndarray  # (N,) coalition or -1
    objective_target: np.ndarray  # (N, 2) cell of the coalition's objective, or -1
    energy: np.ndarray  # (C,)
    world_obs: np.ndarray | None  # (C, cells) codes, when a kind observes cells
    contact: np.ndarray | None  # (C, 5) codes, when a kind has drives


class Simulation:
    """Run a scenario; see the module docstring for what one tick does.

    Args:
        config: the scenario.
        kinds: extra agent kinds, or replacements for built-in ones of the same name.
    """

    def __init__(
        self, config: SimulationConfig | None = None, kinds: list[AgentKind] | None = None
    ):
        self.config = config = config or SimulationConfig()
        available = builtin_kinds(config.radius)
        for kind in kinds or []:
            available[kind.name] = kind
        unknown = sorted(set(config.agents) - set(available))
        if unknown:
            raise ConfigurationError(
                f"agents names unknown kind(s) {unknown}; kinds are {sorted(available)}"
            )
        used = [available[name] for name in available if name in config.agents]
        seeds = np.random.SeedSequence(config.seed).spawn(4)
        self.world = GridWorld(config.world, seed=int(seeds[0].generate_state(1)[0]))
        self.population = Population(used, np.random.default_rng(seeds[1]), config.history)
        self._rng = np.random.default_rng(seeds[2])
        self._capability_rows = kind_capabilities(used, max(len(k.capabilities) for k in used))
        start = 0
        for kind in used:
            count = config.agents[kind.name]
            self.population.add(kind.name, np.arange(start, start + count))
            start += count
        self.tick = 0
        self._waypoints = {
            g.code: self.world.positions[g.slots].astype(np.int32) for g in self.population.groups
        }
        self._resources: ResourceIndex | None = None
        self._resources_built = -1
        self._resource_targets: dict[int, tuple[int, np.ndarray]] = {}
        # per driven group: (index build, (n, 2) nearest food, (n,) rows it was looked up for)
        self._hungry_targets: dict[int, tuple[int, np.ndarray, np.ndarray]] = {}
        self.coalitions = self._make_coalitions(np.random.default_rng(seeds[3]))
        self.knowledge = InMemoryKnowledgeGraph(max_nodes=config.knowledge_max_nodes)
        self._updater = self._make_updater()
        self.metrics: dict[str, np.ndarray] = {}
        self._metrics_tick = -1  # tick the metrics were computed at
        self.last_timings: dict[str, float] = {}
        self.activity = ActivityTracker(config.stuck_ticks)
        #: decides every agent's move instead of the agents' inference when set: an
        #: object with ``decide(sim) -> (n_slots,) int64`` world moves
        self.controller = None
        self.bus = EventBus()
        self._pause = threading.Event()
        #: where the agents' rows are stepped: here, or in shard actors
        #: (:mod:`freeagentics.hosts.shards`)
        self.agent_rows: AgentRows = LocalAgents(self.population, config.coalitions.strength)

    # ------------------------------------------------------------------ set-up helpers
    def _make_coalitions(self, rng: np.random.Generator) -> CoalitionManager:
        settings = self.config.coalitions
        strategy = {
            "greedy": GreedyFormation,
            "optimal": OptimalAssignment,
            "grid": lambda: GridClustering(
                cell_size=max(4, 2 * self.config.radius), max_size=settings.objective_capacity
            ),
        }[settings.strategy]()
        manager = CoalitionManager(
            strategy,
            num_outcomes=len(COMPASS_OUTCOMES),
            num_capabilities=self._capability_rows.shape[1],
            num_agents=self.population.n,
            reform_every=settings.reform_every,
            strength=settings.strength,
            history=settings.history,
            rng=rng,
        )
        bias = np.zeros(len(COMPASS_OUTCOMES))
        bias[_HERE] = 1.0
        specs = list(settings.objectives)
        if settings.auto_objectives:
            richest = np.argsort(self.world.resources.sum(axis=0), axis=None)[::-1][
                : settings.auto_objectives
            ]
            rows, cols = np.divmod(richest, self.world.shape[1])
            specs += [
                ObjectiveSpec(target=(int(r), int(c)), capacity=settings.objective_capacity)
                for r, c in zip(rows, cols, strict=True)
            ]
        for i, spec in enumerate(specs):
            manager.add_objective(
                Objective(
                    id=i,
                    kind=spec.kind,
                    target=tuple(float(x) for x in spec.target),
                    required=spec.required,
                    capacity=spec.capacity,
                    priority=spec.priority,
                ),
                bias,
            )
        return manager

    def _make_updater(self) -> KnowledgeUpdater:
        names = tuple(r.name for r in self.config.world.resources)
        return KnowledgeUpdater(
            self.knowledge, kind_names=self.population.kind_names, resource_names=names
        )

    @property
    def knowledge_tick(self) -> int | None:
        """The tick the knowledge graph reflects: its last fold (``None`` before the first)."""
        return self._updater.last_tick

    # ------------------------------------------------------------------ population changes
    def add_agents(self, kind: str, count: int) -> np.ndarray:
        """Add ``count`` agents of ``kind`` on free cells while running; returns their ids."""
        if count < 1:
            raise ConfigurationError(f"count must be >= 1, got {count}")
        self.agent_rows.check_resizable()
        group = self.population.group(kind)
        slots = self.world.add_agents(count)
        self.activity.forget(slots)
        ids = self.population.add(kind, slots)
        self._waypoints[group.code] = np.concatenate(
            [self._waypoints[group.code], self.world.positions[slots].astype(np.int32)]
        )
        self.coalitions.on_agents_added(count)
        self._resource_targets.clear()
        self._hungry_targets.clear()
        return ids

    def remove_agents(self, ids) -> None:
        """Remove agents by id (unknown ids raise and change nothing)."""
        ids = np.unique(np.asarray(ids, dtype=np.int64))
        self.agent_rows.check_resizable()
        located = self.population.locate(ids)
        rows = np.searchsorted(self.population.ids, ids)
        for g, group_rows, _ in located:
            keep = np.ones(g.n, bool)
            keep[group_rows] = False
            self._waypoints[g.code] = self._waypoints[g.code][keep]
        slots = self.population.remove(ids)
        self.world.remove_agents(slots)
        self.coalitions.on_agents_removed(rows, self.tick)
        self._resource_targets.clear()
        self._hungry_targets.clear()
        self._apply_preferences()

    # ------------------------------------------------------------------ the tick
    def step(self) -> TickEvents:
        """Advance one tick and return its event batch (also published on :attr:`bus`)."""
        timings: dict[str, float] = {}
        clock = time.perf_counter()

        def lap(stage: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            timings[stage] = timings.get(stage, 0.0) + now - clock
            clock = now

        positions = self.world.positions
        ids = self.population.ids
        agent_positions = positions[self.population.slots()]  # (N, 2) in id order
        membership = self.coalitions.state.membership
        objective_target = self._objective_targets()
        driven = any(g.kind.drives is not None for g in self.population.groups if g.n)
        need_resources = any(
            g.kind.target == "resource" or g.kind.drives is not None
            for g in self.population.groups
            if g.n
        )
        if need_resources and (
            self._resources is None or self.tick % self.config.resource_index_every == 0
        ):
            self._resources = ResourceIndex(self.world.resources, occupied=agent_positions)
            self._resources_built = self.tick
        world_obs = (
            self.world.observe()
            if any(g.kind.observer == "cell" for g in self.population.groups)
            else None
        )
        contact = self.world.contact() if driven and self.controller is None else None
        energy = self.world.energy
        lap("observe")
        actions = np.full(self.world.n_slots, int(Move.STAY), dtype=np.int64)
        if self.controller is None:
            # every kind's inputs first (the coordinator's work), then the agents' own
            view = _TickView(
                positions, agent_positions, membership, objective_target, energy, world_obs, contact
            )
            groups = [g for g in self.population.groups if g.n]
            inputs = [self._inputs(g, view) for g in groups]
            lap("observe")
            for g, moves in zip(groups, self.agent_rows.act(groups, inputs), strict=True):
                actions[g.slots] = moves
            lap("inference")
        else:
            actions = np.asarray(self.controller.decide(self), dtype=np.int64)
            lap("inference")
        result = self.world.step(actions)
        self.tick += 1
        activity = self.activity.update(
            result.moved, self.world.active, result.energy, float(result.collected.sum())
        )
        lap("world")
        self._sense_own_moves(actions, result.moved)
        lap("inference")
        changes = self.coalitions.maybe_reform(
            self.tick, self.world.positions[self.population.slots()], self._capabilities()
        )
        if changes is not None:
            self._apply_preferences()
        lap("coalitions")
        if (
            self.tick % self.config.metrics_every == 0
            or self.tick % self.config.knowledge_every == 0
        ):
            self.metrics = self._collect_metrics()
            self._metrics_tick = self.tick
        lap("metrics")
        if self.tick % self.config.knowledge_every == 0:
            self._update_knowledge(result.energy)
        lap("knowledge")
        self.agent_rows.record_history(self.tick)
        lap("history")
        slots = self.population.slots()
        events = TickEvents(
            tick=self.tick,
            kind_names=self.population.kind_names,
            ids=ids,
            kinds=self.population.kinds(),
            positions=self.world.positions[slots],
            actions=actions[slots],
            energy=result.energy[slots],
            coalition=self.coalitions.state.membership.copy(),
            metrics=self.metrics,
            metrics_tick=self._metrics_tick,
            coalition_events=changes._asdict() if changes is not None else {},
            timings=timings,
            activity=activity,
        )
        self.bus.publish(events)
        lap("events")
        self.last_timings = timings
        return events

    def _inputs(self, g, view: _TickView) -> GroupInputs:
        """What group ``g``'s agents perceive this tick: the cell under them, or their
        compass reading towards their target, and what their drives need."""
        if g.kind.observer == "cell":
            return GroupInputs(view.world_obs[g.slots, :1].astype(np.int64))
        index = np.searchsorted(self.population.ids, g.ids)
        pos = view.positions[g.slots]
        drives = g.kind.drives
        target = self._targets(g, pos, view.membership[index], view.agent_positions)
        member_target = view.objective_target[index]
        has_objective = member_target[:, 0] >= 0
        extra = {}
        if drives is not None:
            level = energy_levels(
                view.energy[g.slots], np.multiply(drives.levels, self.config.world.initial_energy)
            )
            food = self._food_targets(g, pos, target, level <= drives.hungry)
            food &= ~has_objective
            extra = dict(
                contact=view.contact[g.slots],
                positions=pos,
                level=level,
                food=food,
                objective=has_objective,
            )
        target[has_objective] = member_target[has_objective]
        obs = compass_of(target[:, 0] - pos[:, 0], target[:, 1] - pos[:, 1])[:, None]
        return GroupInputs(obs, **extra)

    def _targets(
        self, g, pos: np.ndarray, membership: np.ndarray, all_positions: np.ndarray
    ) -> np.ndarray:
        """Target cell of each agent of group ``g`` by its kind's rule ``(n, 2)``."""
        rule = g.kind.target
        if rule == "resource":
            # nearest resource, looked up again whenever the index is rebuilt
            cached = self._resource_targets.get(g.code)
            if cached is None or cached[0] != self._resources_built or len(cached[1]) != len(pos):
                cached = (self._resources_built, self._resources.nearest(pos))
                self._resource_targets[g.code] = cached
            return cached[1].copy()
        if rule == "coalition":
            centres = coalition_centres(self.coalitions.state.membership, all_positions)
            own = centres[np.searchsorted(self.population.ids, g.ids)]
            alone = membership < 0
            own[alone] = self._waypoint_targets(g, pos)[alone]
            return own
        if rule == "waypoint":
            return self._waypoint_targets(g, pos)
        return pos.astype(np.int32, copy=True)

    def _waypoint_targets(self, g, pos: np.ndarray) -> np.ndarray:
        self._waypoints[g.code] = redraw_waypoints(
            self._waypoints[g.code],
            pos,
            self.world.shape,
            self.config.waypoint_range,
            self._rng,
            walls=self.world.walls,
        )
        return self._waypoints[g.code].copy()

    def _food_targets(
        self, g, pos: np.ndarray, target: np.ndarray, hungry: np.ndarray
    ) -> np.ndarray:
        """Where the compass points at food ``(n,)`` bool; ``target`` is updated in place.

        Collectors always look for food; agents of other driven kinds do while hungry,
        with the nearest food looked up for the agents hungry when the index was last
        rebuilt (one query per rebuild, not per tick).
        """
        if self._resources is None or not len(self._resources.cells):
            return np.zeros(g.n, bool)  # no food anywhere: the compass cannot promise any
        if g.kind.target == "resource":
            return np.ones(g.n, bool)
        cached = self._hungry_targets.get(g.code)
        if cached is None or cached[0] != self._resources_built or len(cached[2]) != g.n:
            looked_up = hungry.copy()
            nearest = np.zeros((g.n, 2), np.int32)
            nearest[looked_up] = self._resources.nearest(pos[looked_up])
            cached = (self._resources_built, nearest, looked_up)
            self._hungry_targets[g.code] = cached
        food = hungry & cached[2]
        target[food] = cached[1][food]
        return food

    def _sense_own_moves(self, actions: np.ndarray, moved: np.ndarray) -> None:
        """Proprioception and memory of driven agents after the world moved them.

        A move the world refused (a wall, a contested cell) is felt as staying: the
        agent's next prior follows where it is, not where it tried to go. Its visit
        memory (counted as it plans) fades: one agent in ``forget_every`` halves its
        counts each tick.
        """
        if self.controller is not None:
            return  # the cohorts did not choose these moves
        stay = int(Move.STAY)
        groups = [g for g in self.population.groups if g.n and g.kind.drives is not None]
        if groups:
            refused = [(actions[g.slots] != stay) & ~moved[g.slots] for g in groups]
            self.agent_rows.sense(groups, refused, self.tick)

    def _objective_targets(self) -> np.ndarray:
        """Per agent (id order) the cell of its coalition's objective, or (-1, -1)."""
        st = self.coalitions.state
        out = np.full((st.num_agents, 2), -1, dtype=np.int32)
        rows = st.membership_rows()
        member = rows >= 0
        if member.any() and len(self.coalitions.objectives.ids):
            objective = st.objective[rows[member]]
            has = objective >= 0
            targets = self.coalitions.objectives.targets[
                self.coalitions.objectives.rows_of(objective[has])
            ]
            picked = np.flatnonzero(member)[has]
            out[picked] = np.rint(targets).astype(np.int32)
        return out

    def _capabilities(self) -> np.ndarray:
        return self._capability_rows[self.population.kinds()]

    def _apply_preferences(self) -> None:
        """Members of a coalition with an objective prefer reaching it more."""
        ids = self.population.ids
        base = np.zeros((ids.size, len(COMPASS_OUTCOMES)))
        compass_groups = [g for g in self.population.groups if g.kind.observer == "compass" and g.n]
        for g in compass_groups:
            base[np.searchsorted(ids, g.ids)] = g.kind.model.C[0]
        prefs = self.coalitions.preferences(base)
        for g in compass_groups:
            self.agent_rows.set_preferences(g, prefs[np.searchsorted(ids, g.ids)])

    def _collect_metrics(self) -> dict[str, np.ndarray]:
        groups = [g for g in self.population.groups if g.n]
        per_group = list(self.agent_rows.metrics(groups).items())
        if not per_group:
            return {}
        names = per_group[0][1].keys()
        return {
            name: self.population.gather(
                {code: m[name].astype(np.float32) for code, m in per_group}
            )
            for name in names
        }

    def _update_knowledge(self, energy: np.ndarray) -> None:
        slots = self.population.slots()
        positions = self.world.positions[slots]
        codes = self.world.observe()[slots]
        seen_rows, seen_cell = np.nonzero(codes >= int(Cell.RESOURCE))
        cells = positions[seen_rows] + self.world.observation_offsets[seen_cell]
        sightings = Sightings(
            rows=seen_rows,
            cells=cells[:, 0].astype(np.int64) * self.world.shape[1] + cells[:, 1],
            codes=codes[seen_rows, seen_cell] - int(Cell.RESOURCE),
        )
        self._updater.ingest(
            self.tick,
            agent_ids=self.population.ids,
            agent_kinds=self.population.kinds(),
            positions=positions,
            belief_entropy=self.metrics.get("belief_entropy", np.zeros(slots.size, np.float32)),
            energy=energy[slots],
            coalition=self.coalitions.state.membership,
            discoveries=sightings,
        )

    # ------------------------------------------------------------------ running
    def run(self, ticks: int, on_tick=None) -> int:
        """Step up to ``ticks`` times, stopping early when :meth:`pause` is called.

        ``on_tick(events)`` is called after each tick on this thread. Returns the
        number of ticks run.
        """
        if ticks < 0:
            raise ConfigurationError(f"ticks must be >= 0, got {ticks}")
        done = 0
        while done < ticks and not self._pause.is_set():
            events = self.step()
            done += 1
            if on_tick is not None:
                on_tick(events)
        return done

    def pause(self) -> None:
        """Ask :meth:`run` to stop after the tick in progress (safe from any thread)."""
        self._pause.set()

    def resume(self) -> None:
        self._pause.clear()

    @property
    def paused(self) -> bool:
        return self._pause.is_set()

    # ------------------------------------------------------------------ checkpoints
    def export_state(self) -> State:
        """Everything needed to continue exactly from this tick, as arrays and JSON.

        Subscribers of :attr:`bus` belong to the running process and are not part of it.
        """
        return simulation_state(self)

    @classmethod
    def from_state(cls, state: State) -> Simulation:
        """The simulation that :meth:`export_state` described, ready to continue."""
        config, kinds = setup_of(state)
        sim = cls(config, kinds=kinds)
        load_simulation_state(sim, state)
        return sim

    def to_checkpoint(self, key: bytes | None = None) -> bytes:
        """Checkpoint bytes (see :mod:`freeagentics.state`): HMAC-SHA256 under ``key``.

        Without ``key`` the file carries a plain SHA-256: corruption is detected, but
        anyone could have written it. Reading never runs code either way. Events still
        queued for subscribers are not part of the state.
        """
        return encode(self.export_state(), CHECKPOINT_KIND, key)

    @classmethod
    def from_checkpoint(cls, data: bytes, key: bytes | None = None) -> Simulation:
        """Continue from :meth:`to_checkpoint` bytes, checked under ``key`` before parsing.

        Raises:
            CheckpointError: not a checkpoint, the old pickle format, another key,
                altered bytes, or missing or malformed state.
        """
        state = decode(data, CHECKPOINT_KIND, key)
        try:
            return cls.from_state(state)
        except CheckpointError:
            raise
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            # only reachable by a file its digest vouches for: a writer's bug, or an
            # unkeyed file made by hand
            raise CheckpointError(f"checkpoint state is malformed: {exc}") from None

    def checkpoint(self, path: str | Path, key: bytes | None = None) -> Path:
        """Write :meth:`to_checkpoint` to ``path`` (atomically), once subscribers have
        caught up (up to 10 s); returns the path."""
        self.bus.flush(timeout=10)
        path = Path(path)
        data = self.to_checkpoint(key)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)  # never leave a half-written checkpoint under the real name
        return path

    @classmethod
    def restore(cls, path: str | Path, key: bytes | None = None) -> Simulation:
        """Continue from a checkpoint file written by :meth:`checkpoint` with the same key."""
        return cls.from_checkpoint(Path(path).read_bytes(), key)
