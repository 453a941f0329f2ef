"""Runs inside pymdp 1.x's own environment (no FreeAgentics import): reads cases as JSON
on stdin, writes pymdp's G, q_pi and empirical priors as JSON on stdout.

Each case: A, B, C (lists of nested lists), A_deps, B_deps, policy_len, gamma, qs
(per factor a list), action (per factor an int).
"""

from __future__ import annotations

import json
import sys

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from pymdp.agent import Agent  # noqa: E402


def run(case: dict) -> dict:
    batch = lambda arrays: [jnp.asarray(np.asarray(a, dtype=np.float64))[None] for a in arrays]  # noqa: E731
    agent = Agent(
        A=batch(case["A"]),
        B=batch(case["B"]),
        C=batch(case["C"]),
        A_dependencies=case["A_deps"],
        B_dependencies=case["B_deps"],
        policy_len=case["policy_len"],
        gamma=case["gamma"],
        batch_size=1,
    )
    qs = [jnp.asarray(np.asarray(q, dtype=np.float64))[None, None] for q in case["qs"]]
    q_pi, G = agent.infer_policies(qs)
    action = jnp.asarray(np.asarray(case["action"]))[None]
    prior = agent.update_empirical_prior(action, qs)
    return {
        "G": np.asarray(G[0]).tolist(),
        "q_pi": np.asarray(q_pi[0]).tolist(),
        "prior": [np.asarray(p[0]).tolist() for p in prior],
        "policies": np.asarray(agent.policies.policy_arr).tolist(),
    }


if __name__ == "__main__":
    cases = json.load(sys.stdin)
    json.dump([run(c) for c in cases], sys.stdout)
