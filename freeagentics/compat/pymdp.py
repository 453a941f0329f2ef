"""The ``Agent`` of pymdp 0.0.7.1, backed by FreeAgentics' engine.

Switch by changing one import::

    from pymdp.agent import Agent               # before
    from freeagentics.compat.pymdp import Agent # after

Same constructor, methods (``infer_states``, ``infer_policies``, ``sample_action``,
``update_A``, ``update_B``, ``update_D``, ``reset``) and attributes (``qs``, ``q_pi``,
``G``, ``action``, ``A``, ``B``, ``pA``, ``pB`` ...), with 0.0.7.1's semantics: float64,
gamma = alpha = 16, utility from ``ln softmax(C)``, information gain over the joint
outcome of all modalities. Differences, each raising a clear error rather than
silently diverging: only the ``"VANILLA"`` inference algorithm (the default), no
time-dependent ``C``. Stochastic choices draw from ``rng`` (a
``numpy.random.Generator``, new keyword) instead of numpy's global state.
"""

from __future__ import annotations

import numpy as np

from freeagentics.errors import ConfigurationError, ObservationError
from freeagentics.inference import (
    EFEOptions,
    empirical_prior,
    expected_free_energy,
    infer_states,
    joint_log_likelihood,
    log_stable,
    policy_posterior,
    select_actions,
    update_pA,
    update_pB,
)
from freeagentics.models import GenerativeModel

__all__ = ["Agent"]


def _obj_array(arrays) -> np.ndarray:
    out = np.empty(len(arrays), dtype=object)
    for i, a in enumerate(arrays):
        out[i] = a
    return out


def _as_arrays(value) -> list[np.ndarray] | None:
    if value is None:
        return None
    if isinstance(value, np.ndarray) and value.dtype != object:
        return [np.asarray(value, dtype=np.float64)]
    return [np.asarray(v, dtype=np.float64) for v in value]


def _normalised(arrays: list[np.ndarray]) -> list[np.ndarray]:
    return [a / a.sum(axis=0, keepdims=True) for a in arrays]


class Agent:
    """One Active Inference agent with pymdp 0.0.7.1's interface (see module docstring)."""

    def __init__(
        self,
        A,
        B,
        C=None,
        D=None,
        E=None,
        pA=None,
        pB=None,
        pD=None,
        num_controls=None,
        policy_len=1,
        inference_horizon=1,
        control_fac_idx=None,
        policies=None,
        gamma=16.0,
        alpha=16.0,
        use_utility=True,
        use_states_info_gain=True,
        use_param_info_gain=False,
        action_selection="deterministic",
        sampling_mode="marginal",
        inference_algo="VANILLA",
        inference_params=None,
        modalities_to_learn="all",
        lr_pA=1.0,
        factors_to_learn="all",
        lr_pB=1.0,
        lr_pD=1.0,
        use_BMA=True,
        policy_sep_prior=False,
        save_belief_hist=False,
        rng: np.random.Generator | None = None,
    ):
        if inference_algo not in (None, "VANILLA"):
            raise ConfigurationError(
                f"inference_algo {inference_algo!r} is not supported; only 'VANILLA' "
                "(fixed-point iteration) is"
            )
        if C is not None and any(np.ndim(c) != 1 for c in _as_arrays(C)):
            raise ConfigurationError("time-dependent C (one column per step) is not supported")
        B_list = _as_arrays(B)
        if num_controls is not None:
            for f, (b, u) in enumerate(zip(B_list, num_controls, strict=True)):
                if b.shape[-1] != u:
                    raise ConfigurationError(
                        f"num_controls[{f}] = {u} but B[{f}] has {b.shape[-1]} controls"
                    )
        if policies is not None:
            policies = np.stack([np.asarray(p) for p in policies])
        if D is None and pD is not None:
            D = _normalised(_as_arrays(pD))
        self._model = GenerativeModel.create(
            _as_arrays(A),
            B_list,
            _as_arrays(C),
            _as_arrays(D),
            E,
            policies=policies,
            policy_len=policy_len,
            control_factors=control_fac_idx,
        )
        m = self._model
        self.A = _obj_array([np.array(a) for a in m.A])
        self.B = _obj_array([np.array(b) for b in m.B])
        self.C = _obj_array([np.array(c) for c in m.C])
        self.D = _obj_array([np.array(d) for d in m.D])
        self.E = np.array(m.E)
        self.pA = None if pA is None else _obj_array(_as_arrays(pA))
        self.pB = None if pB is None else _obj_array(_as_arrays(pB))
        self.pD = None if pD is None else _obj_array(_as_arrays(pD))
        self.policies = [np.array(p) for p in m.policies]
        self.num_obs, self.num_states = list(m.num_obs), list(m.num_states)
        self.num_modalities, self.num_factors = m.num_modalities, m.num_factors
        self.num_controls = list(m.num_controls)
        self.control_fac_idx = list(m.control_factors)
        self.policy_len = m.policy_len
        self.gamma, self.alpha = gamma, alpha
        self.action_selection, self.sampling_mode = action_selection, sampling_mode
        self.use_utility = use_utility
        self.use_states_info_gain = use_states_info_gain
        self.use_param_info_gain = use_param_info_gain
        self.modalities_to_learn, self.factors_to_learn = modalities_to_learn, factors_to_learn
        self.lr_pA, self.lr_pB, self.lr_pD = lr_pA, lr_pB, lr_pD
        self.inference_algo = "VANILLA"
        self.inference_params = dict(
            inference_params or {"num_iter": 10, "dF": 1.0, "dF_tol": 0.001}
        )
        self.inference_horizon = 1
        self.rng = rng if rng is not None else np.random.default_rng()
        self._efe = EFEOptions(
            use_utility=use_utility,
            use_states_info_gain=use_states_info_gain,
            use_param_info_gain=use_param_info_gain,
            utility="log_softmax",
            info_gain="joint",
        )
        self.save_belief_hist = save_belief_hist
        if save_belief_hist:
            self.qs_hist, self.q_pi_hist = [], []
        self.action = None
        self.prev_actions = None
        self.reset()

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _batch(arrays) -> tuple[np.ndarray, ...]:
        return tuple(np.asarray(a, dtype=np.float64) for a in arrays)

    def _qs_batch(self) -> list[np.ndarray]:
        return [np.asarray(q, dtype=np.float64)[None] for q in self.qs]

    def _obs_array(self, observation) -> np.ndarray:
        obs = np.atleast_1d(np.asarray(observation))
        if obs.shape != (self.num_modalities,):
            raise ObservationError(
                f"observation {observation!r} has {obs.size} entries, expected one outcome "
                f"index per modality ({self.num_modalities})"
            )
        for m, (o, size) in enumerate(zip(obs, self.num_obs, strict=True)):
            if not float(o).is_integer() or not 0 <= o < size:
                raise ObservationError(
                    f"observation for modality {m} is {o.item()!r}, "
                    f"expected an integer in 0..{size - 1}"
                )
        return obs.astype(np.int64)[None]

    # ------------------------------------------------------------------ pymdp API
    def reset(self, init_qs=None):
        """Beliefs back to uniform (pymdp's choice, not D) and time to zero."""
        self.curr_timestep = 0
        if init_qs is None:
            self.qs = _obj_array([np.full(s, 1.0 / s) for s in self.num_states])
        else:
            self.qs = init_qs
        return self.qs

    def step_time(self):
        self.prev_actions = (
            [self.action] if self.prev_actions is None else [*self.prev_actions, self.action]
        )
        self.curr_timestep += 1
        return self.curr_timestep

    def infer_states(self, observation, distr_obs=False):
        """Posterior over states given one outcome index per modality."""
        if distr_obs:
            raise ConfigurationError(
                "distributional observations (distr_obs=True) are not supported"
            )
        obs = self._obs_array(observation)
        A, B = self._batch(self.A), self._batch(self.B)
        if self.action is not None:
            actions = np.asarray(self.action, dtype=np.int64)[None]
            prior = empirical_prior(self._qs_batch(), B, self._model.B_deps, actions)
        else:
            prior = [np.asarray(d, dtype=np.float64)[None] for d in self.D]
        log_lik = joint_log_likelihood(A, self._model.A_deps, tuple(self.num_states), obs)
        qs, free_energy = infer_states(
            log_lik,
            prior,
            num_iter=self.inference_params.get("num_iter", 10),
            tolerance=self.inference_params.get("dF_tol", 0.001),
        )
        self.qs = _obj_array([q[0] for q in qs])
        self.F = float(free_energy[0])
        if self.save_belief_hist:
            self.qs_hist.append(self.qs)
        return self.qs

    def infer_policies(self):
        """``(q_pi, G)`` over the agent's policies; G is the negative expected free energy."""
        G = expected_free_energy(
            self._qs_batch(),
            self._batch(self.A),
            self._batch(self.B),
            self._batch(self.C),
            self._model.A_deps,
            self._model.B_deps,
            self._model.policies,
            self._efe,
            pA=None if self.pA is None else self._batch(self.pA),
            pB=None if self.pB is None else self._batch(self.pB),
        )
        q_pi = policy_posterior(G, self.gamma, log_stable(np.asarray(self.E, dtype=np.float64)))
        self.q_pi, self.G = q_pi[0], G[0]
        if self.save_belief_hist:
            self.q_pi_hist.append(self.q_pi)
        return self.q_pi, self.G

    def sample_action(self):
        """Choose a control per factor; returns a float array ``(F,)`` as pymdp does."""
        actions = select_actions(
            np.asarray(self.q_pi, dtype=np.float64)[None],
            self._model.policies,
            tuple(self.num_controls),
            selection=self.action_selection,
            sampling=self.sampling_mode,
            alpha=self.alpha,
            rng=self.rng,
        )
        self.action = actions[0].astype(np.float64)
        self.step_time()
        return self.action

    def _learning_modalities(self) -> list[int]:
        return (
            list(range(self.num_modalities))
            if self.modalities_to_learn == "all"
            else list(self.modalities_to_learn)
        )

    def _learning_factors(self) -> list[int]:
        return (
            list(range(self.num_factors))
            if self.factors_to_learn == "all"
            else list(self.factors_to_learn)
        )

    def update_A(self, obs):
        """Dirichlet update of ``pA`` from an observation and the current ``qs``."""
        if self.pA is None:
            raise ConfigurationError("update_A needs pA (Dirichlet concentrations) at construction")
        obs = self._obs_array(obs)
        qA = [np.array(p, dtype=np.float64)[None] for p in self.pA]
        masks = [np.asarray(a)[None] > 0 for a in self.A]  # pymdp learns where A > 0
        learn = tuple(self._learning_modalities())
        update_pA(qA, self._model.A_deps, obs, self._qs_batch(), self.lr_pA, learn, masks)
        self.pA = _obj_array([q[0] for q in qA])
        self.A = _obj_array(_normalised([q[0] for q in qA]))
        return self.pA

    def update_B(self, qs_prev):
        """Dirichlet update of ``pB`` from the last transition (``qs_prev`` → ``qs``)."""
        if self.pB is None:
            raise ConfigurationError("update_B needs pB (Dirichlet concentrations) at construction")
        if self.action is None:
            raise ConfigurationError("update_B needs an action taken since qs_prev")
        qB = [np.array(p, dtype=np.float64)[None] for p in self.pB]
        masks = [np.asarray(b)[None] > 0 for b in self.B]  # pymdp learns where B > 0
        update_pB(
            qB,
            self._model.B_deps,
            np.asarray(self.action, dtype=np.int64)[None],
            self._qs_batch(),
            [np.asarray(q, dtype=np.float64)[None] for q in qs_prev],
            self.lr_pB,
            tuple(self._learning_factors()),
            masks,
        )
        self.pB = _obj_array([q[0] for q in qB])
        self.B = _obj_array(_normalised([q[0] for q in qB]))
        return self.pB

    def update_D(self, qs_t0=None):
        """Dirichlet update of ``pD`` from beliefs about the initial state."""
        if self.pD is None:
            raise ConfigurationError("update_D needs pD (Dirichlet concentrations) at construction")
        if qs_t0 is None:
            if not self.save_belief_hist or not self.qs_hist:
                raise ConfigurationError(
                    "update_D needs qs_t0, or save_belief_hist=True and one step taken"
                )
            qs_t0 = self.qs_hist[0]
        learn = self._learning_factors()
        qD = [np.array(p, dtype=np.float64) for p in self.pD]
        for f in learn:
            qD[f] = qD[f] + self.lr_pD * np.asarray(qs_t0[f]) * (qD[f] > 0)
        self.pD = _obj_array(qD)
        self.D = _obj_array(_normalised(qD))
        return self.pD
