"""Moving a pymdp script over: the same code with one import changed, then at scale.

Part 1 is a plain pymdp 0.0.7.1 script (a two-armed bandit with a hint) written against
``pymdp.agent.Agent``; only its import line differs. Part 2 gives the same model to a
:class:`~freeagentics.agents.Cohort`, which steps thousands of such agents as arrays.

    python examples/from_pymdp.py [--agents 10000] [--steps 20]
"""

from __future__ import annotations

import argparse

import numpy as np

from freeagentics.agents import Cohort, CohortConfig
from freeagentics.compat.pymdp import Agent  # was: from pymdp.agent import Agent
from freeagentics.models import GenerativeModel


def bandit() -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """A, B, C, D of the bandit: which arm pays (2 states) x where the agent is (3)."""
    # factor 0: the better arm (left, right); factor 1: position (start, left, right)
    # modality 0: reward (none, win, loss), from the position and the better arm
    A = np.zeros((3, 2, 3))
    A[0, :, 0] = 1.0  # at the start: no reward
    A[1:, 0, 1] = [0.8, 0.2]  # left arm pays when it is the better one
    A[1:, 1, 1] = [0.2, 0.8]
    A[1:, 0, 2] = [0.2, 0.8]
    A[1:, 1, 2] = [0.8, 0.2]
    B_arm = np.eye(2)[:, :, None]  # the better arm does not change; one control
    B_pos = np.zeros((3, 3, 3))
    for control in range(3):
        B_pos[control, :, control] = 1.0  # control c moves the agent to position c
    C = [np.array([0.0, 3.0, -3.0])]
    D = [np.array([0.5, 0.5]), np.array([1.0, 0.0, 0.0])]
    return [A], [B_arm, B_pos], C, D


def part_one(steps: int, seed: int) -> list[int]:
    """The pymdp script, unchanged but for its import: one agent, a loop of steps."""
    A, B, C, D = bandit()
    agent = Agent(A=A, B=B, C=C, D=D, control_fac_idx=[1], policy_len=1)
    rng = np.random.default_rng(seed)
    better, position, positions = 0, 0, []
    for _ in range(steps):
        reward = rng.choice(3, p=A[0][:, better, position])
        agent.infer_states([int(reward)])
        agent.infer_policies()
        action = agent.sample_action()
        position = int(action[1])
        positions.append(position)
    return positions


def part_two(agents: int, steps: int, seed: int) -> float:
    """The same model for a population: one array step for every agent per tick."""
    A, B, C, D = bandit()
    model = GenerativeModel.create(A, B, C, D, control_factors=[1], policy_len=1)
    rng = np.random.default_rng(seed)
    cohort = Cohort(model, n_agents=agents, config=CohortConfig(gamma=16.0), rng=rng)
    better = rng.integers(0, 2, size=agents)
    position = np.zeros(agents, dtype=np.int64)
    for _ in range(steps):
        p_win = np.where(position == 0, 0.0, np.where((position - 1) == better, 0.8, 0.2))
        win = rng.random(agents) < p_win
        reward = np.where(position == 0, 0, np.where(win, 1, 2))
        actions = cohort.step(reward[:, None])
        position = actions[:, 1]
    return float(np.mean((position - 1) == better))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    positions = part_one(args.steps, args.seed)
    print(f"one agent's positions: {positions}")
    share = part_two(args.agents, args.steps, args.seed)
    print(f"{args.agents} agents: {share:.0%} end at the better arm after {args.steps} steps")


if __name__ == "__main__":
    main()
