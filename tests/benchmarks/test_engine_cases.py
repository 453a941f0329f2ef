"""B1's cases and implementations: the learnerb kind and the general engine beside the
fused kernels (``--general``); not a timing test."""

from __future__ import annotations

from dataclasses import replace

from benchmarks._engine_cases import KINDS, Case, parse_case
from benchmarks._engine_worker import measure
from benchmarks.engine import FREEAGENTICS, GENERAL, Plan, _skip_reason, implementations


def test_learnerb_learns_A_and_B_on_the_fused_kernels_or_the_general_engine():
    assert "learnerb" in KINDS
    cases = parse_case("learnerb", [5, 10])
    assert [c.name for c in cases] == ["learnerb-5", "learnerb-10"]
    fused, general = cases[0].config(), cases[0].config(fast_path=False)
    assert fused.learn_A and fused.learn_B and fused.fast_path
    assert general.learn_A and general.learn_B and not general.fast_path
    assert not Case("learner", 10).learn_B


def test_the_general_engine_is_one_more_implementation_on_request():
    assert [i.name for i in implementations(peers=False, quick=True)] == [FREEAGENTICS]
    ours, general = implementations(peers=False, quick=True, general=True)
    assert (ours.name, general.name) == (FREEAGENTICS, GENERAL)
    assert ours.fast_path and not general.fast_path
    assert general.module == ours.module


def test_peers_that_learn_A_only_skip_learnerb_and_say_why():
    plan = Plan([1], timeout_s=60, memory_budget=2**30, budget_s=0.1, min_ticks=1, max_ticks=2)
    learnerb, learner = Case("learnerb", 5), Case("learner", 5)
    for impl in implementations(peers=True, quick=True, general=True):
        impl = replace(impl, unavailable=None)  # as where the peers are installed
        reason = _skip_reason(learnerb, impl, 1, [], plan)
        if impl.name in (FREEAGENTICS, GENERAL):
            assert reason is None
        else:
            assert "learns A only" in reason
            assert _skip_reason(learner, impl, 1, [], plan) is None


def test_the_worker_runs_the_engine_the_spec_asks_for():
    spec = dict(kind="learnerb", size=3, n=4, seed=1, warmup=1, min_ticks=2, max_ticks=2)
    spec["budget_s"] = 0.0
    fused = measure({**spec, "fast_path": True})
    general = measure({**spec, "fast_path": False})
    assert fused["engine"] == "FusedLearningEngine"
    assert general["engine"] == "GeneralEngine"
    assert len(fused["tick_times"]) == len(general["tick_times"]) == 2
