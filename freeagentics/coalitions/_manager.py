"""The coalition manager: owns the state, re-forms on schedule, keeps it consistent."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from freeagentics._checks import whole_number_at_least
from freeagentics.coalitions._codes import CoalitionStatus, EventKind, Role
from freeagentics.coalitions._events import CoalitionEvents, EventLog
from freeagentics.coalitions._formation import FormationStrategy, check_formation_inputs
from freeagentics.coalitions._leaders import elect_leaders
from freeagentics.coalitions._manager_state import load_manager_state, manager_state
from freeagentics.coalitions._objectives import Objective, ObjectiveSet
from freeagentics.coalitions._preferences import apply_objective_preferences
from freeagentics.coalitions._state import CoalitionState
from freeagentics.errors import ConfigurationError, UnknownIdError
from freeagentics.state import State

__all__ = ["CoalitionManager", "EventSubscriber"]

EventSubscriber = Callable[[CoalitionEvents], None]


class CoalitionManager:
    """Coalitions of a population of ``N`` agents, re-formed every ``reform_every`` ticks.

    A re-formation asks ``strategy`` for fresh groups, drops groups under
    ``min_size``, and keeps coalition ids stable where it can: a group staffing an
    objective continues that objective's active coalition; a group without an
    objective continues the objective-free coalition it shares the most members with
    when that choice is mutual. Everything else is dissolved or newly formed. Each
    change is reported as a :class:`CoalitionEvents` batch, returned, passed to every
    subscriber and kept in a bounded :class:`EventLog` of ``history`` events.

    Agent removal follows ``np.delete``: rows above a removed index shift down.
    Events always name agents by their index at the time of the event.

    Args:
        strategy: how groups are formed.
        num_outcomes: ``O``, length of the log-preference vectors.
        num_capabilities: ``K``, columns of the capability matrix.
        num_agents: initial ``N``.
        reform_every: ticks between re-formations (the first call always re-forms).
        min_size: smallest coalition kept; a coalition shrinking below it dissolves.
        strength: scale of objective biases added to members' preferences.
        history: events kept in the ring buffer.
        rng: seed or generator handed to the strategy.
    """

    def __init__(
        self,
        strategy: FormationStrategy,
        *,
        num_outcomes: int,
        num_capabilities: int,
        num_agents: int = 0,
        reform_every: int = 10,
        min_size: int = 1,
        strength: float = 1.0,
        history: int = 4096,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        if not isinstance(strategy, FormationStrategy):
            raise ConfigurationError(
                f"strategy must implement FormationStrategy.form, got {type(strategy).__name__}"
            )
        if not (isinstance(strength, int | float) and math.isfinite(strength)):
            raise ConfigurationError(f"strength must be a finite number, got {strength!r}")
        self.strategy = strategy
        self.num_outcomes = whole_number_at_least("num_outcomes", num_outcomes, 1)
        self.num_capabilities = whole_number_at_least("num_capabilities", num_capabilities, 0)
        self.reform_every = whole_number_at_least("reform_every", reform_every, 1)
        self.min_size = whole_number_at_least("min_size", min_size, 1)
        self.strength = float(strength)
        self.history = EventLog(history)
        self._state = CoalitionState(whole_number_at_least("num_agents", num_agents, 0))
        self._leader_score = np.zeros(self._state.num_agents, dtype=np.float64)
        self._rng = np.random.default_rng(rng)
        self._objectives: list[Objective] = []
        self._biases: list[np.ndarray] = []
        self._objective_set: ObjectiveSet | None = None
        self._next_reform: int | None = None
        self._subscribers: list[EventSubscriber] = []

    # ------------------------------------------------------------------ checkpoints

    def export_state(self) -> State:
        """Everything that evolves: table, event log, objectives, schedule, generator."""
        return manager_state(self)

    def import_state(self, state: State) -> None:
        """Continue from a :meth:`export_state` of a manager built with the same settings."""
        load_manager_state(self, state)

    # ------------------------------------------------------------------ accessors

    @property
    def state(self) -> CoalitionState:
        """The live :class:`CoalitionState` (treat as read-only)."""
        return self._state

    @property
    def objectives(self) -> ObjectiveSet:
        """The current objectives as an :class:`ObjectiveSet`, rows in insertion order."""
        if self._objective_set is None:
            self._objective_set = ObjectiveSet(self._objectives, self.num_capabilities)
        return self._objective_set

    @property
    def objective_bias(self) -> np.ndarray:
        """``(M, O)`` float64 preference bias of each objective row."""
        if not self._biases:
            return np.zeros((0, self.num_outcomes), dtype=np.float64)
        return np.stack(self._biases)

    def subscribe(self, callback: EventSubscriber) -> None:
        """Call ``callback(events)`` with every non-empty event batch."""
        self._subscribers.append(callback)

    def unsubscribe(self, callback: EventSubscriber) -> None:
        """Stop calling ``callback``; raises :class:`UnknownIdError` if it was not subscribed."""
        if callback not in self._subscribers:
            raise UnknownIdError(f"callback {callback!r} is not subscribed")
        self._subscribers.remove(callback)

    def _emit(self, batches: list[CoalitionEvents]) -> CoalitionEvents:
        events = CoalitionEvents.concat(batches)
        if len(events):
            self.history.append(events)
            for callback in tuple(self._subscribers):
                callback(events)
        return events

    # ---------------------------------------------------------------- objectives

    def add_objective(
        self, objective: Objective, preference_bias: np.ndarray | None = None
    ) -> None:
        """Register an objective; members of its coalition get ``strength * preference_bias``.

        Args:
            objective: the objective; its id must be new.
            preference_bias: ``(O,)`` log-preference bias, ``None`` = zeros.
        """
        if not isinstance(objective, Objective):
            raise ConfigurationError(f"objective must be an Objective, got {objective!r}")
        if any(o.id == objective.id for o in self._objectives):
            raise ConfigurationError(f"objective id must be unique, {objective.id} exists")
        if objective.required and len(objective.required) != self.num_capabilities:
            raise ConfigurationError(
                f"objective.required must have num_capabilities={self.num_capabilities} levels, "
                f"got {len(objective.required)}"
            )
        if preference_bias is None:
            bias = np.zeros(self.num_outcomes, dtype=np.float64)
        else:
            bias = np.array(preference_bias, dtype=np.float64)
            if bias.shape != (self.num_outcomes,) or not np.all(np.isfinite(bias)):
                raise ConfigurationError(
                    f"preference_bias must be finite with shape ({self.num_outcomes},), "
                    f"got {bias.shape}"
                )
        self._objectives.append(objective)
        self._biases.append(bias)
        self._objective_set = None

    def complete_objective(self, objective_id: int, tick: int) -> CoalitionEvents:
        """Remove an objective (completed or withdrawn) and dissolve its coalition.

        Raises:
            UnknownIdError: no such objective.
        """
        row = int(self.objectives.rows_of(objective_id)[0])
        st = self._state
        rows = np.flatnonzero(
            (st.objective == objective_id) & (st.status == CoalitionStatus.ACTIVE)
        )
        events = self._emit([self._dissolve_rows(rows, tick)])
        del self._objectives[row]
        del self._biases[row]
        self._objective_set = None
        return events

    # ---------------------------------------------------------------- dissolution

    def dissolve(self, coalition_id: int, tick: int) -> CoalitionEvents:
        """Dissolve one coalition now; a no-op (empty batch) if it is already dissolved.

        Raises:
            UnknownIdError: the id is not in the table.
        """
        rows = self._state.rows_of(coalition_id)
        rows = rows[self._state.status[rows] == CoalitionStatus.ACTIVE]
        return self._emit([self._dissolve_rows(rows, tick)])

    def _dissolve_rows(self, rows: np.ndarray, tick: int) -> CoalitionEvents:
        """Mark table ``rows`` dissolved, free their members; returns LEAVE then DISSOLVE events."""
        st = self._state
        if rows.size == 0:
            return CoalitionEvents.empty()
        ids = st.ids[rows]
        leaving = np.flatnonzero(np.isin(st.membership, ids))
        leave = CoalitionEvents.build(
            tick, np.full(leaving.size, EventKind.LEAVE), leaving, st.membership[leaving]
        )
        st.membership[leaving] = -1
        st.role[leaving] = Role.NONE
        st.status[rows] = CoalitionStatus.DISSOLVED
        st.size[rows] = 0
        st.leader[rows] = -1
        gone = CoalitionEvents.build(
            tick, np.full(ids.size, EventKind.DISSOLVE), -np.ones_like(ids), ids
        )
        return CoalitionEvents.concat([leave, gone])

    # ----------------------------------------------------------------- population

    def on_agents_added(self, count: int) -> None:
        """Grow ``N`` by ``count`` agents, appended in no coalition."""
        count = whole_number_at_least("count", count, 0)
        self._state.add_agents(count)
        self._leader_score = np.concatenate([self._leader_score, np.zeros(count)])

    def on_agents_removed(self, indices: np.ndarray, tick: int) -> CoalitionEvents:
        """Delete agent rows (``np.delete`` semantics) and repair the coalitions they left.

        Removed members LEAVE; a coalition that loses its leader promotes the remaining
        member with the best leader score (then lowest index); one left under
        ``min_size`` dissolves. Events name agents by their index before the removal.

        Args:
            indices: ``(r,)`` int agent indices to remove (duplicates allowed).

        Raises:
            UnknownIdError: an index is outside ``[0, N)``.
        """
        st = self._state
        idx = np.unique(np.asarray(indices, dtype=np.int64).ravel())
        if idx.size and (idx[0] < 0 or idx[-1] >= st.num_agents):
            bad = idx[0] if idx[0] < 0 else idx[-1]
            raise UnknownIdError(f"unknown agent index {int(bad)} (N={st.num_agents})")
        members = idx[st.membership[idx] >= 0]
        old_ids = st.membership[members]
        batches = [
            CoalitionEvents.build(tick, np.full(members.size, EventKind.LEAVE), members, old_ids)
        ]
        rows = st.rows_of(old_ids) if members.size else np.empty(0, np.int64)
        st.size -= np.bincount(rows, minlength=st.num_coalitions).astype(np.int64)
        st.membership[idx] = -1
        st.role[idx] = Role.NONE
        active = st.status == CoalitionStatus.ACTIVE
        batches.append(
            self._dissolve_rows(np.flatnonzero(active & (st.size < self.min_size)), tick)
        )
        self._promote_leaders(idx)
        keep = np.ones(st.num_agents, dtype=bool)
        keep[idx] = False
        st.membership = st.membership[keep]
        st.role = st.role[keep]
        self._leader_score = self._leader_score[keep]
        led = st.leader >= 0
        st.leader[led] -= np.searchsorted(idx, st.leader[led])
        return self._emit(batches)

    def _promote_leaders(self, removed: np.ndarray) -> None:
        """Give active coalitions whose leader is in ``removed`` (sorted) a new leader."""
        st = self._state
        orphan = (st.status == CoalitionStatus.ACTIVE) & np.isin(st.leader, removed)
        if not orphan.any():
            return
        local = np.full(st.num_coalitions, -1, dtype=np.int64)
        local[orphan] = np.arange(int(orphan.sum()))
        rows = st.membership_rows()
        group = np.where(rows >= 0, local[rows], -1)
        leader, _ = elect_leaders(
            group, int(orphan.sum()), self._leader_score, np.zeros(st.num_agents)
        )
        st.leader[orphan] = leader
        st.role[leader[leader >= 0]] = Role.LEADER

    # ---------------------------------------------------------------- re-formation

    def request_reform(self) -> None:
        """Make the next :meth:`maybe_reform` re-form, whatever the schedule."""
        self._next_reform = None

    def maybe_reform(
        self,
        tick: int,
        positions: np.ndarray,
        capabilities: np.ndarray,
        available: np.ndarray | None = None,
    ) -> CoalitionEvents | None:
        """Re-form if ``reform_every`` ticks have passed since the last one (or never ran).

        Returns the events of the re-formation, or ``None`` when it was not due.
        """
        if self._next_reform is not None and tick < self._next_reform:
            return None
        return self.reform(tick, positions, capabilities, available)

    def reform(
        self,
        tick: int,
        positions: np.ndarray,
        capabilities: np.ndarray,
        available: np.ndarray | None = None,
    ) -> CoalitionEvents:
        """Re-form all coalitions now.

        Args:
            tick: current tick.
            positions: ``(N, 2)``; more rows than the manager tracks grows ``N``.
            capabilities: ``(N, K)``.
            available: ``(N,)`` bool agents that may be assigned, ``None`` = all.

        Returns:
            The batch of LEAVE, DISSOLVE, FORM and JOIN events, in that order.
        """
        st = self._state
        n = np.shape(positions)[0] if np.ndim(positions) == 2 else -1
        if 0 <= st.num_agents < n:
            self.on_agents_added(n - st.num_agents)
        elif n < st.num_agents:
            raise ConfigurationError(
                f"positions must have N={st.num_agents} rows (report removals with "
                f"on_agents_removed), got {np.shape(positions)}"
            )
        objectives = self.objectives
        pos, caps, avail = check_formation_inputs(positions, capabilities, available, objectives)
        if caps.shape[1] != self.num_capabilities:
            raise ConfigurationError(
                f"capabilities must have num_capabilities={self.num_capabilities} columns, "
                f"got {caps.shape[1]}"
            )
        formation = self.strategy.form(pos, caps, avail, objectives, self._rng)
        self._next_reform = tick + self.reform_every
        st.compact()

        assignment = np.array(formation.assignment, dtype=np.int64)
        num_groups = formation.num_groups
        if assignment.shape != (st.num_agents,) or (
            assignment.size and assignment.max() >= num_groups
        ):
            raise ConfigurationError(
                f"strategy returned assignment of shape {assignment.shape} / values outside "
                f"[-1, {num_groups}); expected ({st.num_agents},)"
            )
        sizes = np.bincount(assignment[assignment >= 0], minlength=num_groups)
        kept = sizes >= self.min_size
        assigned = np.flatnonzero(assignment >= 0)
        assignment[assigned[~kept[assignment[assigned]]]] = -1

        group_id = self._continuing_ids(assignment, formation.group_objective, kept)
        continued = group_id >= 0
        new_groups = np.flatnonzero(kept & ~continued)
        cont_groups = np.flatnonzero(continued)
        cont_rows = st.rows_of(group_id[cont_groups]) if cont_groups.size else cont_groups
        ended = np.ones(st.num_coalitions, dtype=bool)
        ended[cont_rows] = False
        dissolved_ids = st.ids[ended]

        st.leader[cont_rows] = formation.leader[cont_groups]
        st.size[cont_rows] = sizes[cont_groups]
        st.status[ended] = CoalitionStatus.DISSOLVED
        st.size[ended] = 0
        st.leader[ended] = -1
        group_objective = formation.group_objective[new_groups]
        new_objective = np.full(new_groups.size, -1, dtype=np.int64)
        has = group_objective >= 0
        new_objective[has] = objectives.ids[group_objective[has]]
        group_id[new_groups] = st.append_coalitions(
            new_objective, formation.leader[new_groups], sizes[new_groups], tick
        )

        old = st.membership
        new = np.full(st.num_agents, -1, dtype=np.int64)
        assigned = np.flatnonzero(assignment >= 0)
        new[assigned] = group_id[assignment[assigned]]
        changed = old != new
        leaving = np.flatnonzero(changed & (old >= 0))
        joining = np.flatnonzero(changed & (new >= 0))
        st.membership = new
        st.role = np.where(new >= 0, formation.role, Role.NONE).astype(np.int8)
        self._leader_score = np.array(formation.leader_score, dtype=np.float64)
        formed = group_id[new_groups]
        return self._emit(
            [
                CoalitionEvents.build(
                    tick, np.full(leaving.size, EventKind.LEAVE), leaving, old[leaving]
                ),
                CoalitionEvents.build(
                    tick,
                    np.full(dissolved_ids.size, EventKind.DISSOLVE),
                    -np.ones_like(dissolved_ids),
                    dissolved_ids,
                ),
                CoalitionEvents.build(
                    tick, np.full(formed.size, EventKind.FORM), -np.ones_like(formed), formed
                ),
                CoalitionEvents.build(
                    tick, np.full(joining.size, EventKind.JOIN), joining, new[joining]
                ),
            ]
        )

    def _continuing_ids(
        self, assignment: np.ndarray, group_objective: np.ndarray, kept: np.ndarray
    ) -> np.ndarray:
        """``(G,)`` id of the active coalition each kept group continues, ``-1`` = a new one."""
        st = self._state
        objectives = self.objectives
        group_id = np.full(group_objective.shape[0], -1, dtype=np.int64)
        # objective groups continue the coalition already pursuing the same objective;
        # only the first group per objective may, so ids stay unique
        obj_groups = np.flatnonzero(kept & (group_objective >= 0))
        with_obj = np.flatnonzero(st.objective >= 0)
        if obj_groups.size and with_obj.size:
            wanted = objectives.ids[group_objective[obj_groups]]
            _, first = np.unique(wanted, return_index=True)
            obj_groups, wanted = obj_groups[first], wanted[first]
            order = np.argsort(st.objective[with_obj])
            have = st.objective[with_obj][order]
            at = np.minimum(np.searchsorted(have, wanted), have.size - 1)
            hit = have[at] == wanted
            group_id[obj_groups[hit]] = st.ids[with_obj[order[at[hit]]]]
        # objective-free groups continue the coalition they share most members with,
        # when that coalition also shares most of its re-assigned members with them
        rows = st.membership_rows()
        free = kept & (group_objective < 0)
        mask = (assignment >= 0) & (rows >= 0)
        mask[mask] = free[assignment[mask]] & (st.objective[rows[mask]] < 0)
        if mask.any():
            num_rows = st.num_coalitions
            pair, count = np.unique(assignment[mask] * num_rows + rows[mask], return_counts=True)
            g, r = pair // num_rows, pair % num_rows
            best_g = np.lexsort((r, -count, g))
            first_g = np.ones(pair.size, dtype=bool)
            first_g[1:] = g[best_g][1:] != g[best_g][:-1]
            best_r = np.lexsort((g, -count, r))
            first_r = np.ones(pair.size, dtype=bool)
            first_r[1:] = r[best_r][1:] != r[best_r][:-1]
            is_best_g = np.zeros(pair.size, dtype=bool)
            is_best_g[best_g[first_g]] = True
            is_best_r = np.zeros(pair.size, dtype=bool)
            is_best_r[best_r[first_r]] = True
            mutual = is_best_g & is_best_r
            group_id[g[mutual]] = st.ids[r[mutual]]
        return group_id

    # ---------------------------------------------------------------- preferences

    def preferences(self, C_base: np.ndarray) -> np.ndarray:
        """Per-agent log-preferences for the engine, see :func:`apply_objective_preferences`.

        Args:
            C_base: ``(O,)`` or ``(N, O)``.

        Returns:
            ``(N, O)`` float64.
        """
        st = self._state
        objective_row = np.full(st.num_coalitions, -1, dtype=np.int64)
        has = (st.objective >= 0) & (st.status == CoalitionStatus.ACTIVE)
        if has.any():
            objective_row[has] = self.objectives.rows_of(st.objective[has])
        return apply_objective_preferences(
            C_base, st.membership_rows(), objective_row, self.objective_bias, self.strength
        )
