"""B1 T-maze worker for inferactively-pymdp 1.0.x: one agent (batch of one), jitted
calls, float32, on the observations the lockstep run recorded (see ``benchmarks._tmaze``).

Runs in pymdp 1.x's own environment: it must not import freeagentics or numba.
Settings as the compat agents: gamma = alpha = 16, deterministic choice over action
marginals, 10 fixed-point sweeps, only the location controllable. Timed per step:
``infer_states``, ``infer_policies``, ``sample_action``, ``update_empirical_prior``
and the action on the host.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from benchmarks._cell import run_cell


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    import jax
    import jax.numpy as jnp
    import jax.random as jr
    from pymdp.agent import Agent

    model = spec["model"]
    batch = lambda arrays: [jnp.asarray(np.asarray(a, dtype=np.float32))[None] for a in arrays]  # noqa: E731
    agent = Agent(
        A=batch(model["A"]),
        B=batch(model["B"]),
        C=batch(model["C"]),
        D=batch(model["D"]),
        control_fac_idx=[0],
        gamma=16.0,
        alpha=16.0,
        num_iter=10,
        action_selection="deterministic",
        sampling_mode="marginal",
        batch_size=1,
    )
    infer_states = jax.jit(lambda a, o, p: a.infer_states(o, p))
    infer_policies = jax.jit(lambda a, qs: a.infer_policies(qs))
    sample_action = jax.jit(lambda a, q, k: a.sample_action(q, rng_key=k))
    empirical_prior = jax.jit(lambda a, act, qs: a.update_empirical_prior(act, qs))
    keys = jr.split(jr.PRNGKey(0), 2)[1:]

    def step(obs, prior):
        start = time.perf_counter()
        qs = infer_states(agent, [jnp.asarray([o]) for o in obs], prior)
        q_pi, _ = infer_policies(agent, qs)
        action = sample_action(agent, q_pi, keys)
        prior = empirical_prior(agent, action, qs)
        np.asarray(action)
        return time.perf_counter() - start, prior

    observations = spec["observations"]
    trial_steps = spec["trial_steps"]
    prior = agent.D
    for t in range(spec["warmup_trials"] * trial_steps):  # compiles every call
        if t % trial_steps == 0:
            prior = agent.D
        _, prior = step(observations[t % len(observations)], prior)
    times = []
    for t, obs in enumerate(observations):
        if t % trial_steps == 0:
            prior = agent.D
        elapsed, prior = step(obs, prior)
        times.append(elapsed)
    return {
        "times": times,
        "dtype": "float64" if jax.config.jax_enable_x64 else "float32",
        "jax_version": jax.__version__,
    }


if __name__ == "__main__":
    run_cell(measure)
