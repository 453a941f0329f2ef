"""B1 cell worker for inferactively-pymdp 1.0.x (JAX): one batched agent of N.

Runs in its own interpreter whose ``PYTHONPATH`` starts with the peer folder
(``FREEAGENTICS_PYMDP1_PATH``), which carries its own numpy/scipy/jax: it must not
import freeagentics or numba.

One step, call by call, each call compiled once with ``jax.jit`` (the Agent is an
equinox module, so it passes through ``jit`` as a pytree): ``infer_states`` from the
observation and the empirical prior, ``infer_parameters`` (learner cases: Dirichlet
update of A), ``infer_policies``, ``sample_action``, ``update_empirical_prior``. The
timed region ends when the actions are on the host (``numpy.asarray``), which waits for
the device. Arrays are JAX's default float32 (x64 off). Fixed-point inference uses the
same number of sweeps as freeagentics (``num_iter``); action selection is
deterministic over action marginals, as in freeagentics' default.

Memory: baseline after importing, compiling and stepping a batch of one agent (twice,
each then deleted); pymdp 1.x materialises every parameter per batch element, so bytes per agent
include the per-agent copies of A and B. The compiled executables for batch size N are
built after the baseline and are counted with the agents (a few MB).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from benchmarks._cell import SampledProcess, peer_cell, run_cell


def _build(jnp, Agent, model: dict[str, Any], n: int):
    kwargs = {}
    if model["learn_A"]:
        kwargs = {"pA": [jnp.asarray(a) for a in model["A"]], "learn_A": True}
    return Agent(
        A=[jnp.asarray(a) for a in model["A"]],
        B=[jnp.asarray(model["B"])],
        C=[jnp.asarray(c) for c in model["C"]],
        D=[jnp.asarray(model["D"])],
        policy_len=model["policy_len"],
        gamma=model["gamma"],
        alpha=model["alpha"],
        num_iter=model["num_iter"],
        batch_size=n,
        use_utility=True,
        use_states_info_gain=True,
        action_selection="deterministic",
        sampling_mode="marginal",
        **kwargs,
    )


_CALLS: dict[str, Any] = {}


def _calls() -> dict[str, Any]:
    """The jitted calls, made once per process so that compiled shapes are reused."""
    if not _CALLS:
        import jax
        import jax.random as jr

        _CALLS.update(
            infer_states=jax.jit(lambda a, o, p: a.infer_states(o, p)),
            # learning wants observations with a time axis: (batch, T = 1)
            infer_parameters=jax.jit(
                lambda a, qs, o: a.infer_parameters(qs, [x[:, None] for x in o], None)
            ),
            infer_policies=jax.jit(lambda a, qs: a.infer_policies(qs)),
            sample_action=jax.jit(lambda a, q, k: a.sample_action(q, rng_key=k)),
            empirical_prior=jax.jit(lambda a, act, qs: a.update_empirical_prior(act, qs)),
            split=jax.jit(lambda k, n: jr.split(k, n + 1), static_argnums=1),
        )
    return _CALLS


class _Stepper:
    """A batched pymdp 1.x agent stepped call by call with jitted calls."""

    def __init__(self, model: dict[str, Any], n: int, seed: int):
        import jax.numpy as jnp
        import jax.random as jr
        from pymdp.agent import Agent

        self.agent = _build(jnp, Agent, model, n)
        self.n = n
        self.learn = model["learn_A"]
        self.prior = self.agent.D
        self.key = jr.PRNGKey(seed)
        self.calls = _calls()

    def step(self, obs: list) -> np.ndarray:
        """One agent step for the whole batch; returns the actions on the host."""
        call = self.calls
        qs = call["infer_states"](self.agent, obs, self.prior)
        if self.learn:
            self.agent = call["infer_parameters"](self.agent, qs, obs)
        q_pi, _ = call["infer_policies"](self.agent, qs)
        keys = call["split"](self.key, self.n)
        self.key = keys[0]
        actions = call["sample_action"](self.agent, q_pi, keys[1:])
        self.prior = call["empirical_prior"](self.agent, actions, qs)
        return np.asarray(actions)


def _ticker(model: dict[str, Any], n: int, seed: int):
    """A tick function over a fresh batch of ``n`` agents and its generative process."""
    import jax.numpy as jnp

    stepper = _Stepper(model, n, seed)
    process = SampledProcess(model["A"], model["B"], model["D"], n, seed)

    def tick() -> float:
        obs = process.observe()
        obs_list = [jnp.asarray(obs[:, m]) for m in range(obs.shape[1])]
        start = time.perf_counter()
        actions = stepper.step(obs_list)
        elapsed = time.perf_counter() - start
        process.advance(actions[:, 0])
        return elapsed

    return tick


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    import jax

    return {
        **peer_cell(_ticker, spec, warm_ticks=3),
        "dtype": "float64" if jax.config.jax_enable_x64 else "float32",
        "jax_version": jax.__version__,
        "jax_backend": jax.default_backend(),
    }


if __name__ == "__main__":
    run_cell(measure)
