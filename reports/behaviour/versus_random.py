"""The behaviour tests' measures over several seeds: the kinds against a random walk.

    python reports/behaviour/versus_random.py --seeds 0-4

Explorer coverage (distinct cells per agent, 300 ticks, 12 explorers, 24 x 24 world
with 15 % walls) and collector intake (energy gathered, 300 ticks, 12 collectors,
3 % food regrowing 0.02 a tick), each beside a uniform random walk from the same
cells of the same world.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "agents"))

from test_behaviour import FORAGE, WALLED, _random_walk, _run, _sim


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="0-4")
    args = ap.parse_args()
    low, _, high = args.seeds.partition("-")
    print("seed  explorer cells  random  ratio   collector intake  random  ratio")
    for seed in range(int(low), int(high or low) + 1):
        sim = _sim({"explorer": 12}, seed=seed, world=WALLED)
        _, walk = _random_walk(sim, 300, seed=seed)
        ours, _ = _run(sim, 300)
        cells = np.mean([len(v) for v in ours]), np.mean([len(v) for v in walk])
        sim = _sim({"collector": 12}, seed=seed, world=FORAGE)
        start = sim.world.energy[sim.population.slots()].copy()
        walk_gained, _ = _random_walk(sim, 300, seed=seed)
        sim.run(300)
        gained = float((sim.world.energy[sim.population.slots()] - start).sum())
        print(
            f"{seed:4d}  {cells[0]:14.1f}  {cells[1]:6.1f}  {cells[0] / cells[1]:5.2f}"
            f"   {gained:16.1f}  {walk_gained.sum():6.1f}  {gained / walk_gained.sum():5.2f}"
        )


if __name__ == "__main__":
    main()
