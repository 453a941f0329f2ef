"""An agent kind defined in GMN, running in a simulation beside the built-in kinds.

The kind reads the compass (where its waypoint lies: one of nine directions) and
believes a step towards the waypoint brings it there three times in ten. Its whole
model is GMN text: the states, outcomes and moves by name, a noisy identity likelihood,
a preference for "here", and a transition matrix that a few lines of Python write out.

    python examples/gmn_kind.py [--ticks 200]
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from freeagentics.agents.kinds import define_kind
from freeagentics.models import compile_gmn
from freeagentics.models.builders import COMPASS_OUTCOMES
from freeagentics.simulation import Simulation, SimulationConfig
from freeagentics.worlds import GridWorldConfig

MOVES = ("up", "down", "left", "right", "stay")
DELTAS = ((-1, 0), (1, 0), (0, -1), (0, 1), (0, 0))
OFFSETS = [(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1)]  # COMPASS_OUTCOMES order


def heading_transitions(p_arrive: float = 0.3) -> list:
    """``B[next, now, move]``: a step towards the target's direction may reach it."""
    n = len(OFFSETS)
    B = np.zeros((n, n, len(MOVES)))
    for now, (dr, dc) in enumerate(OFFSETS):
        for move, (mr, mc) in enumerate(DELTAS):
            if (dr, dc) == (0, 0):  # on the target: leaving puts it behind
                B[OFFSETS.index((-mr, -mc)), now, move] = 1.0
                continue
            after = (int(np.sign(dr - mr)), int(np.sign(dc - mc)))
            if after == (dr, dc) or (mr, mc) == (0, 0):
                B[now, now, move] = 1.0
            else:
                B[OFFSETS.index(after), now, move] += p_arrive
                B[now, now, move] += 1.0 - p_arrive
    return B.tolist()


GMN = f"""
# a walker that heads for its waypoint by the compass
[nodes]
heading: state {{states: {json.dumps(COMPASS_OUTCOMES)}}}
compass: observation {{outcomes: {json.dumps(COMPASS_OUTCOMES)}}}
walk: action {{actions: {json.dumps(MOVES)}}}
reading: likelihood {{kind: identity, noise: 0.1}}
steps: transition {{matrix: {json.dumps(heading_transitions())}}}
wants: preference {{preferred_observation: here, strength: 4}}

[edges]
heading -> reading: depends_on
reading -> compass: generates
heading -> steps: depends_on
walk -> steps: depends_on
wants -> compass: depends_on
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=200)
    args = parser.parse_args()
    walker = define_kind("walker", compile_gmn(GMN), observer="compass", target="waypoint")
    config = SimulationConfig(
        world=GridWorldConfig(height=32, width=32), agents={"walker": 20, "explorer": 20}, seed=1
    )
    sim = Simulation(config, kinds=[walker])
    start = sim.world.positions.copy()
    sim.run(args.ticks)
    moved = np.abs(sim.world.positions - start).sum(axis=1)  # per world slot
    for group in sim.population.groups:
        name = sim.population.kind_names[group.code]
        print(f"{name}: {moved[group.slots].mean():.1f} cells from the start on average")


if __name__ == "__main__":
    main()
