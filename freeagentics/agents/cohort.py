"""A cohort: N agents that share one model structure, stepped as a handful of array calls.

Shared parameters (A, B, C, D, E) are stored once. Per-agent copies exist only for
what differs: Dirichlet concentrations and the learned A/B when the cohort learns,
and preferences when set per agent (e.g. by a coalition's objective).

State per agent (rows): beliefs ``qs[f]`` ``(N, S_f)``, last actions ``(N, F)``
(-1 before the first action), ``q_pi`` and ``G`` ``(N, P)``, free energy ``(N,)``.
"""

from __future__ import annotations

import numpy as np

from freeagentics._checks import whole_number_at_least
from freeagentics.agents._cohort_state import cohort_state, load_cohort_state
from freeagentics.agents._config import CohortConfig
from freeagentics.agents._engines import select_engine
from freeagentics.errors import ConfigurationError, ObservationError
from freeagentics.inference import log_stable, normalise
from freeagentics.inference._kernels import for_size
from freeagentics.inference._maths import log_preferences
from freeagentics.models import GenerativeModel
from freeagentics.state import State

__all__ = ["Cohort"]


class Cohort:
    """A population of agents sharing one :class:`GenerativeModel`.

    Args:
        model: the shared model.
        n_agents: initial population size.
        config: inference settings.
        rng: the generator behind every random choice (stochastic actions).
    """

    def __init__(
        self,
        model: GenerativeModel,
        n_agents: int,
        config: CohortConfig | None = None,
        rng: np.random.Generator | None = None,
    ):
        n_agents = whole_number_at_least("n_agents", n_agents, 0)
        self.model = model
        self.config = config or CohortConfig()
        self.rng = rng if rng is not None else np.random.default_rng()
        dt = self.config.float_type
        self._dtype = dt
        self.A = tuple(a.astype(dt) for a in model.A)
        self.B = tuple(b.astype(dt) for b in model.B)
        self.D = tuple(d.astype(dt) for d in model.D)
        self.log_E = log_stable(model.E.astype(dt))
        self._num_obs = np.array(model.num_obs, dtype=np.int64)
        self._shared_scores = log_preferences(tuple(c.astype(dt) for c in model.C), self._utility)
        self.C_agents: list[np.ndarray] | None = None  # per-agent (N, O_m) when set
        self._scores_cache: np.ndarray | None = None
        self.pA: list[np.ndarray] | None = None
        self.pB: list[np.ndarray] | None = None
        self._learned: dict[str, list[np.ndarray]] = {}  # normalised pA / pB, on demand
        self.n = 0
        self.qs = [np.empty((0, s), dt) for s in model.num_states]
        self.actions = np.empty((0, model.num_factors), np.int64)
        self.q_pi = np.empty((0, model.num_policies), dt)
        self.G = np.empty((0, model.num_policies), dt)
        self.free_energy = np.empty(0, dt)
        self.qs_before: list[np.ndarray] | None = None  # before the last update (learning B)
        self._since_plan = 0
        self._planned = False
        self.engine = select_engine(self)
        self.add_agents(n_agents)

    # ------------------------------------------------------------------ population
    @property
    def _utility(self) -> str:
        return self.config.efe.utility

    def add_agents(self, count: int) -> np.ndarray:
        """Append ``count`` agents with prior beliefs ``D``; returns their row indices."""
        count = whole_number_at_least("count", count, 0)
        start = self.n
        dt = self._dtype
        self.qs = [
            np.concatenate([q, np.broadcast_to(d, (count, d.size))])
            for q, d in zip(self.qs, self.D, strict=True)
        ]
        self.actions = np.concatenate([self.actions, np.full((count, self.model.num_factors), -1)])
        self.q_pi = np.concatenate(
            [self.q_pi, np.broadcast_to(np.exp(self.log_E), (count, self.model.num_policies))]
        ).astype(dt)
        self.G = np.concatenate([self.G, np.zeros((count, self.model.num_policies), dt)])
        self.free_energy = np.concatenate([self.free_energy, np.zeros(count, dt)])
        scale = self.config.prior_concentration
        if self.config.learn_A:
            new = [np.broadcast_to(a * scale, (count, *a.shape)) for a in self.A]
            self.pA = (
                new
                if self.pA is None
                else [np.concatenate([p, x]) for p, x in zip(self.pA, new, strict=True)]
            )
        if self.config.learn_B:
            new = [np.broadcast_to(b * scale, (count, *b.shape)) for b in self.B]
            self.pB = (
                new
                if self.pB is None
                else [np.concatenate([p, x]) for p, x in zip(self.pB, new, strict=True)]
            )
        self._learned = {}
        if self.C_agents is not None:
            self.C_agents = [
                np.concatenate([c, np.broadcast_to(base, (count, base.size))])
                for c, base in zip(self.C_agents, self.model.C, strict=True)
            ]
            self._refresh_scores()
        self.n += count
        return np.arange(start, self.n)

    def remove_agents(self, rows: np.ndarray) -> None:
        """Drop the given rows; later rows move up (callers keep their own id maps)."""
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size and (rows.min() < 0 or rows.max() >= self.n):
            raise ConfigurationError(f"rows must lie in 0..{self.n - 1}, got {rows.tolist()[:10]}")
        keep = np.ones(self.n, bool)
        keep[rows] = False
        self.qs = [q[keep] for q in self.qs]
        self.actions = self.actions[keep]
        self.q_pi, self.G, self.free_energy = self.q_pi[keep], self.G[keep], self.free_energy[keep]
        for name in ("pA", "pB", "C_agents"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, [x[keep] for x in value])
        if self.C_agents is not None:
            self._refresh_scores()
        self._learned = {}
        self.qs_before = None
        self.n = int(keep.sum())

    def set_preferences(self, C: list[np.ndarray] | None) -> None:
        """Per-agent log-preferences: per modality ``(N, O_m)``; None restores the model's C."""
        if C is None:
            self.C_agents = None
            self._scores_cache = None
            return
        if len(C) != self.model.num_modalities:
            raise ConfigurationError(
                f"C has {len(C)} modalities, expected {self.model.num_modalities}"
            )
        for m, c in enumerate(C):
            if c.shape != (self.n, self.model.num_obs[m]):
                raise ConfigurationError(
                    f"C[{m}] has shape {c.shape}, expected {(self.n, self.model.num_obs[m])}"
                )
            if not np.all(np.isfinite(c)):
                raise ConfigurationError(f"C[{m}] holds NaN or infinity")
        self.C_agents = [np.asarray(c, dtype=self._dtype) for c in C]
        self._refresh_scores()

    def _refresh_scores(self) -> None:
        self._agent_scores = log_preferences(self.C_agents, self._utility)
        self._scores_cache = None

    # ------------------------------------------------------------------ parameters
    @property
    def dtype(self) -> type[np.floating]:
        return self._dtype

    @property
    def A_agents(self) -> list[np.ndarray] | None:
        """Per modality ``(N, O_m, ...)``: each agent's learned A (normalised ``pA``), or
        None when the cohort does not learn A. Computed when asked, after each update."""
        return self._normalised("pA")

    @property
    def B_agents(self) -> list[np.ndarray] | None:
        """Per factor ``(N, S_f, ..., U_f)``: each agent's learned B, or None."""
        return self._normalised("pB")

    def parameters_changed(self) -> None:
        """Say that ``pA`` or ``pB`` changed outside :meth:`learn` (e.g. edited or
        loaded): the learned A and B are normalised from them again when next read, and
        the engine forgets what it derived from them (the fused engine, which entries
        of ``pB`` can be nonzero)."""
        self._learned = {}
        self.engine.parameters_changed(self)

    def _normalised(self, name: str) -> list[np.ndarray] | None:
        concentrations = getattr(self, name)
        if concentrations is None:
            return None
        if name not in self._learned:
            self._learned[name] = [normalise(p) for p in concentrations]
        return self._learned[name]

    def likelihoods(self) -> tuple[tuple[np.ndarray, ...], bool]:
        """A per modality, and whether it carries an agent axis (learning agents)."""
        learned = self.A_agents
        return (tuple(learned), True) if learned is not None else (self.A, False)

    def transitions(self) -> tuple[tuple[np.ndarray, ...], bool]:
        """B per factor, and whether it carries an agent axis."""
        learned = self.B_agents
        return (tuple(learned), True) if learned is not None else (self.B, False)

    def preferences(self) -> tuple[tuple[np.ndarray, ...], bool]:
        """C per modality, and whether it is per agent ``(N, O_m)``."""
        if self.C_agents is not None:
            return tuple(self.C_agents), True
        return tuple(c.astype(self._dtype) for c in self.model.C), False

    def flat_scores(self) -> np.ndarray:
        """Outcome scores of all modalities side by side: ``(1 or N, O_total)``."""
        if self._scores_cache is None:
            scores = self._agent_scores if self.C_agents is not None else self._shared_scores
            self._scores_cache = np.ascontiguousarray(
                np.concatenate([np.atleast_2d(s) for s in scores], axis=1), dtype=self._dtype
            )
        return self._scores_cache

    @property
    def engine_name(self) -> str:
        """Which engine steps this cohort (``"FusedEngine"``, ``"FusedLearningEngine"`` or
        ``"GeneralEngine"``)."""
        return type(self.engine).__name__

    # ------------------------------------------------------------------ inference
    def _check_obs(self, obs) -> np.ndarray:
        obs = np.asarray(obs)
        if obs.ndim == 1 and self.model.num_modalities == 1:
            obs = obs[:, None]
        expected = (self.n, self.model.num_modalities)
        if obs.shape != expected:
            raise ObservationError(
                f"observations have shape {obs.shape}, expected {expected} (agents, modalities)"
            )
        if obs.dtype.kind not in "iu":
            raise ObservationError(
                f"observations must be integer outcome indices, got dtype {obs.dtype}"
            )
        bad = (obs < 0) | (obs >= self._num_obs)
        if bad.any():
            n, m = (int(i) for i in np.argwhere(bad)[0])
            raise ObservationError(
                f"agent {n} observed outcome {int(obs[n, m])} in modality {m}, "
                f"which has outcomes 0..{self.model.num_obs[m] - 1}"
            )
        return obs.astype(np.int64, copy=False)

    def infer_states(self, obs) -> list[np.ndarray]:
        """Update beliefs from one observation per agent (``(N, M)`` int); returns ``qs``."""
        return self._infer_states(self._check_obs(obs))

    def _infer_states(self, obs: np.ndarray) -> list[np.ndarray]:
        self._materialise_params()
        self.qs_before = self.qs
        self.qs, self.free_energy = self.engine.posterior(self, obs)
        return self.qs

    def infer_policies(self) -> tuple[np.ndarray, np.ndarray]:
        """Posterior over policies and ``G`` for every agent; ``(N, P)`` each."""
        self._materialise_params()
        self.G, self.q_pi = self.engine.policies(self)
        self._since_plan = 0
        self._planned = True
        return self.q_pi, self.G

    def sample_action(self) -> np.ndarray:
        """Choose each agent's controls ``(N, F)`` from ``q_pi`` (at the current plan step)."""
        step = min(self._since_plan, self.model.policy_len - 1)
        self.actions = self.engine.actions(self, step)
        self._since_plan += 1
        return self.actions

    def learn(self, obs: np.ndarray, previous_actions: np.ndarray) -> None:
        """Dirichlet updates from the latest observation (A) and transition (B).

        Args:
            obs: ``(N, M)`` int, the observations the current beliefs were inferred from.
            previous_actions: ``(N, F)``, the controls that led to them (-1: none yet).
        """
        self._materialise_params()
        self.engine.learn(self, obs, previous_actions)
        self._learned = {}

    def step(self, obs) -> np.ndarray:
        """Perceive, learn, plan (every ``plan_every`` steps) and act.

        Returns the actions, ``(N, F)``. An engine that fuses the step runs the three
        stages in one pass; the numbers are those of calling :meth:`infer_states`,
        :meth:`learn` and :meth:`infer_policies` in turn.
        """
        obs = self._check_obs(obs)
        previous_actions = self.actions
        learn = self.config.learn_A or self.config.learn_B
        plan = not self._planned or self._since_plan >= self.config.plan_every
        self._materialise_params()
        result = self.engine.step(self, obs, learn, plan)
        if result is None:
            self._infer_states(obs)
            if learn:
                self.learn(obs, previous_actions)
            if plan:
                self.infer_policies()
            return self.sample_action()
        self.qs_before = self.qs
        self.qs, self.free_energy = result.qs, result.free_energy
        if learn:
            self._learned = {}
        if plan:
            self.G, self.q_pi = result.G, result.q_pi
            self._since_plan = 0
            self._planned = True
        return self.sample_action()

    def _materialise_params(self) -> None:
        """Broadcast views from :meth:`add_agents` become writable per-agent arrays, in C
        order whatever made them (joined views, a checkpoint, another process): numpy's
        reductions sum in an order that follows the memory layout, so one layout keeps a
        seed's trajectory the same however the parameters got here."""
        for name in ("pA", "pB"):
            value = getattr(self, name)
            if value is not None and any(
                not p.flags.writeable or not p.flags.c_contiguous for p in value
            ):
                setattr(self, name, [np.array(p, order="C") for p in value])
                self._learned = {}  # nothing normalised from the old layout stays

    # ------------------------------------------------------------------ checkpoints
    def export_state(self) -> State:
        """Everything that evolves (see :mod:`freeagentics.agents._cohort_state`)."""
        return cohort_state(self)

    def import_state(self, state: State) -> None:
        """Continue from a :meth:`export_state` of a cohort with the same model and config."""
        load_cohort_state(self, state)

    # ------------------------------------------------------------------ metrics
    def metrics(self) -> dict[str, np.ndarray]:
        """Per-agent summaries of the latest step, each ``(N,)``.

        ``belief_entropy`` (sum over factors), ``free_energy`` (variational),
        ``policy_entropy``, and ``expected_free_energy`` of the most probable policy
        consistent with the action taken (positive: lower is better).
        """
        chosen = np.all(self.model.policies[None, :, 0, :] == self.actions[:, None, :], axis=-1)
        masked = np.where(chosen, self.q_pi, -1)
        best = np.argmax(masked, axis=-1)
        return {
            "belief_entropy": sum(_row_entropy(q) for q in self.qs),
            "free_energy": self.free_energy,
            "policy_entropy": _row_entropy(self.q_pi),
            "expected_free_energy": -self.G[np.arange(self.n), best],
        }


def _row_entropy(p: np.ndarray) -> np.ndarray:
    """Entropy of each row ``(N, K)`` → ``(N,)``, in one fused pass (float32 rows use a
    vectorisable logarithm accurate to 2e-5: these entropies are reported, not used)."""
    out = np.empty(p.shape[0], dtype=p.dtype)
    name = "row_entropy_approx" if p.dtype == np.float32 else "row_entropy"
    for_size(name, p.shape[0])(np.ascontiguousarray(p), out)
    return out
