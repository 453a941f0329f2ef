"""The ``Agent`` of pymdp 1.0, backed by a FreeAgentics :class:`~freeagentics.agents.Cohort`.

Switch by changing one import::

    from pymdp.agent import Agent                # pymdp 1.0 (JAX)
    from freeagentics.compat.pymdp1 import Agent # numpy, no JAX

pymdp 1.0's Agent is functional: every array carries a leading batch axis (one row per
agent), and the loop passes beliefs around explicitly::

    qs = agent.infer_states(obs, empirical_prior=agent.D)
    q_pi, G = agent.infer_policies(qs)
    action = agent.sample_action(q_pi, rng_key=key)
    prior = agent.update_empirical_prior(action, qs)

The same constructor keywords and defaults (``gamma = alpha = 1``, ``sampling_mode =
"full"``, ``num_iter = 16``, ``C`` scored as given, state information gain summed over
modalities, ``A_dependencies`` / ``B_dependencies``), the same shapes: observations per
modality ``(batch,)`` (or ``(batch, T)``, the last step used), or with
``categorical_obs=True`` ``(batch, O_m)``; ``qs`` per factor ``(batch, 1, S_f)`` (or
the history with ``qs_hist``); ``q_pi`` and ``G`` ``(batch, P)``; actions
``(batch, F)``. Arrays are numpy, ``float32`` unless ``dtype="float64"``.

``rng_key`` may be anything ``numpy.random.default_rng`` accepts as a seed (an int, a
sequence of ints, a JAX key's integers) or a ``numpy.random.Generator``; draws are
numpy's, so they differ from JAX's while following the same distribution.

Not supported, each refused with a clear error: sequence inference (``"mmp"``,
``"vmp"``, ``"ovf"``, ``"exact"``), inductive inference (``H``, ``I``), multi-action
dependencies, parameter information gain and learning (``learn_*``), per-agent A, B or E
that differ between batch rows, observation masks and ``return_info``.
"""

from __future__ import annotations

import numpy as np

from freeagentics.agents import Cohort, CohortConfig
from freeagentics.errors import ConfigurationError, ObservationError
from freeagentics.inference import (
    EFEOptions,
    empirical_prior,
    infer_states,
)
from freeagentics.models import GenerativeModel, enumerate_policies

__all__ = ["Agent", "Policies"]


class Policies:
    """pymdp 1.0's policy table: ``policy_arr`` ``(P, T, F)``, ``num_policies``, ``horizon``."""

    def __init__(self, policy_arr):
        self.policy_arr = np.asarray(policy_arr, dtype=np.int64)
        self.num_policies, self.horizon = self.policy_arr.shape[:2]


def _refuse(condition: bool, what: str) -> None:
    if condition:
        raise ConfigurationError(f"{what} is not supported by freeagentics.compat.pymdp1")


def _shared(value, ndim: int, batch_size: int, name: str) -> np.ndarray:
    """One array for the whole batch: no batch axis, or a batch axis of identical rows."""
    a = np.asarray(value, dtype=np.float64)
    if a.ndim == ndim:
        return a
    if a.ndim != ndim + 1 or a.shape[0] not in (1, batch_size):
        raise ConfigurationError(
            f"{name} has shape {a.shape}: expected {ndim} axes, or a leading batch axis of "
            f"size {batch_size}"
        )
    if a.shape[0] > 1 and not np.array_equal(a, np.broadcast_to(a[:1], a.shape)):
        raise ConfigurationError(
            f"{name} differs between batch rows; per-agent {name} is not supported"
        )
    return a[0]


def _batched(value, ndim: int, batch_size: int, name: str, dtype) -> np.ndarray:
    """``(batch, ...)``: a batch axis added by broadcasting when absent."""
    a = np.asarray(value, dtype=dtype)
    if a.ndim == ndim:
        return np.broadcast_to(a, (batch_size, *a.shape)).copy()
    if a.ndim != ndim + 1 or a.shape[0] not in (1, batch_size):
        raise ConfigurationError(
            f"{name} has shape {a.shape}: expected {ndim} axes, or a leading batch axis of "
            f"size {batch_size}"
        )
    return np.broadcast_to(a, (batch_size, *a.shape[1:])).copy()


class Agent:
    """A batch of agents with pymdp 1.0's interface (see module docstring)."""

    def __init__(
        self,
        A,
        B,
        C=None,
        D=None,
        E=None,
        pA=None,
        pB=None,
        H=None,
        I=None,
        A_dependencies=None,
        B_dependencies=None,
        B_action_dependencies=None,
        num_controls=None,
        control_fac_idx=None,
        policy_len: int = 1,
        policies=None,
        gamma=1.0,
        alpha=1.0,
        inductive_depth: int = 1,
        inductive_threshold=0.1,
        inductive_epsilon=1e-3,
        use_utility: bool = True,
        use_states_info_gain: bool = True,
        use_param_info_gain: bool = False,
        use_inductive: bool = False,
        categorical_obs: bool = False,
        preprocess_fn=None,
        action_selection: str = "deterministic",
        sampling_mode: str = "full",
        inference_algo: str = "fpi",
        inference_horizon: int | None = None,
        num_iter: int = 16,
        batch_size: int = 1,
        learning_mode: str = "online",
        learn_A: bool = False,
        learn_B: bool = False,
        learn_C: bool = False,
        learn_D: bool = False,
        learn_E: bool = False,
        dtype: str = "float32",
    ):
        _refuse(str(inference_algo).lower() != "fpi", f"inference_algo={inference_algo!r}")
        _refuse(use_inductive or H is not None or I is not None, "inductive inference (H, I)")
        _refuse(B_action_dependencies is not None, "B_action_dependencies")
        _refuse(use_param_info_gain, "use_param_info_gain")
        _refuse(any((learn_A, learn_B, learn_C, learn_D, learn_E)), "learning (learn_*)")
        if batch_size < 1:
            raise ConfigurationError(f"batch_size must be >= 1, got {batch_size}")
        if inference_horizon is not None and inference_horizon < 1:
            raise ConfigurationError("inference_horizon must be >= 1 when provided")
        self.batch_size = batch_size
        self.num_modalities, self.num_factors = len(A), len(B)
        self.B_dependencies = (
            [[f] for f in range(self.num_factors)]
            if B_dependencies is None
            else [list(d) for d in B_dependencies]
        )
        B_shared = [
            _shared(b, 2 + len(deps), batch_size, f"B[{f}]")
            for f, (b, deps) in enumerate(zip(B, self.B_dependencies, strict=True))
        ]
        self.num_states = [b.shape[0] for b in B_shared]
        self.A_dependencies = (
            [list(range(self.num_factors)) for _ in range(self.num_modalities)]
            if A_dependencies is None
            else [list(d) for d in A_dependencies]
        )
        A_shared = [
            _shared(a, 1 + len(deps), batch_size, f"A[{m}]")
            for m, (a, deps) in enumerate(zip(A, self.A_dependencies, strict=True))
        ]
        self.num_obs = [a.shape[0] for a in A_shared]
        self.num_controls = [b.shape[-1] for b in B_shared]
        self.num_controls_multi = num_controls
        self.control_fac_idx = (
            [f for f in range(self.num_factors) if self.num_controls[f] > 1]
            if control_fac_idx is None
            else list(control_fac_idx)
        )
        if policies is None:
            # pymdp 1.0 enumerates every control of every factor with more than one
            policy_arr = enumerate_policies(self.num_controls, policy_len)
        else:
            policy_arr = policies.policy_arr if isinstance(policies, Policies) else policies
        self.policies = Policies(policy_arr)
        self.policy_len = self.policies.horizon
        num_policies = self.policies.num_policies
        if E is not None:
            E = _shared(E, 1, batch_size, "E")
        model = GenerativeModel.create(
            A_shared,
            B_shared,
            E=E if E is None else E / E.sum(),
            policies=self.policies.policy_arr,
            A_deps=self.A_dependencies,
            B_deps=self.B_dependencies,
        )
        gamma_value = float(_shared(gamma, 0, batch_size, "gamma"))
        alpha_value = float(_shared(alpha, 0, batch_size, "alpha"))
        config = CohortConfig(
            dtype=dtype,
            gamma=gamma_value,
            alpha=alpha_value,
            action_selection=action_selection,
            sampling=sampling_mode,
            efe=EFEOptions(
                use_utility=use_utility,
                use_states_info_gain=use_states_info_gain,
                utility="raw",
                info_gain="factorised",
            ),
            num_iter=num_iter,
            tolerance=0.0,  # pymdp 1.0 always runs num_iter sweeps
            tie_tolerance=0.0,  # pymdp 1.0 takes the argmax, whatever the margin
        )
        self.cohort = Cohort(model, batch_size, config)
        ft = config.float_type
        self.dtype = ft
        self.A = [np.broadcast_to(a.astype(ft), (batch_size, *a.shape)) for a in A_shared]
        self.B = [np.broadcast_to(b.astype(ft), (batch_size, *b.shape)) for b in B_shared]
        self.C = [
            _batched(c, 1, batch_size, f"C[{m}]", ft)
            if C is not None
            else np.full((batch_size, o), 1.0 / o, dtype=ft)
            for m, (c, o) in enumerate(
                zip(C if C is not None else self.num_obs, self.num_obs, strict=True)
            )
        ]
        self.D = [
            _batched(d, 1, batch_size, f"D[{f}]", ft)
            if D is not None
            else np.full((batch_size, s), 1.0 / s, dtype=ft)
            for f, (d, s) in enumerate(
                zip(D if D is not None else self.num_states, self.num_states, strict=True)
            )
        ]
        self.E = np.broadcast_to(
            (np.full(num_policies, 1.0 / num_policies) if E is None else E).astype(ft),
            (batch_size, num_policies),
        )
        self.cohort.set_preferences(self.C)
        # pymdp 1.0's log-likelihood: ln A clipped at float64's machine epsilon
        self._log_A = [
            np.log(np.clip(a, np.finfo(np.float64).eps, None)).astype(ft) for a in A_shared
        ]
        self.pA, self.pB = pA, pB
        self.gamma = np.full(batch_size, gamma_value, dtype=ft)
        self.alpha = np.full(batch_size, alpha_value, dtype=ft)
        self.num_iter = num_iter
        self.inference_algo = "fpi"
        self.inference_horizon = inference_horizon
        self.action_selection, self.sampling_mode = action_selection, sampling_mode
        self.use_utility, self.use_states_info_gain = use_utility, use_states_info_gain
        self.use_param_info_gain = use_param_info_gain
        self.use_inductive = use_inductive
        self.categorical_obs = categorical_obs
        self.preprocess_fn = preprocess_fn
        self.learning_mode = learning_mode
        self.learn_A = self.learn_B = self.learn_C = self.learn_D = self.learn_E = False

    # ------------------------------------------------------------------ observations
    def make_categorical(self, observations) -> list[np.ndarray]:
        """Outcome indices per modality ``(batch,)`` → one-hot ``(batch, O_m)``."""
        out = []
        for m, o in enumerate(observations):
            idx = self._current_indices(o, m)
            out.append(np.eye(self.num_obs[m], dtype=self.dtype)[idx])
        return out

    def process_obs(self, observations) -> list[np.ndarray]:
        """Observations in distributional form (``preprocess_fn`` first if set)."""
        if self.preprocess_fn is not None:
            return self.preprocess_fn(observations)
        if self.categorical_obs:
            return [np.asarray(o, dtype=self.dtype) for o in observations]
        return self.make_categorical(observations)

    def _current_indices(self, o, m: int) -> np.ndarray:
        o = np.asarray(o)
        if o.ndim == 2:
            o = o[:, -1]
        o = np.broadcast_to(o, (self.batch_size,)) if o.ndim == 0 else o
        if o.shape != (self.batch_size,) or o.dtype.kind not in "iu":
            raise ObservationError(
                f"observation of modality {m} must be integer outcome indices of shape "
                f"({self.batch_size},) or (batch, T), got {o.shape} {o.dtype}"
            )
        if (o < 0).any() or (o >= self.num_obs[m]).any():
            raise ObservationError(
                f"observation of modality {m} outside 0..{self.num_obs[m] - 1}: {o.tolist()}"
            )
        return o.astype(np.int64)

    def _log_likelihood(self, observations, preprocess_fn) -> np.ndarray:
        """``sum_m E_{p(o_m)}[ln A_m]`` over the joint state per agent ``(batch, *S)``, as
        pymdp 1.0 computes it (index observations are one-hot distributions)."""
        model = self.cohort.model
        distributional = preprocess_fn is not None or self.preprocess_fn is not None
        if distributional or self.categorical_obs:
            dists = preprocess_fn(observations) if preprocess_fn else self.process_obs(observations)
        else:
            dists = None
        if len(observations if dists is None else dists) != self.num_modalities:
            raise ObservationError(
                f"observations hold {len(observations)} modalities, expected {self.num_modalities}"
            )
        total = np.zeros((self.batch_size, *model.num_states), dtype=self.dtype)
        for m, (log_a, deps) in enumerate(zip(self._log_A, model.A_deps, strict=True)):
            if dists is None:
                per_state = log_a[self._current_indices(observations[m], m)]
            else:
                p = np.asarray(dists[m], dtype=self.dtype)
                if p.ndim == 3:
                    p = p[:, -1]
                if p.shape != (self.batch_size, self.num_obs[m]):
                    raise ObservationError(
                        f"categorical observation of modality {m} has shape {p.shape}, expected "
                        f"({self.batch_size}, {self.num_obs[m]})"
                    )
                per_state = np.tensordot(p, log_a, axes=(1, 0))  # (batch, *S[deps])
            order = np.argsort(deps)
            per_state = np.transpose(per_state, (0, *(1 + order)))
            shape = [self.batch_size] + [
                s if f in deps else 1 for f, s in enumerate(model.num_states)
            ]
            total = total + per_state.reshape(shape)
        return total

    # ------------------------------------------------------------------ pymdp 1.0 API
    def infer_states(
        self,
        observations,
        empirical_prior,
        *,
        past_actions=None,
        qs_hist=None,
        valid_steps=None,
        mask=None,
        preprocess_fn=None,
        return_info: bool = False,
    ):
        """Posterior per factor ``(batch, 1, S_f)`` (appended to ``qs_hist`` when given)."""
        _refuse(mask is not None, "mask")
        _refuse(return_info, "return_info")
        if (
            not isinstance(empirical_prior, (list, tuple))
            or len(empirical_prior) != self.num_factors
        ):
            raise ConfigurationError(
                f"empirical_prior must be a list with one (batch, S_f) array per factor "
                f"({self.num_factors})"
            )
        log_lik = self._log_likelihood(observations, preprocess_fn)
        prior = [
            _batched(p, 1, self.batch_size, f"empirical_prior[{f}]", self.dtype)
            for f, p in enumerate(empirical_prior)
        ]
        qs, _ = infer_states(log_lik, prior, self.num_iter, 0.0)
        qs = [q[:, None, :] for q in qs]
        if qs_hist is None:
            return qs
        out = [
            np.concatenate([np.asarray(h, dtype=self.dtype), q], axis=1)
            for h, q in zip(qs_hist, qs, strict=True)
        ]
        if self.inference_horizon is not None:
            out = [h[:, -self.inference_horizon :] for h in out]
        return out

    def update_empirical_prior(self, action, qs) -> list[np.ndarray]:
        """Predicted beliefs for the next step, ``B_f[a_f]`` applied to the latest ``qs``."""
        action = np.asarray(action).astype(np.int64)
        if action.shape != (self.batch_size, self.num_factors):
            raise ConfigurationError(
                f"action has shape {action.shape}, expected ({self.batch_size}, {self.num_factors})"
            )
        latest = [np.asarray(q, dtype=self.dtype)[:, -1] for q in qs]
        B, _ = self.cohort.transitions()
        return empirical_prior(latest, B, self.cohort.model.B_deps, action)

    def infer_policies(self, qs) -> tuple[np.ndarray, np.ndarray]:
        """``(q_pi, G)``, each ``(batch, P)``; G is the negative expected free energy."""
        self.cohort.qs = [np.ascontiguousarray(np.asarray(q, dtype=self.dtype)[:, -1]) for q in qs]
        q_pi, G = self.cohort.infer_policies()
        return q_pi.copy(), G.copy()

    def multiaction_probabilities(self, q_pi) -> np.ndarray:
        """Probability of each joint first action ``(batch, prod U_f)`` (factor 0 slowest)."""
        q_pi = np.asarray(q_pi, dtype=self.dtype)
        first = self.policies.policy_arr[:, 0]
        flat = np.ravel_multi_index(tuple(first.T), self.num_controls)
        out = np.zeros((q_pi.shape[0], int(np.prod(self.num_controls))), dtype=self.dtype)
        if self.sampling_mode == "full":
            np.add.at(out.T, flat, q_pi.T)
            return out
        marginals = []
        for f, u in enumerate(self.num_controls):
            m = np.zeros((q_pi.shape[0], u), dtype=self.dtype)
            np.add.at(m.T, first[:, f], q_pi.T)
            marginals.append(m)
        joint = marginals[0]
        for m in marginals[1:]:
            joint = (joint[:, :, None] * m[:, None, :]).reshape(q_pi.shape[0], -1)
        return joint

    def sample_action(self, q_pi, rng_key=None) -> np.ndarray:
        """One action per agent and factor ``(batch, F)`` from ``q_pi``."""
        if rng_key is None and self.action_selection == "stochastic":
            raise ConfigurationError("stochastic action selection needs rng_key")
        q_pi = np.asarray(q_pi, dtype=self.dtype)
        if q_pi.shape != (self.batch_size, self.policies.num_policies):
            raise ConfigurationError(
                f"q_pi has shape {q_pi.shape}, expected "
                f"({self.batch_size}, {self.policies.num_policies})"
            )
        if rng_key is not None:
            self.cohort.rng = (
                rng_key
                if isinstance(rng_key, np.random.Generator)
                else np.random.default_rng(np.asarray(rng_key).astype(np.uint64).ravel())
            )
        self.cohort.q_pi = q_pi
        return self.cohort.engine.actions(self.cohort, 0).copy()

    def infer_parameters(self, *args, **kwargs):
        """Learning is not offered here (see module docstring)."""
        raise ConfigurationError(
            "infer_parameters (learning) is not supported by freeagentics.compat.pymdp1; a "
            "Cohort with CohortConfig(learn_A=..., learn_B=...) learns per agent"
        )

    @property
    def unique_multiactions(self) -> np.ndarray:
        return np.unique(self.policies.policy_arr[:, 0], axis=0)

    def decode_multi_actions(self, action):
        return action

    def encode_multi_actions(self, action_multi):
        return action_multi

    def get_model_dimensions(self) -> dict:
        return {
            "num_obs": self.num_obs,
            "num_states": self.num_states,
            "num_controls": self.num_controls,
            "num_modalities": self.num_modalities,
            "num_factors": self.num_factors,
            "num_policies": self.policies.num_policies,
            "policy_len": self.policy_len,
            "inference_horizon": self.inference_horizon,
            "A_dependencies": self.A_dependencies,
            "B_dependencies": self.B_dependencies,
        }
