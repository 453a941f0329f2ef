"""Runs inside pymdp 1.x's own environment (no FreeAgentics import): drives pymdp's
``Agent`` through a loop on given observations and writes what it computed as JSON.

Each case (JSON on stdin): A, B, C, D (lists of nested lists, without batch axis),
A_deps, B_deps, policy_len, gamma, batch_size, sampling_mode, categorical (bool) and
obs: per step, per modality, per agent an outcome index (or a distribution when
categorical). Per step the worker records qs, q_pi, G, the deterministic action and
the empirical prior for the next step; the loop continues with pymdp's own actions.
"""

from __future__ import annotations

import json
import sys

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from pymdp.agent import Agent  # noqa: E402


def _listed(arrays) -> list:
    return [np.asarray(a).tolist() for a in arrays]


def run(case: dict) -> list[dict]:
    n = case["batch_size"]
    batch = lambda arrays: [  # noqa: E731
        jnp.broadcast_to(jnp.asarray(np.asarray(a, dtype=np.float64)), (n, *np.shape(a)))
        for a in arrays
    ]
    agent = Agent(
        A=batch(case["A"]),
        B=batch(case["B"]),
        C=batch(case["C"]),
        D=batch(case["D"]),
        A_dependencies=case["A_deps"],
        B_dependencies=case["B_deps"],
        policy_len=case["policy_len"],
        gamma=case["gamma"],
        sampling_mode=case["sampling_mode"],
        categorical_obs=case["categorical"],
        batch_size=n,
    )
    prior = agent.D
    steps = []
    for obs_t in case["obs"]:
        obs = [jnp.asarray(np.asarray(o)) for o in obs_t]
        qs = agent.infer_states(obs, prior)
        q_pi, G = agent.infer_policies(qs)
        action = agent.sample_action(q_pi)
        prior = agent.update_empirical_prior(action, qs)
        steps.append(
            {
                "qs": _listed(qs),
                "q_pi": np.asarray(q_pi).tolist(),
                "G": np.asarray(G).tolist(),
                "action": np.asarray(action).tolist(),
                "prior": _listed(prior),
            }
        )
    return steps


if __name__ == "__main__":
    cases = json.load(sys.stdin)
    json.dump([run(c) for c in cases], sys.stdout)
