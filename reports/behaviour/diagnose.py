"""Why agents stop moving: per-kind figures over windows of a run.

python reports/behaviour/diagnose.py demo --ticks 1000
python reports/behaviour/diagnose.py foraging --ticks 1000 --seed 3
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from freeagentics.server.app import demo_scenario
from freeagentics.simulation import Simulation
from freeagentics.simulation.scenario import load_scenario, scenario_from_mapping
from freeagentics.worlds import Move

ROOT = Path(__file__).resolve().parents[2]


def build(name: str, seed: int) -> Simulation:
    if name == "demo":
        scenario = scenario_from_mapping(demo_scenario(100))
    else:
        scenario = load_scenario(ROOT / "examples" / "scenarios" / f"{name}.toml")
    from dataclasses import replace

    return Simulation(replace(scenario.config, seed=seed))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario")
    ap.add_argument("--ticks", type=int, default=1000)
    ap.add_argument("--window", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    sim = build(args.scenario, args.seed)
    pop = sim.population
    names = pop.kind_names
    rows = {k: [] for k in names}
    acc = None
    seen = {}
    for g in pop.groups:
        original = g.cohort._infer_states

        def recording(obs, _orig=original, _code=g.code):
            seen[_code] = np.asarray(obs)[:, 0].copy()
            return _orig(obs)

        g.cohort._infer_states = recording
    resource_cells = sim.world.layout.resource_kind >= 0
    for t in range(1, args.ticks + 1):
        before = sim.world.positions[pop.slots()].copy()
        ev = sim.step()
        moved = np.any(ev.positions != before, axis=1)
        stay = ev.actions == int(Move.STAY)
        blocked = ~stay & ~moved
        member = ev.coalition >= 0
        # compass reading "here" now == at its target
        kinds = ev.kinds
        if acc is None:
            acc = {k: np.zeros(8) for k in names}
        for code, k in enumerate(names):
            sel = kinds == code
            if not sel.any():
                continue
            g = pop.groups[code]
            q_pi = g.cohort.q_pi
            # marginal probability of "stay" (policy_len 1: policy index == action)
            stay_q = q_pi[:, int(Move.STAY)]
            qs = g.cohort.qs[0]
            side = round(np.sqrt(qs.shape[1]))
            here = qs[:, (side * side) // 2]
            A = g.cohort.A[0]
            # posterior probability of the compass reading the agent just received:
            # near zero means its belief contradicts what it sees and cannot recover
            p_obs = np.einsum("ns,ns->n", A[seen[code]], qs)
            pos = ev.positions[sel]
            acc[k] += [
                moved[sel].mean(),
                stay[sel].mean(),
                blocked[sel].mean(),
                (stay_q > 0.5).mean(),
                (here > 0.5).mean(),
                member[sel].mean(),
                (p_obs < 0.1).mean(),
                resource_cells[pos[:, 0], pos[:, 1]].mean(),
            ]
        if t % args.window == 0:
            for code, k in enumerate(names):
                sel = kinds == code
                if not sel.any():
                    continue
                m = acc[k] / args.window
                e = ev.energy[sel]
                rows[k].append((t, *m, float(e.mean()), float((e <= 0).mean())))
            acc = None
    header = (
        "tick  moved  chose_stay  blocked  q_pi(stay)>.5  belief_at_target>.5  member"
        "  contradicted  on_resource  energy_mean  exhausted"
    )
    for k in names:
        count = int((ev.kinds == names.index(k)).sum())
        print(f"== {args.scenario} seed {args.seed}: {k} ({count} agents)")
        print(header)
        for r in rows[k]:
            print(
                f"{r[0]:5d}  {r[1]:.2f}   {r[2]:.2f}        {r[3]:.2f}     {r[4]:.2f}"
                f"           {r[5]:.2f}                 {r[6]:.2f}    {r[7]:.2f}"
                f"          {r[8]:.2f}         {r[9]:6.2f}       {r[10]:.2f}"
            )


if __name__ == "__main__":
    main()
