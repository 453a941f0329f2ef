"""What the drives cost per tick: the B2 scenario with and without them, interleaved.

    python reports/behaviour/drive_cost.py --n 10000 --ticks 30 --rounds 3

Both simulations run in this process, in alternating blocks of ``--ticks`` ticks after
a warm-up, so machine load hits both alike; medians of ``Simulation.step`` times.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.simulation import default_config
from freeagentics.agents.kinds import builtin_kinds
from freeagentics.simulation import Simulation


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--ticks", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    config = default_config(args.n)
    plain = [replace(k, drives=None) for k in builtin_kinds(config.radius).values()]
    sims = {"with drives": Simulation(config), "without drives": Simulation(config, kinds=plain)}
    times: dict[str, list[float]] = {name: [] for name in sims}
    for sim in sims.values():
        sim.run(5)
    for _ in range(args.rounds):
        for name, sim in sims.items():
            for _ in range(args.ticks):
                start = time.perf_counter()
                sim.step()
                times[name].append(time.perf_counter() - start)
    base = np.median(times["without drives"])
    for name, t in times.items():
        med = np.median(t)
        print(f"n={args.n:>7}  {name:<15} median {med * 1e3:8.1f} ms  ratio {med / base:.3f}")


if __name__ == "__main__":
    main()
