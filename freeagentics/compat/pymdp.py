"""The ``Agent`` of pymdp 0.0.7.1, backed by FreeAgentics' kernels.

Switch by changing one import::

    from pymdp.agent import Agent               # before
    from freeagentics.compat.pymdp import Agent # after

Same constructor, methods (``infer_states``, ``infer_policies``, ``sample_action``,
``update_A``, ``update_B``, ``update_D``, ``reset``, ``step_time``,
``set_latest_beliefs``, ``get_future_qs`` and the ``_sample_action_test`` /
``_infer_states_test`` helpers) and attributes (``qs``, ``q_pi``, ``G``, ``F``,
``action``, ``A``, ``B``, ``C``, ``pA``, ``pB``, ``latest_belief`` ...), with 0.0.7.1's
semantics: float64, utility from ``ln softmax(C)`` (``C`` may carry a time axis, one
column per scored step), information gain over the joint outcome of all modalities,
``inference_algo="VANILLA"`` (fixed-point iteration) or ``"MMP"`` (marginal message
passing over ``inference_horizon`` past steps, with ``use_BMA`` or
``policy_sep_prior`` at the edge of the window), observations as indices or, with
``distr_obs=True``, as distributions.

Stochastic choices draw from numpy's global random state exactly as pymdp does (so
``np.random.seed`` reproduces pymdp's choices), or from ``rng`` (a
``numpy.random.Generator``, new keyword) when given.

Where pymdp 0.0.7.1 itself fails, a clear error is raised instead: ``update_A`` and
``update_B`` under MMP, MMP with ``use_param_info_gain`` and ``pB``, MMP with neither
``use_BMA`` nor ``policy_sep_prior``, and the non-gradient MMP variant.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np

from freeagentics._checks import whole_number_at_least
from freeagentics.compat._joint_layout import JointLayout, layout_key, pad_beliefs
from freeagentics.errors import ConfigurationError, ObservationError
from freeagentics.inference import _single_agent as kernels
from freeagentics.inference import sample_categorical, update_pA, update_pB
from freeagentics.inference.mmp import marginal_message_passing
from freeagentics.models import GenerativeModel

__all__ = ["Agent"]

_EMPTY = np.zeros(0)
_ALGORITHMS = ("VANILLA", "MMP")


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


def _average_over_policies(qs_pi, q_pi) -> np.ndarray:
    """Bayesian model average ``sum_p q_pi[p] qs_pi[p][f]`` per factor."""
    out = [np.zeros(np.shape(q)) for q in qs_pi[0]]
    for p, weight in enumerate(q_pi):
        for f in range(len(out)):
            out[f] += qs_pi[p][f] * weight
    return _obj_array(out)


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
        algo = "VANILLA" if inference_algo is None else inference_algo
        if algo not in _ALGORITHMS:
            raise ConfigurationError(
                f"inference_algo {inference_algo!r} is not supported; use one of {_ALGORITHMS}"
            )
        if action_selection not in ("deterministic", "stochastic"):
            raise ConfigurationError(
                "action_selection must be 'deterministic' or 'stochastic', "
                f"got {action_selection!r}"
            )
        if sampling_mode not in ("marginal", "full"):
            raise ConfigurationError(
                f"sampling_mode must be 'marginal' or 'full', got {sampling_mode!r}"
            )
        B_list = _as_arrays(B)
        if num_controls is not None:
            for f, (b, u) in enumerate(zip(B_list, num_controls, strict=True)):
                if (b.shape[-1] if b.ndim == 3 else 1) != u:
                    raise ConfigurationError(
                        f"num_controls[{f}] = {u} but B[{f}] has {b.shape[-1]} controls"
                    )
        C_list = _as_arrays(C)
        if C_list is not None:
            for m, c in enumerate(C_list):
                if c.ndim not in (1, 2) or not np.isfinite(c).all():
                    raise ConfigurationError(
                        f"C[{m}] must be finite, one value per outcome (optionally one column "
                        f"per step), got shape {c.shape}"
                    )
        if policies is not None:
            policies = np.stack([np.asarray(p) for p in policies])
        if D is None and pD is not None:
            D = _normalised(_as_arrays(pD))
        model = GenerativeModel.create(
            _as_arrays(A),
            B_list,
            None if C_list is None else [c if c.ndim == 1 else c[:, 0] for c in C_list],
            _as_arrays(D),
            E,
            policies=policies,
            policy_len=policy_len,
            control_factors=control_fac_idx,
        )
        self.A = _obj_array([np.array(a) for a in model.A])
        self.B = _obj_array([np.array(b) for b in model.B])
        self.C = _obj_array(
            [np.array(c) for c in model.C] if C_list is None else [np.array(c) for c in C_list]
        )
        self.D = _obj_array([np.array(d) for d in model.D])
        self.E = np.array(model.E)
        self.pA = None if pA is None else _obj_array(_as_arrays(pA))
        self.pB = None if pB is None else _obj_array(_as_arrays(pB))
        self.pD = None if pD is None else _obj_array(_as_arrays(pD))
        self.policies = [np.array(p) for p in model.policies]
        self._policy_array = np.ascontiguousarray(model.policies, dtype=np.int64)
        self.num_obs, self.num_states = list(model.num_obs), list(model.num_states)
        self.num_modalities, self.num_factors = model.num_modalities, model.num_factors
        self.num_controls = list(model.num_controls)
        self.control_fac_idx = list(model.control_factors)
        self.policy_len = model.policy_len
        self.gamma, self.alpha = gamma, alpha
        self.action_selection, self.sampling_mode = action_selection, sampling_mode
        self.use_utility = use_utility
        self.use_states_info_gain = use_states_info_gain
        self.use_param_info_gain = use_param_info_gain
        self.modalities_to_learn, self.factors_to_learn = modalities_to_learn, factors_to_learn
        self.lr_pA, self.lr_pB, self.lr_pD = lr_pA, lr_pB, lr_pD
        self.rng = rng

        self.edge_handling_params = {"use_BMA": use_BMA, "policy_sep_prior": policy_sep_prior}
        if policy_sep_prior and use_BMA:
            warnings.warn(
                "policy_sep_prior=True and use_BMA=True are exclusive; using use_BMA=False",
                stacklevel=2,
            )
            self.edge_handling_params["use_BMA"] = False
        self.inference_algo = algo
        if algo == "VANILLA":
            defaults = {"num_iter": 10, "dF": 1.0, "dF_tol": 0.001}
            if inference_horizon > 1:
                warnings.warn("inference_horizon is 1 with inference_algo='VANILLA'", stacklevel=2)
            self.inference_horizon = 1
        else:
            defaults = {"num_iter": 10, "grad_descent": True, "tau": 0.25}
            self.inference_horizon = whole_number_at_least(
                "inference_horizon", inference_horizon, 1
            )
            self._check_mmp_options()
        self.inference_params = {**defaults, **(inference_params or {})}
        if algo == "MMP" and not self.inference_params.get("grad_descent", True):
            raise ConfigurationError(
                "MMP without gradient descent (grad_descent=False) is not supported"
            )

        self.save_belief_hist = save_belief_hist
        if save_belief_hist:
            self.qs_hist, self.q_pi_hist = [], []
        self.prev_obs = []
        self._obs_hist: list[tuple[bool, np.ndarray]] = []
        self._layout_cache: tuple[list, JointLayout] | None = None
        self._qs_view: tuple[np.ndarray, np.ndarray] | None = None
        self.reset()
        self.action = None
        self.prev_actions = None

    def _check_mmp_options(self) -> None:
        edge = self.edge_handling_params
        if not edge["use_BMA"] and not edge["policy_sep_prior"]:
            raise ConfigurationError(
                "MMP needs use_BMA=True or policy_sep_prior=True to carry beliefs past the "
                "inference horizon"
            )
        if self.use_param_info_gain and self.pB is not None:
            raise ConfigurationError(
                "MMP with use_param_info_gain and pB is not supported (pymdp 0.0.7.1 fails on it)"
            )

    # ------------------------------------------------------------------ layout
    def _layout(self, horizon: int) -> JointLayout:
        """The kernels' view of the model, rebuilt only when an array or flag changed."""
        flags = (
            horizon,
            self.use_utility,
            self.use_states_info_gain,
            self.use_param_info_gain,
            id(self.policies),
        )
        groups = (self.A, self.B, self.C, self.E)
        if self.use_param_info_gain:
            groups += (self.pA, self.pB)
        key = layout_key(groups, flags)
        if self._layout_cache is not None and self._layout_cache[0] == key:
            return self._layout_cache[1]
        if len(self.policies) != self._policy_array.shape[0]:
            self._policy_array = np.ascontiguousarray(np.stack(self.policies), dtype=np.int64)
        layout = JointLayout.build(
            self.A,
            self.B,
            self.C,
            self.E,
            self.pA,
            self.pB,
            self._policy_array,
            horizon=horizon,
            use_utility=self.use_utility,
            use_states_info_gain=self.use_states_info_gain,
            use_param_info_gain=self.use_param_info_gain,
        )
        self._layout_cache = (key, layout)
        return layout

    def _qs_padded(self, layout: JointLayout) -> np.ndarray:
        """``self.qs`` as ``(F, Smax)``: the kernel's own output while it is unchanged."""
        view = self._qs_view
        qs = self.qs
        if (
            view is not None
            and qs is view[1]
            and all(qs[f] is view[2][f] for f in range(len(view[2])))
        ):
            return view[0]
        return pad_beliefs(qs, layout.smax)

    def _publish_qs(self, padded: np.ndarray, layout: JointLayout) -> np.ndarray:
        views = [padded[f, :n] for f, n in enumerate(self.num_states)]
        out = _obj_array(views)
        self._qs_view = (padded, out, views)
        return out

    # ------------------------------------------------------------------ observations
    def _obs_indices(self, observation) -> np.ndarray:
        """One outcome index per modality → ``(M,)`` int64, or a clear error."""
        num_obs = self.num_obs
        if type(observation) in (list, tuple) and len(observation) == len(num_obs):
            out = np.empty(len(num_obs), dtype=np.int64)
            for m, o in enumerate(observation):
                if type(o) is int and 0 <= o < num_obs[m]:
                    out[m] = o
                else:
                    break
            else:
                return out
        obs = np.atleast_1d(np.asarray(observation))
        if obs.dtype == object or obs.shape != (self.num_modalities,):
            raise ObservationError(
                f"observation {observation!r} has {obs.size} entries, expected one outcome "
                f"index per modality ({self.num_modalities})"
            )
        for m, (o, size) in enumerate(zip(obs, num_obs, strict=True)):
            if not np.isreal(o) or not float(o).is_integer() or not 0 <= o < size:
                raise ObservationError(
                    f"observation for modality {m} is {o.item()!r}, "
                    f"expected an integer in 0..{size - 1}"
                )
        return obs.astype(np.int64)

    def _obs_distributions(self, observation) -> np.ndarray:
        """One distribution over outcomes per modality → ``(M, Omax)``."""
        if isinstance(observation, np.ndarray) and observation.dtype != object:
            observation = [observation] if self.num_modalities == 1 else list(observation)
        if len(observation) != self.num_modalities:
            raise ObservationError(
                f"distributional observation has {len(observation)} entries, expected one "
                f"distribution per modality ({self.num_modalities})"
            )
        out = np.zeros((self.num_modalities, max(self.num_obs)))
        for m, (p, size) in enumerate(zip(observation, self.num_obs, strict=True)):
            p = np.asarray(p, dtype=np.float64).reshape(-1)
            if p.shape != (size,) or not np.isfinite(p).all() or (p < 0).any():
                raise ObservationError(
                    f"observation for modality {m} must be {size} non-negative finite "
                    f"probabilities, got shape {p.shape}"
                )
            out[m, :size] = p
        return out

    def _log_likelihood(self, layout: JointLayout, observation, distr_obs: bool):
        if distr_obs:
            dists = self._obs_distributions(observation)
            return kernels.joint_loglik_from_dists(layout.A, dists, layout.num_obs), (True, dists)
        obs = self._obs_indices(observation)
        return kernels.joint_loglik_from_indices(layout.A, obs), (False, obs)

    # ------------------------------------------------------------------ pymdp API
    def reset(self, init_qs=None):
        """Beliefs back to uniform (pymdp's choice, not D) and time to zero.

        Under MMP ``qs[p][t][f]`` is per policy and step, only ``t = 0`` filled, and the
        belief at the edge of the window (``latest_belief``) is ``D``."""
        self.curr_timestep = 0
        if init_qs is not None:
            self.qs = init_qs
            return self.qs
        if self.inference_algo == "VANILLA":
            self.qs = _obj_array([np.full(s, 1.0 / s) for s in self.num_states])
            return self.qs
        self.qs = np.empty(len(self.policies), dtype=object)
        for p in range(len(self.policies)):
            self.qs[p] = np.empty(self.inference_horizon + self.policy_len + 1, dtype=object)
            self.qs[p][0] = _obj_array([np.full(s, 1.0 / s) for s in self.num_states])
        if self.edge_handling_params["policy_sep_prior"]:
            first = _obj_array([copy.deepcopy(self.D) for _ in self.policies])
            self.set_latest_beliefs(last_belief=first)
        else:
            self.set_latest_beliefs(last_belief=self.D)
        return self.qs

    def step_time(self):
        """Advance time; under MMP move the edge of the window once it is full."""
        if self.prev_actions is None:
            self.prev_actions = [self.action]
        else:
            self.prev_actions.append(self.action)
        self.curr_timestep += 1
        if self.inference_algo == "MMP" and self.curr_timestep - self.inference_horizon >= 0:
            self.set_latest_beliefs()
        return self.curr_timestep

    def set_latest_beliefs(self, last_belief=None):
        """The belief just before the window: per policy, or their average (``use_BMA``)."""
        if last_belief is None:
            last_belief = _obj_array(
                [copy.deepcopy(self.qs[p][0]) for p in range(len(self.policies))]
            )
        begin = self.curr_timestep - self.inference_horizon
        if self.edge_handling_params["use_BMA"] and begin >= 0:
            if hasattr(self, "q_pi_hist") and begin >= len(self.q_pi_hist):
                raise ConfigurationError(
                    f"use_BMA with save_belief_hist needs q_pi from step {begin}, but "
                    f"pymdp's history keeps the last {len(self.q_pi_hist)} (pymdp 0.0.7.1 "
                    "fails here too); use save_belief_hist=False or policy_sep_prior=True"
                )
            weights = self.q_pi_hist[begin] if hasattr(self, "q_pi_hist") else self.q_pi
            self.latest_belief = _average_over_policies(last_belief, weights)
        else:
            self.latest_belief = last_belief
        return self.latest_belief

    def get_future_qs(self):
        """The last ``policy_len + 1`` beliefs (now and the plan) of each policy."""
        out = np.empty(len(self.qs), dtype=object)
        for p in range(len(self.qs)):
            out[p] = self.qs[p][-(self.policy_len + 1) :]
        return out

    def infer_states(self, observation, distr_obs=False):
        """Posterior over states given one outcome index (or, with ``distr_obs``, one
        distribution) per modality."""
        if self.inference_algo == "MMP":
            return self._infer_states_mmp(observation, distr_obs, record=False)[0]
        layout = self._layout(self.policy_len)
        loglik, _ = self._log_likelihood(layout, observation, distr_obs)
        if self.action is not None:
            action = np.asarray(self.action).astype(np.int64)
            prior = np.zeros((self.num_factors, layout.smax))
            kernels.empirical_prior_into(
                layout.B, self._qs_padded(layout), layout.num_states, action, prior
            )
        else:
            prior = pad_beliefs(self.D, layout.smax)
        params = self.inference_params
        qs, free_energy = kernels.fpi_states(
            loglik,
            prior,
            layout.num_states,
            layout.idx,
            int(params.get("num_iter", 10)),
            float(params.get("dF", 1.0)),
            float(params.get("dF_tol", 0.001)),
        )
        self.qs = self._publish_qs(qs, layout)
        self.F = float(free_energy)
        if self.save_belief_hist:
            self.qs_hist.append(self.qs)
        return self.qs

    def _infer_states_test(self, observation, distr_obs=False):
        """MMP state inference that also returns each iteration's beliefs ``xn`` and
        prediction errors ``vn`` (``xn[p][itr][f]``: ``(S_f, window)``), as pymdp's."""
        if self.inference_algo != "MMP":
            raise ConfigurationError(
                "_infer_states_test records MMP iterations; use inference_algo='MMP'"
            )
        return self._infer_states_mmp(observation, distr_obs, record=True)

    def _infer_states_mmp(self, observation, distr_obs: bool, record: bool):
        layout = self._layout(self.policy_len + 1)
        _, processed = self._log_likelihood(layout, observation, distr_obs)
        self.prev_obs.append(observation if distr_obs else tuple(observation))
        self._obs_hist.append(processed)
        horizon = self.inference_horizon
        if len(self.prev_obs) > horizon:
            latest_obs = self._obs_hist[-horizon:]
            latest_actions = self.prev_actions[-(horizon - 1) :]
        else:
            latest_obs = self._obs_hist
            latest_actions = self.prev_actions
        lik_seq = [self._joint_likelihood(layout, is_dist, o) for is_dist, o in latest_obs]
        actions = self._policy_array
        if latest_actions is not None:
            past = np.stack([np.asarray(a) for a in latest_actions]).astype(np.int64)
            past = np.broadcast_to(past, (actions.shape[0], *past.shape))
            actions = np.concatenate([past, actions], axis=1)
        if self.edge_handling_params["policy_sep_prior"]:
            prior = [
                np.stack([np.asarray(self.latest_belief[p][f]) for p in range(len(self.policies))])
                for f in range(self.num_factors)
            ]
        else:
            prior = [
                np.asarray(self.latest_belief[f], dtype=np.float64) for f in range(self.num_factors)
            ]
        result = marginal_message_passing(
            lik_seq,
            [np.asarray(b, dtype=np.float64) for b in self.B],
            actions,
            prior,
            self.policy_len,
            num_iter=int(self.inference_params.get("num_iter", 10)),
            tau=float(self.inference_params.get("tau", 0.25)),
            record=record,
        )
        window = len(result.qs)
        qs = np.empty(len(self.policies), dtype=object)
        for p in range(len(self.policies)):
            qs[p] = np.empty(window, dtype=object)
            for t in range(window):
                qs[p][t] = _obj_array([result.qs[t][f][p].copy() for f in range(self.num_factors)])
        self.F = result.free_energy
        if self.save_belief_hist:
            self.qs_hist.append(qs)
        self.qs = qs
        if not record:
            return qs, None, None
        num_iter = result.beliefs[0].shape[0]
        xn = np.empty(len(self.policies), dtype=object)
        vn = np.empty(len(self.policies), dtype=object)
        for p in range(len(self.policies)):
            xn[p] = [_obj_array([b[i, p] for b in result.beliefs]) for i in range(num_iter)]
            vn[p] = [_obj_array([e[i, p] for e in result.errors]) for i in range(num_iter)]
        return qs, xn, vn

    def _joint_likelihood(self, layout: JointLayout, is_dist: bool, obs: np.ndarray) -> np.ndarray:
        """``p(o | s)`` over the joint state, shaped ``(S_0, ..., S_{F-1})``."""
        if is_dist:
            rows = np.einsum("mo,mos->ms", obs, layout.A)
        else:
            rows = layout.A[np.arange(len(obs)), obs]
        return np.prod(rows, axis=0).reshape(self.num_states)

    def infer_policies(self):
        """``(q_pi, G)`` over the agent's policies; G is the negative expected free energy."""
        if self.inference_algo == "MMP":
            layout = self._layout(self.policy_len + 1)
            future = self.get_future_qs()
            horizon = self.policy_len + 1
            qs_seq = np.zeros((len(self.policies), horizon, self.num_factors, layout.smax))
            for p in range(len(self.policies)):
                for t in range(horizon):
                    for f in range(self.num_factors):
                        q = future[p][t][f]
                        qs_seq[p, t, f, : q.shape[0]] = q
            free_energy = np.asarray(self.F, dtype=np.float64)
            qs_first = np.zeros((0, 0))
        else:
            layout = self._layout(self.policy_len)
            qs_first = self._qs_padded(layout)
            qs_seq = kernels.project_states(qs_first, layout.B, layout.num_states, layout.policies)
            free_energy = _EMPTY
        G = kernels.policy_scores(
            qs_seq,
            layout.A,
            layout.num_obs,
            layout.idx,
            layout.log_C,
            layout.po,
            layout.neg_entropy,
            layout.wA,
            layout.wB,
            qs_first,
            layout.policies,
            layout.num_states,
        )
        q_pi = kernels.posterior_over_policies(G, float(self.gamma), layout.log_E, free_energy)
        if self.save_belief_hist:
            self.q_pi_hist.append(q_pi)
            if len(self.q_pi_hist) > self.inference_horizon:
                self.q_pi_hist = self.q_pi_hist[-(self.inference_horizon - 1) :]
        self.q_pi, self.G = q_pi, G
        return q_pi, G

    def _choose(self):
        layout = (
            self._layout_cache[1]
            if self._layout_cache is not None
            else self._layout(self.policy_len)
        )
        stochastic = self.action_selection == "stochastic"
        full = self.sampling_mode == "full"
        action, probs = kernels.select_controls(
            np.asarray(self.q_pi, dtype=np.float64),
            layout.first_actions,
            layout.num_controls,
            float(self.alpha),
            stochastic,
            full,
        )
        if stochastic:
            if full:
                chosen = self._draw(probs[0])
                action[:] = layout.first_actions[chosen]
            else:
                for f, n in enumerate(self.num_controls):
                    action[f] = self._draw(probs[f, :n])
        self.action = action
        self.step_time()
        if full:
            return action, probs[0]
        return action, _obj_array([probs[f, :n] for f, n in enumerate(self.num_controls)])

    def _draw(self, p: np.ndarray) -> int:
        if self.rng is None:  # numpy's global state, exactly as pymdp's utils.sample
            return int(np.where(np.random.multinomial(1, p) == 1)[0][0])  # noqa: NPY002
        return int(sample_categorical(p[None], self.rng)[0])

    def sample_action(self):
        """Choose a control per factor; returns a float array ``(F,)`` as pymdp does."""
        return self._choose()[0]

    def _sample_action_test(self):
        """:meth:`sample_action` that also returns the distribution it chose from: per
        factor ``softmax(alpha ln marginal)`` (zeros when deterministic), or over
        policies with ``sampling_mode="full"``."""
        return self._choose()

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

    def _refuse_under_mmp(self, method: str) -> None:
        if self.inference_algo == "MMP":
            raise ConfigurationError(
                f"{method} needs beliefs at one step; under MMP qs is per policy and step "
                "(pymdp 0.0.7.1 fails here too)"
            )

    def _qs_batch(self) -> list[np.ndarray]:
        return [np.asarray(q, dtype=np.float64)[None] for q in self.qs]

    def update_A(self, obs):
        """Dirichlet update of ``pA`` from an observation and the current ``qs``."""
        if self.pA is None:
            raise ConfigurationError("update_A needs pA (Dirichlet concentrations) at construction")
        self._refuse_under_mmp("update_A")
        obs = self._obs_indices(obs)[None]
        qA = [np.array(p, dtype=np.float64)[None] for p in self.pA]
        masks = [np.asarray(a)[None] > 0 for a in self.A]  # pymdp learns where A > 0
        learn = tuple(self._learning_modalities())
        A_deps = tuple(tuple(range(self.num_factors)) for _ in range(self.num_modalities))
        update_pA(qA, A_deps, obs, self._qs_batch(), self.lr_pA, learn, masks)
        self.pA = _obj_array([q[0] for q in qA])
        self.A = _obj_array(_normalised([q[0] for q in qA]))
        return self.pA

    def update_B(self, qs_prev):
        """Dirichlet update of ``pB`` from the last transition (``qs_prev`` → ``qs``)."""
        if self.pB is None:
            raise ConfigurationError("update_B needs pB (Dirichlet concentrations) at construction")
        self._refuse_under_mmp("update_B")
        if self.action is None:
            raise ConfigurationError("update_B needs an action taken since qs_prev")
        qB = [np.array(p, dtype=np.float64)[None] for p in self.pB]
        masks = [np.asarray(b)[None] > 0 for b in self.B]  # pymdp learns where B > 0
        update_pB(
            qB,
            tuple((f,) for f in range(self.num_factors)),
            np.asarray(self.action).astype(np.int64)[None],
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
        """Dirichlet update of ``pD`` from beliefs about the initial state: ``qs_t0``, or
        the first posterior (VANILLA, ``save_belief_hist``), or under MMP the belief at
        the edge of the window (averaged over policies with ``policy_sep_prior``)."""
        if self.pD is None:
            raise ConfigurationError("update_D needs pD (Dirichlet concentrations) at construction")
        if self.inference_algo == "MMP":
            if self.edge_handling_params["use_BMA"]:
                qs_t0 = self.latest_belief
            else:
                if hasattr(self, "q_pi_hist"):
                    begin = max(0, self.curr_timestep - self.inference_horizon)
                    q_pi_t0 = np.copy(self.q_pi_hist[begin])
                else:
                    q_pi_t0 = np.copy(self.q_pi)
                qs_t0 = _average_over_policies(self.latest_belief, q_pi_t0)
        elif qs_t0 is None:
            if not self.save_belief_hist or not self.qs_hist:
                raise ConfigurationError(
                    "update_D needs qs_t0, or save_belief_hist=True and one step taken"
                )
            qs_t0 = self.qs_hist[0]
        qD = [np.array(p, dtype=np.float64) for p in self.pD]
        for f in self._learning_factors():
            qD[f] = qD[f] + self.lr_pD * np.asarray(qs_t0[f]) * (qD[f] > 0)
        self.pD = _obj_array(qD)
        self.D = _obj_array(_normalised(qD))
        return self.pD
