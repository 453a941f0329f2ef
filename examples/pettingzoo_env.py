"""The grid world as a PettingZoo environment: a random-policy episode in both APIs.

The Parallel API (all agents act at once) and the AEC API (agents act in turn) are the
same environment; ``render_mode="rgb_array"`` gives a picture of the last state, saved
as a PNG when ``--png`` is given.

    python examples/pettingzoo_env.py [--cycles 100] [--png world.png]
"""

from __future__ import annotations

import argparse

import numpy as np

from freeagentics.worlds import GridWorldConfig, ResourceType
from freeagentics.worlds.pettingzoo import env, parallel_env

CONFIG = GridWorldConfig(
    height=16, width=16, n_agents=8, resources=(ResourceType("food", 0.1),), initial_energy=20.0
)


def parallel_episode(cycles: int, seed: int) -> tuple[float, np.ndarray]:
    """Total reward of a random-policy episode, and its last frame with agents in it."""
    world = parallel_env(CONFIG, max_cycles=cycles, render_mode="rgb_array")
    world.reset(seed=seed)
    total = 0.0
    while world.agents:
        frame = world.render()  # agents leave the world when the episode ends
        actions = {a: world.action_space(a).sample() for a in world.agents}
        _, rewards, _, _, _ = world.step(actions)
        total += sum(rewards.values())
    return total, frame


def aec_episode(cycles: int, seed: int) -> int:
    """Turns taken in the AEC form of the same environment."""
    game = env(CONFIG, max_cycles=cycles)
    game.reset(seed=seed)
    turns = 0
    for agent in game.agent_iter():
        _, _, termination, truncation, _ = game.last()
        action = None if termination or truncation else game.action_space(agent).sample()
        game.step(action)
        turns += 1
    return turns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--png", help="save the last frame here (needs matplotlib)")
    args = parser.parse_args()
    total, frame = parallel_episode(args.cycles, args.seed)
    print(f"parallel: total reward {total:.1f}; frame {frame.shape[1]}x{frame.shape[0]} pixels")
    print(f"AEC: {aec_episode(args.cycles, args.seed)} turns")
    if args.png:
        import matplotlib.pyplot as plt

        plt.imsave(args.png, frame)
        print(f"saved {args.png}")


if __name__ == "__main__":
    main()
