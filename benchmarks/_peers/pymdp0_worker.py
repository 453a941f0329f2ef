"""B1 cell worker for inferactively-pymdp 0.0.7.x (numpy): one ``Agent`` object per agent.

Each tick loops over the agents in Python: ``infer_states(obs)`` (its empirical prior
comes from the agent's own last action), ``update_A(obs)`` in learner cases,
``infer_policies()``, ``sample_action()``. Settings as in the other implementations:
gamma, alpha, policy_len and the fixed-point sweeps from the model file, utility and
state information gain on, deterministic selection over action marginals; float64
(pymdp 0.0.7.x has no other dtype).

Memory: baseline after importing and stepping one agent (twice, each then deleted); the RSS after
the timed ticks of the N agents is the "N agents" reading.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from benchmarks._cell import SampledProcess, peer_cell, run_cell


def _object_array(arrays: list[np.ndarray]) -> np.ndarray:
    out = np.empty(len(arrays), dtype=object)
    for i, a in enumerate(arrays):
        out[i] = a
    return out


def _agents(model: dict[str, Any], n: int) -> list:
    """``n`` agents sharing A, B, C, D; learners get their own Dirichlet counts pA."""
    from pymdp.agent import Agent

    A, B = _object_array(model["A"]), _object_array([model["B"]])
    C, D = _object_array(model["C"]), _object_array([model["D"]])
    learn = model["learn_A"]
    return [
        Agent(
            A=A,
            B=B,
            C=C,
            D=D,
            pA=_object_array([a.copy() for a in model["A"]]) if learn else None,
            policy_len=model["policy_len"],
            gamma=model["gamma"],
            alpha=model["alpha"],
            use_utility=True,
            use_states_info_gain=True,
            action_selection="deterministic",
            sampling_mode="marginal",
            inference_params={"num_iter": model["num_iter"], "dF": 1.0, "dF_tol": 0.001},
        )
        for _ in range(n)
    ]


def _ticker(model: dict[str, Any], n: int, seed: int):
    """A tick function over ``n`` fresh agents and their generative process."""
    agents = _agents(model, n)
    learn = model["learn_A"]
    process = SampledProcess(model["A"], model["B"], model["D"], n, seed)

    def tick() -> float:
        obs = process.observe().tolist()
        actions = np.empty(n, np.int64)
        start = time.perf_counter()
        for i, agent in enumerate(agents):
            agent.infer_states(obs[i])
            if learn:
                agent.update_A(obs[i])
            agent.infer_policies()
            actions[i] = int(agent.sample_action()[0])
        elapsed = time.perf_counter() - start
        process.advance(actions)
        return elapsed

    return tick


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    from importlib.metadata import version

    return {
        **peer_cell(_ticker, spec, warm_ticks=2),
        "dtype": "float64",
        "pymdp_version": version("inferactively-pymdp"),
    }


if __name__ == "__main__":
    run_cell(measure)
