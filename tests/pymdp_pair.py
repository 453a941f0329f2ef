"""Our compat Agent and pymdp 0.0.7.1's Agent built from the same arrays, side by side."""

from __future__ import annotations

import copy

import numpy as np

from freeagentics.compat.pymdp import Agent

TOL = 1e-9


def pair(pymdp_agent_cls, **kwargs):
    """``(ours, theirs)`` built from deep copies of the same keyword arguments."""
    ours = Agent(**copy.deepcopy(kwargs))
    theirs = pymdp_agent_cls(**copy.deepcopy(kwargs))
    return ours, theirs


def assert_nested_close(ours, theirs, what: str = "", tol: float = TOL) -> None:
    """Equal structure (object arrays / lists nest the same way) and values within ``tol``."""
    if isinstance(theirs, np.ndarray) and theirs.dtype != object:
        np.testing.assert_allclose(
            np.asarray(ours, dtype=float), theirs.astype(float), atol=tol, rtol=0, err_msg=what
        )
        return
    if np.isscalar(theirs):
        assert abs(float(ours) - float(theirs)) <= tol, f"{what}: {ours} != {theirs}"
        return
    assert len(ours) == len(theirs), f"{what}: {len(ours)} entries, pymdp has {len(theirs)}"
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        assert_nested_close(a, b, f"{what}[{i}]", tol)


def clear_winner(q_pi: np.ndarray, policies, num_controls, mode: str = "marginal") -> bool:
    """True when the deterministic choice is not a near-tie (so both must agree)."""
    if mode == "full":
        top = np.sort(q_pi)[::-1]
        return top.size < 2 or top[0] - top[1] > 1e-8
    for f, u in enumerate(num_controls):
        m = np.zeros(u)
        for p, pol in enumerate(policies):
            m[int(pol[0, f])] += q_pi[p]
        top = np.sort(m)[::-1]
        if top.size > 1 and top[0] - top[1] <= 1e-8:
            return False
    return True


def step_both(ours, theirs, obs, *, distr_obs: bool = False, what: str = "") -> None:
    """One perception-planning-action step of each, compared; ours then follows
    pymdp's action so that near-ties cannot split the trajectories."""
    assert_nested_close(
        ours.infer_states(obs, distr_obs=distr_obs),
        theirs.infer_states(obs, distr_obs=distr_obs),
        f"{what} qs",
    )
    if ours.inference_algo == "MMP":
        assert_nested_close(ours.F, theirs.F, f"{what} F")
    q_pi, G = ours.infer_policies()
    q_pi_ref, G_ref = theirs.infer_policies()
    assert_nested_close(G, G_ref, f"{what} G")
    assert_nested_close(q_pi, q_pi_ref, f"{what} q_pi")
    action = ours.sample_action()
    action_ref = theirs.sample_action()
    if ours.action_selection == "deterministic" and clear_winner(
        q_pi_ref, theirs.policies, theirs.num_controls, ours.sampling_mode
    ):
        np.testing.assert_array_equal(action, action_ref, err_msg=f"{what} action")
    ours.action = np.array(action_ref, dtype=np.float64)
    ours.prev_actions[-1] = ours.action
