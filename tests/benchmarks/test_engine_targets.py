"""B1's printed targets: which cells they judge and how."""

from __future__ import annotations

from benchmarks.engine import FREEAGENTICS, add_derived, print_targets


def _record(case: str, impl: str, n: int, steps_per_s: float) -> dict:
    return {
        "case": case,
        "impl": impl,
        "n": n,
        "agent_steps_per_s": steps_per_s,
        "tick_s_median": n / steps_per_s,
    }


def test_throughput_and_peer_ratio_targets_are_judged(capsys) -> None:
    records = [
        _record("learner-10", FREEAGENTICS, 1_000, 3_000_000),
        _record("learner-10", "inferactively-pymdp-1.0.4", 1_000, 20_000),
        _record("learner-10", FREEAGENTICS, 100_000, 400_000),
        _record("deep-10", FREEAGENTICS, 100_000, 350_000),
        _record("explorer-10", FREEAGENTICS, 50, 200_000),
    ]
    add_derived(records)
    learner_1k, _, learner_100k, deep, explorer = records
    assert learner_1k["target"]["value"] == 150 and learner_1k["target_met"]
    assert learner_100k["target"]["bound"] == 500_000 and not learner_100k["target_met"]
    assert deep["target_met"]
    assert explorer["target_tick_s"] == 0.5e-3 and explorer["target_met"]
    print_targets(records)
    printed = capsys.readouterr().out
    assert "learner-10, N = 100,000" in printed and "NOT met" in printed
    assert "deep-10, N = 100,000" in printed
