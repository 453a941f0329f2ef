"""B1's T-maze cell: ONE agent, stepped through a pymdp-style API, beside pymdp.

The model is the classic T-maze: locations centre, right arm, left arm, cue; the
reward is on the right or on the left (the context, hidden); outcomes are the location,
the reward (none, reward, loss; 98 % reward in the rewarded arm) and the cue (which arm;
uninformative away from the cue location). The agent prefers reward (+3) to loss (-3),
moves by choosing its next location and re-starts at the centre every trial of 3 steps.

What is timed, per agent step: ``infer_states`` + ``infer_policies`` + ``sample_action``.

* ``freeagentics``: ``freeagentics.compat.pymdp.Agent`` and
  ``inferactively-pymdp-0.0.7.1``'s ``Agent`` run in the same worker process, in
  lockstep on the same observations (the order alternates each step); both choose the
  same actions (checked).
* ``inferactively-pymdp-1.0.4``: its ``Agent`` (JAX, batch of one, jitted calls, float32)
  in its own process on the observations recorded above; its step also includes
  ``update_empirical_prior``, which 0.0.7.1 and freeagentics do inside ``infer_states``.

Run it with ``python benchmarks/engine.py --cases tmaze``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._cell import run_cell
from benchmarks._common import (
    REPO_ROOT,
    fmt_number,
    fmt_ratio,
    fmt_seconds,
    print_table,
    run_worker,
    tick_stats,
)

CASE = "tmaze"
FREEAGENTICS = "freeagentics"
TRIAL_STEPS = 3
#: the issue's target: the compat step at least this many times faster than pymdp 0.0.7.1
TARGET_RATIO = 5.0


def tmaze_model(reward_probability: float = 0.98) -> dict[str, list[np.ndarray]]:
    """A (3 modalities), B (location, context), C, D of the T-maze (see module docstring)."""
    p = reward_probability
    A_loc = np.zeros((4, 4, 2))
    A_reward = np.zeros((3, 4, 2))
    A_cue = np.zeros((2, 4, 2))
    for context in range(2):
        A_loc[:, :, context] = np.eye(4)
        A_reward[0, [0, 3], context] = 1.0
        rewarded_arm = 1 + context  # context 0: reward on the right (location 1)
        other_arm = 2 - context
        A_reward[1:, rewarded_arm, context] = [p, 1 - p]
        A_reward[1:, other_arm, context] = [1 - p, p]
        A_cue[:, [0, 1, 2], context] = 0.5
        A_cue[context, 3, context] = 1.0
    B_loc = np.zeros((4, 4, 4))
    for u in range(4):
        B_loc[u, :, u] = 1.0  # go to location u from anywhere
    B_context = np.eye(2)[:, :, None]
    C = [np.zeros(4), np.array([0.0, 3.0, -3.0]), np.zeros(2)]
    D = [np.eye(4)[0], np.full(2, 0.5)]
    return {"A": [A_loc, A_reward, A_cue], "B": [B_loc, B_context], "C": C, "D": D}


class _Process:
    """The T-maze world: a hidden context per trial, observations sampled from A."""

    def __init__(self, model: dict[str, list[np.ndarray]], seed: int):
        self.A = model["A"]
        self.rng = np.random.default_rng(seed)
        self.location, self.context = 0, 0

    def new_trial(self) -> list[int]:
        self.location, self.context = 0, int(self.rng.integers(2))
        return self.observe()

    def observe(self) -> list[int]:
        return [
            int(self.rng.choice(a.shape[0], p=a[:, self.location, self.context])) for a in self.A
        ]

    def move(self, action) -> list[int]:
        self.location = int(action[0])
        return self.observe()


def _fresh_trial(agent) -> None:
    """Beliefs back to the start, prior D for the first step (both libraries alike)."""
    agent.reset()
    agent.action = None
    agent.prev_actions = None


def _timed_step(agent, obs) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    agent.infer_states(obs)
    agent.infer_policies()
    action = agent.sample_action()
    return time.perf_counter() - start, action


def measure_lockstep(spec: dict[str, Any]) -> dict[str, Any]:
    """Worker: freeagentics' compat Agent and pymdp 0.0.7.1's Agent in lockstep."""
    from pymdp.agent import Agent as PymdpAgent

    from freeagentics.compat.pymdp import Agent

    model = tmaze_model()
    agents = {}
    for name, cls in ((FREEAGENTICS, Agent), (spec["pymdp0_name"], PymdpAgent)):
        agent = cls(
            A=_obj(model["A"]),
            B=_obj(model["B"]),
            C=_obj(model["C"]),
            D=_obj(model["D"]),
            control_fac_idx=[0],
        )
        agents[name] = agent
    process = _Process(model, spec["seed"])
    times: dict[str, list[float]] = {name: [] for name in agents}
    observations: list[list[int]] = []
    disagreements = 0
    start, trial = time.perf_counter(), 0
    while trial < spec["max_trials"]:
        timed = trial >= spec["warmup_trials"]
        obs = process.new_trial()
        for agent in agents.values():
            _fresh_trial(agent)
        for step in range(TRIAL_STEPS):
            order = list(agents) if step % 2 == 0 else list(agents)[::-1]
            actions = {}
            for name in order:
                elapsed, actions[name] = _timed_step(agents[name], list(obs))
                if timed:
                    times[name].append(elapsed)
            if timed:
                observations.append(list(obs))
            ours, theirs = actions[FREEAGENTICS], actions[spec["pymdp0_name"]]
            disagreements += int(not np.array_equal(ours, theirs))
            obs = process.move(theirs)
        trial += 1
        if (
            timed
            and time.perf_counter() - start >= spec["budget_s"]
            and trial - spec["warmup_trials"] >= spec["min_trials"]
        ):
            break
    return {"times": times, "observations": observations, "disagreements": disagreements}


def _obj(arrays: list[np.ndarray]) -> np.ndarray:
    out = np.empty(len(arrays), dtype=object)
    for i, a in enumerate(arrays):
        out[i] = a
    return out


def _record(impl: str, times: list[float], machine: dict[str, Any], **extra) -> dict[str, Any]:
    median, p95 = tick_stats(times)
    return {
        "benchmark": "B1",
        "case": CASE,
        "impl": impl,
        "n": 1,
        "agent_steps_per_s": 1.0 / median,
        "tick_s_median": median,
        "tick_s_p95": p95,
        "ticks": len(times),
        **machine,
        **extra,
    }


def tmaze_records(
    machine: dict[str, Any],
    *,
    pymdp0: str | None,
    pymdp1: tuple[str, tuple[str, ...]] | None,
    budget_s: float,
    timeout_s: float,
    memory_budget: int,
) -> list[dict[str, Any]]:
    """Measure the T-maze cell; ``pymdp0`` names the 0.0.7.x package when installed,
    ``pymdp1`` the 1.x package and its ``PYTHONPATH`` folders."""
    if not pymdp0:
        return [
            {
                "benchmark": "B1",
                "case": CASE,
                "impl": FREEAGENTICS,
                "n": 1,
                "skipped": "the lockstep run needs inferactively-pymdp 0.0.7.x",
                **machine,
            }
        ]
    spec = {
        "seed": 2024,
        "pymdp0_name": pymdp0,
        "warmup_trials": 20,
        "min_trials": 100,
        "max_trials": 5000,
        "budget_s": budget_s,
    }
    result = run_worker("benchmarks._tmaze", spec, timeout_s=timeout_s, memory_budget=memory_budget)
    if "times" not in result:
        reason = result.get("skipped") or f"error: {result.get('error', 'no result')}"
        return [
            {
                "benchmark": "B1",
                "case": CASE,
                "impl": FREEAGENTICS,
                "n": 1,
                "skipped": reason,
                **machine,
            }
        ]
    note = {"disagreements": result["disagreements"]}
    records = [_record(name, t, machine, **note) for name, t in result["times"].items()]
    if pymdp1 is not None:
        name, pythonpath = pymdp1
        peer = run_worker(
            "benchmarks._peers.tmaze_pymdp1_worker",
            {
                "model": {k: [a.tolist() for a in v] for k, v in tmaze_model().items()},
                "observations": result["observations"],
                "trial_steps": TRIAL_STEPS,
                "warmup_trials": 5,
            },
            timeout_s=timeout_s,
            memory_budget=memory_budget,
            pythonpath=pythonpath,
        )
        if "times" in peer:
            records.append(_record(name, peer["times"], machine, dtype=peer.get("dtype")))
        else:
            reason = peer.get("skipped") or f"error: {peer.get('error', 'no result')}"
            records.append(
                {
                    "benchmark": "B1",
                    "case": CASE,
                    "impl": name,
                    "n": 1,
                    "skipped": reason,
                    **machine,
                }
            )
    ours = next(r for r in records if r["impl"] == FREEAGENTICS)
    for r in records:
        if r["impl"] != FREEAGENTICS and r.get("agent_steps_per_s"):
            r["freeagentics_ratio"] = ours["agent_steps_per_s"] / r["agent_steps_per_s"]
            if r["impl"] == pymdp0:
                r["target_ratio"] = TARGET_RATIO
                r["target_met"] = r["freeagentics_ratio"] >= TARGET_RATIO
    return records


def print_tmaze(records: list[dict[str, Any]]) -> None:
    rows = []
    for r in records:
        if r.get("case") != CASE:
            continue
        if r.get("skipped"):
            rows.append([r["impl"], "skipped", "", "", "", r["skipped"]])
            continue
        ratio = "1×" if r["impl"] == FREEAGENTICS else fmt_ratio(r.get("freeagentics_ratio"))
        note = f"{r['ticks']} steps"
        if "target_met" in r:
            verdict = "met" if r["target_met"] else "NOT met"
            note += f"; target ≥ {TARGET_RATIO:g}× {verdict}"
        if r.get("disagreements"):
            note += f"; {r['disagreements']} differing actions"
        rows.append(
            [
                r["impl"],
                fmt_seconds(r["tick_s_median"]),
                fmt_seconds(r["tick_s_p95"]),
                fmt_number(r["agent_steps_per_s"]),
                ratio,
                note,
            ]
        )
    print_table(
        "B1 tmaze (one agent; infer_states + infer_policies + sample_action)",
        ("impl", "step median", "step p95", "agent-steps/s", "freeagentics ÷ impl", "note"),
        rows,
    )


if __name__ == "__main__":
    os.chdir(Path(REPO_ROOT))
    run_cell(measure_lockstep)
