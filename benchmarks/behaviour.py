"""B7 — behaviour: do the agents do anything? (BENCHMARKS.md)

Usage, from the repository root::

    python benchmarks/behaviour.py                       # 3 scenarios x 3 policies x 5 seeds
    python benchmarks/behaviour.py --quick               # tiny worlds, a smoke check
    python benchmarks/behaviour.py --scenarios maze --seeds 3 --ticks 500 --json b7.json

Scenarios: ``demo`` (the server's demo at 100 agents), ``foraging``
(``examples/scenarios/foraging.toml``) and ``maze`` (``examples/scenarios/maze.toml``,
a walled maze), each run for ``--ticks`` ticks (default 2 000) on world seeds
0 … ``--seeds``-1. Policies, on the same worlds and seeds (same layout, starting cells,
energy, resources, regrowth and coalition formation; only the moves differ):

* ``freeagentics-aif`` — the agents' own Active Inference kinds;
* ``random`` — :class:`~freeagentics.simulation.baselines.RandomController`, each of
  the five moves with probability 1/5;
* ``greedy`` — :class:`~freeagentics.simulation.baselines.GreedyController`, shortest
  paths with full map knowledge to the nearest resource (collectors and hungry
  agents), the coalition's objective, or the nearest unvisited cell.

Figures per run (``--window`` W = 200 by default):

* ``alive_fraction`` — agents with energy above 0 at the end;
* ``moving_fraction_last`` — the mean over the last W ticks of the share of agents
  that changed cell in a tick (the dead count as not moving); ``moved_share_last``,
  the share that changed cell at least once in those W ticks;
* ``resources_per_agent_100`` — resource units collected by all agents, per agent per
  100 ticks; ``resources_per_collector_100``, the same for agents of the collector
  kind alone (whose task it is);
* ``coverage_per_explorer`` — distinct cells visited per agent of the explorer kind;
* ``objective_ticks`` — median over coalition assignments made while the agent was
  more than 3 cells (Manhattan) from the objective of the ticks until it is within 3
  cells; assignments never completed count as infinitely long (so the median is null
  when most are never completed); ``objective_reached`` is the share completed;
  assignments that end before arrival (coalition re-formed) are left out.

Printed: per scenario and policy the medians over seeds, the AIF ÷ random and
AIF ÷ greedy ratios, and the targets of the issue with met / not met. ``--json``
writes one record per run (``seed`` set) and one per scenario and policy with the
medians (``seed`` null, ``aggregate`` "median", AIF records add the ratios).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from benchmarks._common import REPO_ROOT, fmt_number, machine_info, print_table, write_json

SCENARIOS = ("demo", "foraging", "maze")
POLICIES = ("freeagentics-aif", "random", "greedy")
FIGURES = (
    "alive_fraction",
    "moving_fraction_last",
    "resources_per_agent_100",
    "coverage_per_explorer",
    "objective_ticks",
)
#: figures where less is better (the ratio target is an upper bound)
LOWER_IS_BETTER = ("objective_ticks",)
REACH = 3  # "within 3 cells of their objective"
DEMO_AGENTS = 100
QUICK = {"ticks": 60, "seeds": 2, "window": 20, "side": 16, "agents": 15}


# ---------------------------------------------------------------------- scenarios
def load(name: str, quick: bool):
    """The named scenario (full size, or shrunk to a tiny world for ``--quick``)."""
    from freeagentics.simulation.scenario import load_scenario, scenario_from_mapping

    if name == "demo":
        from freeagentics.server.app import demo_scenario

        scenario = scenario_from_mapping(demo_scenario(DEMO_AGENTS), default_name="demo")
    else:
        scenario = load_scenario(REPO_ROOT / "examples" / "scenarios" / f"{name}.toml")
    if not quick:
        return scenario
    counts = scenario.config.agents
    total = sum(counts.values())
    shrunk = {f"agents.{k}": max(1, round(v * QUICK["agents"] / total)) for k, v in counts.items()}
    return scenario.with_overrides(
        {
            **shrunk,
            "world.height": QUICK["side"],
            "world.width": QUICK["side"],
            "coalitions.objectives": [],
            "coalitions.auto_objectives": min(1, scenario.config.coalitions.auto_objectives),
        }
    )


def controller(policy: str, seed: int):
    from freeagentics.simulation.baselines import GreedyController, RandomController

    if policy == "random":
        return RandomController(seed)
    if policy == "greedy":
        return GreedyController(seed)
    return None


# ---------------------------------------------------------------------- one run
class _Objectives:
    """Ticks from being given an objective to being within :data:`REACH` of it."""

    def __init__(self, n: int):
        self.target = np.full((n, 2), -1, dtype=np.int64)
        self.start = np.zeros(n, dtype=np.int64)
        self.open = np.zeros(n, dtype=bool)
        self.done: list[int] = []

    def update(self, tick: int, targets: np.ndarray, positions: np.ndarray) -> None:
        """``targets`` ``(N, 2)`` objective cell per agent (-1: none); ``positions`` ``(N, 2)``."""
        changed = np.any(targets != self.target, axis=1)
        near = np.abs(positions - targets).sum(axis=1) <= REACH
        # a new assignment from afar starts a journey; one already in reach is none
        self.open[changed] = (targets[changed, 0] >= 0) & ~near[changed]
        self.start[changed] = tick
        self.target = targets.astype(np.int64)
        near &= self.open
        self.done.extend((tick - self.start[near]).tolist())
        self.open[near] = False

    def summary(self) -> tuple[float | None, float | None, int]:
        episodes = len(self.done) + int(self.open.sum())
        if not episodes:
            return None, None, 0
        times = np.array(self.done + [math.inf] * int(self.open.sum()), dtype=float)
        median = float(np.median(times))
        return (median if math.isfinite(median) else None), len(self.done) / episodes, episodes


def _code(names: tuple[str, ...], kind: str) -> int:
    return names.index(kind) if kind in names else -1


class _Intake:
    """Resources taken per world slot, read from each step of ``world`` (``per_slot``)."""

    def __init__(self, world):
        self.per_slot = np.zeros(world.n_slots)
        self._step = world.step
        world.step = self._tap  # the world's own step, observed

    def _tap(self, actions: np.ndarray):
        result = self._step(actions)
        self.per_slot += result.collected.sum(axis=1)
        return result


def run_one(scenario, policy: str, seed: int, ticks: int, window: int) -> dict[str, Any]:
    """One scenario, policy and world seed for ``ticks`` ticks; the figures of the module
    docstring."""
    from freeagentics.simulation import Simulation

    config = scenario.with_overrides({"scenario.seed": seed}).config
    sim = Simulation(config)
    sim.controller = controller(policy, seed)
    ids = sim.population.ids
    names = sim.population.kind_names
    explorers = np.flatnonzero(sim.population.kinds() == _code(names, "explorer"))
    height, width = sim.world.shape
    visited = np.zeros((explorers.size, height * width), dtype=bool)
    rows = np.arange(explorers.size)
    objectives = _Objectives(ids.size)
    moving: list[float] = []
    collected = 0.0
    collectors = sim.population.slots()[sim.population.kinds() == _code(names, "collector")]
    taken = _Intake(sim.world)

    def look(positions: np.ndarray, tick: int) -> None:
        if explorers.size:
            here = positions[explorers]
            visited[rows, here[:, 0] * width + here[:, 1]] = True
        objectives.update(tick, sim._objective_targets(), positions)

    look(sim.world.positions[sim.population.slots()], 0)
    start = time.perf_counter()
    for _ in range(ticks):
        events = sim.step()
        moving.append(events.activity["moving_fraction"])
        collected += events.activity["collected"]
        look(events.positions, events.tick)
    wall = time.perf_counter() - start
    slots = sim.population.slots()
    last = min(window, ticks)
    objective_ticks, reached, episodes = objectives.summary()
    sim.bus.close()
    return {
        "alive_fraction": events.activity["alive_fraction"],
        "moving_fraction_last": float(np.mean(moving[-last:])),
        "moved_share_last": float(np.mean(sim.activity.still[slots] < last)),
        "resources_per_agent_100": collected / ids.size / ticks * 100,
        "resources_per_collector_100": (
            float(taken.per_slot[collectors].mean()) / ticks * 100 if collectors.size else None
        ),
        "coverage_per_explorer": float(visited.sum(axis=1).mean()) if explorers.size else None,
        "objective_ticks": objective_ticks,
        "objective_reached": reached,
        "objective_episodes": episodes,
        "stuck_fraction": events.activity["stuck_fraction"],
        "wall_s": wall,
    }


# ---------------------------------------------------------------------- summaries
def _median(values: list[float | None]) -> float | None:
    """Median over seeds; a run without the figure (None) counts as infinitely long for
    objective ticks and is left out otherwise."""
    present = [v for v in values if v is not None]
    return float(np.median(present)) if present else None


def _objective_median(values: list[float | None]) -> float | None:
    times = np.array([math.inf if v is None else v for v in values], dtype=float)
    if not times.size:
        return None
    median = float(np.median(times))
    return median if math.isfinite(median) else None


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def summarise(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Median records per scenario and policy, the AIF ones with ratios to the baselines."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for case in dict.fromkeys(r["case"] for r in runs):
        for impl in POLICIES:
            cell = [r for r in runs if r["case"] == case and r["impl"] == impl]
            if not cell:
                continue
            record = {
                "benchmark": "B7",
                "case": case,
                "impl": impl,
                "n": cell[0]["n"],
                "seed": None,
                "aggregate": "median",
                "seeds": [r["seed"] for r in cell],
                "ticks": cell[0]["ticks"],
                "moving_fraction_last_min": min(r["moving_fraction_last"] for r in cell),
            }
            extra = ("moved_share_last", "resources_per_collector_100", "objective_reached")
            for name in (*FIGURES, *extra, "wall_s"):
                values = [r[name] for r in cell]
                pick = _objective_median if name == "objective_ticks" else _median
                record[name] = pick(values)
            out[case, impl] = record
    for (case, impl), record in out.items():
        if impl != "freeagentics-aif":
            continue
        for base, key in (("random", "ratio_random"), ("greedy", "ratio_greedy")):
            other = out.get((case, base))
            if other is not None:
                record[key] = {f: _ratio(record[f], other[f]) for f in FIGURES}
    return list(out.values())


def targets(medians: list[dict[str, Any]]) -> list[tuple[str, str, float | None, bool | None]]:
    """The issue's targets: (scenario, target, AIF value, met)."""
    rows = []

    def check(value: float | None, ok) -> bool | None:
        return None if value is None else bool(ok(value))

    for r in medians:
        if r["impl"] != "freeagentics-aif":
            continue
        case = r["case"]
        if case in ("demo", "foraging"):
            v = r["moving_fraction_last_min"]
            rows.append((case, "moving fraction, last window, every seed ≥ 0.5", v,
                         check(v, lambda x: x >= 0.5)))  # fmt: skip
            v = r["alive_fraction"]
            rows.append((case, "alive fraction ≥ 0.9", v, check(v, lambda x: x >= 0.9)))
        ratios_random, ratios_greedy = r.get("ratio_random", {}), r.get("ratio_greedy", {})
        v = ratios_random.get("resources_per_agent_100")
        rows.append((case, "resources ≥ 3× random", v, check(v, lambda x: x >= 3)))
        v = ratios_greedy.get("resources_per_agent_100")
        rows.append((case, "resources ≥ 0.7× greedy", v, check(v, lambda x: x >= 0.7)))
        v = ratios_random.get("coverage_per_explorer")
        rows.append((case, "explorer coverage ≥ 2× random", v, check(v, lambda x: x >= 2)))
        v = ratios_greedy.get("objective_ticks")
        if r["objective_ticks"] is None and "objective_ticks" in ratios_greedy:
            met: bool | None = False  # most assignments never reached
        else:
            met = check(v, lambda x: x <= 2)
        rows.append((case, "objective ticks ≤ 2× greedy", v, met))
    return rows


def _fmt(value: float | None) -> str:
    return "-" if value is None else fmt_number(value)


def print_report(medians: list[dict[str, Any]], seeds: int, ticks: int) -> None:
    rows = []
    for r in medians:
        rows.append(
            [
                f"{r['case']} · {r['impl']}",
                str(r["n"]),
                _fmt(r["alive_fraction"]),
                _fmt(r["moving_fraction_last"]),
                _fmt(r["moving_fraction_last_min"]),
                _fmt(r["resources_per_agent_100"]),
                _fmt(r["resources_per_collector_100"]),
                _fmt(r["coverage_per_explorer"]),
                _fmt(r["objective_ticks"]),
                _fmt(r["objective_reached"]),
                "",
            ]
        )
    columns = ["scenario · policy", "n", "alive", "moving last", "moving min", "res/agent/100",
               "res/collector/100", "cells/explorer", "objective ticks", "reached", ""]  # fmt: skip
    print_table(f"B7 — behaviour, medians over {seeds} seeds, {ticks} ticks", columns, rows)
    ratio_rows = []
    for r in medians:
        for key, label in (("ratio_random", "AIF ÷ random"), ("ratio_greedy", "AIF ÷ greedy")):
            if key in r:
                ratio_rows.append(
                    [f"{r['case']} · {label}", *(_fmt(r[key][f]) for f in FIGURES), ""]
                )
    print_table("B7 — ratios of medians", ["scenario · ratio", *FIGURES, ""], ratio_rows)
    target_rows = [
        [case, text, _fmt(v), {True: "met", False: "NOT met", None: "-"}[met]]
        for case, text, v, met in targets(medians)
    ]
    print_table("B7 — targets (AIF)", ["scenario", "target", "value", "verdict"], target_rows)


# ---------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny worlds, few ticks and seeds")
    parser.add_argument("--json", type=Path, help="write the records here")
    parser.add_argument("--ticks", type=int, help="ticks per run (default 2000)")
    parser.add_argument("--seeds", type=int, help="world seeds 0..S-1 (default 5)")
    parser.add_argument("--window", type=int, help="last ticks for moving fractions (200)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated")
    parser.add_argument("--policies", default=",".join(POLICIES), help="comma-separated")
    args = parser.parse_args(argv)
    scenarios = [s for s in args.scenarios.split(",") if s]
    policies = [p for p in args.policies.split(",") if p]
    bad = sorted(set(scenarios) - set(SCENARIOS)) + sorted(set(policies) - set(POLICIES))
    if bad or not scenarios or not policies:
        parser.error(f"unknown or missing scenarios/policies {bad}; choose from "
                     f"{SCENARIOS} and {POLICIES}")  # fmt: skip
    ticks = args.ticks or (QUICK["ticks"] if args.quick else 2000)
    seeds = args.seeds or (QUICK["seeds"] if args.quick else 5)
    window = args.window or (QUICK["window"] if args.quick else 200)
    for name, value in (("--ticks", ticks), ("--seeds", seeds), ("--window", window)):
        if value < 1:
            parser.error(f"{name} must be >= 1, got {value}")
    info = machine_info()
    runs = []
    for case in scenarios:
        scenario = load(case, args.quick)
        n = scenario.config.n_agents
        for impl in policies:
            for seed in range(seeds):
                print(f"B7: {case} · {impl} · seed {seed} ...", file=sys.stderr, flush=True)
                result = run_one(scenario, impl, seed, ticks, window)
                runs.append({"benchmark": "B7", "case": case, "impl": impl, "n": n,
                             "seed": seed, "ticks": ticks, "window": window, **result})  # fmt: skip
    medians = summarise(runs)
    print_report(medians, seeds, ticks)
    if args.json:
        for record in runs + medians:
            record["machine"] = info
        write_json(args.json, runs + medians)
    return 0


if __name__ == "__main__":
    sys.exit(main())
