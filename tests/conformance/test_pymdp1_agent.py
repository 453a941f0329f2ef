"""``freeagentics.compat.pymdp1.Agent`` against pymdp 1.x's ``Agent``, loop for loop.

Random models with factor dependencies, batches of agents, both sampling modes, index
and categorical observations: qs, q_pi, G and the next empirical prior must agree to
1e-6 at every step, and the deterministic actions wherever the choice is not a near-tie.
pymdp 1.x runs in its own process and environment (``FREEAGENTICS_PYMDP1_PATH``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from model_factory import random_model
from pymdp1_peer import run_pymdp1

from freeagentics.compat.pymdp1 import Agent

WORKER = Path(__file__).parent / "peers" / "pymdp1_agent_worker.py"
TOL = 1e-6
STEPS = 4

pytestmark = pytest.mark.slow


def _case(seed: int) -> dict:
    rm = random_model(2000 + seed, with_deps=True, max_controls=2)
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 4))
    categorical = bool(seed % 3 == 2)
    obs = []
    for _ in range(STEPS):
        if categorical:
            obs.append([rng.dirichlet(np.ones((o,)), size=n).tolist() for o in rm.num_obs])
        else:
            obs.append([rng.integers(o, size=n).tolist() for o in rm.num_obs])
    return {
        "A": [a.tolist() for a in rm.A],
        "B": [b.tolist() for b in rm.B],
        "C": [c.tolist() for c in rm.C],
        "D": [d.tolist() for d in rm.D],
        "A_deps": rm.A_deps,
        "B_deps": rm.B_deps,
        "policy_len": int(rng.integers(1, 3)),
        "gamma": float(rng.choice([1.0, 4.0, 16.0])),
        "batch_size": n,
        "sampling_mode": ["full", "marginal"][seed % 2],
        "categorical": categorical,
        "obs": obs,
    }


@pytest.fixture(scope="module")
def cases_and_results():
    cases = [_case(seed) for seed in range(8)]
    return cases, run_pymdp1(WORKER, cases)


def _close(ours, theirs, what: str) -> None:
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), atol=TOL, rtol=0, err_msg=what)


def _clear_winner(q_pi: np.ndarray, policies: np.ndarray, mode: str, num_controls) -> bool:
    if mode == "full":
        top = np.sort(q_pi)[::-1]
        return top.size < 2 or top[0] - top[1] > 1e-8
    for f, u in enumerate(num_controls):
        m = np.bincount(policies[:, 0, f], weights=q_pi, minlength=u)
        top = np.sort(m)[::-1]
        if top.size > 1 and top[0] - top[1] <= 1e-8:
            return False
    return True


def test_agent_loop_matches_pymdp1(cases_and_results):
    cases, results = cases_and_results
    for i, (case, steps) in enumerate(zip(cases, results, strict=True)):
        n = case["batch_size"]
        agent = Agent(
            A=[np.asarray(a)[None] for a in case["A"]],
            B=[np.asarray(b)[None] for b in case["B"]],
            C=[np.broadcast_to(np.asarray(c), (n, len(c))) for c in case["C"]],
            D=[np.asarray(d) for d in case["D"]],
            A_dependencies=case["A_deps"],
            B_dependencies=case["B_deps"],
            policy_len=case["policy_len"],
            gamma=case["gamma"],
            sampling_mode=case["sampling_mode"],
            categorical_obs=case["categorical"],
            batch_size=n,
            dtype="float64",
        )
        prior = agent.D
        for t, (obs_t, ref) in enumerate(zip(case["obs"], steps, strict=True)):
            where = f"case {i} step {t}"
            qs = agent.infer_states([np.asarray(o) for o in obs_t], prior)
            for f, (q, r) in enumerate(zip(qs, ref["qs"], strict=True)):
                assert q.shape == (n, 1, len(case["D"][f]))
                _close(q, r, f"{where} qs[{f}]")
            q_pi, G = agent.infer_policies(qs)
            _close(G, ref["G"], f"{where} G")
            _close(q_pi, ref["q_pi"], f"{where} q_pi")
            action = agent.sample_action(q_pi)
            assert action.shape == (n, len(case["B"]))
            for k in range(n):
                if _clear_winner(
                    np.asarray(ref["q_pi"][k]),
                    agent.policies.policy_arr,
                    case["sampling_mode"],
                    agent.num_controls,
                ):
                    assert action[k].tolist() == ref["action"][k], f"{where} agent {k}"
            prior = agent.update_empirical_prior(np.asarray(ref["action"]), qs)
            for f, (p, r) in enumerate(zip(prior, ref["prior"], strict=True)):
                _close(p, r, f"{where} prior[{f}]")
