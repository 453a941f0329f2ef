"""run_scenario writes one row per tick (also when stopped early); sweep runs combinations."""

from __future__ import annotations

import csv
import json
import math
import sys

import pytest

from freeagentics.errors import ConfigurationError
from freeagentics.simulation import Simulation
from freeagentics.simulation.runner import run_scenario, sweep
from freeagentics.simulation.scenario import scenario_from_mapping

STAGES = (
    "observe",
    "inference",
    "world",
    "coalitions",
    "metrics",
    "knowledge",
    "history",
    "events",
)
METRICS = ("belief_entropy", "free_energy", "policy_entropy", "expected_free_energy", "energy")


def tiny(ticks: int = 6, **simulation) -> object:
    return scenario_from_mapping(
        {
            "scenario": {"name": "tiny run", "ticks": ticks, "seed": 1},
            "world": {"height": 12, "width": 12, "resources": [{"name": "food"}]},
            "agents": {"explorer": 6, "collector": 4, "coordinator": 2},
            "coalitions": {"auto_objectives": 2, "reform_every": 2},
            "simulation": {"knowledge_every": 2, **simulation},
        }
    )


def read_csv(path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames), list(reader)


def test_csv_has_one_row_per_tick_and_the_documented_columns(tmp_path):
    out = tmp_path / "run.csv"
    result = run_scenario(tiny(6), out, progress=False)
    columns, rows = read_csv(out)
    assert [int(r["tick"]) for r in rows] == [1, 2, 3, 4, 5, 6]
    assert columns[:2] == ["tick", "agents"]
    for metric in METRICS:
        assert {f"{metric}_mean", f"{metric}_p5", f"{metric}_p95"} <= set(columns)
    assert columns.index("energy_mean") > columns.index("policy_entropy_p95")
    for name in ("coalition_members", "coalitions", "knowledge_nodes", "knowledge_edges"):
        assert name in columns
    assert [c for c in columns if c.endswith("_ms")] == [f"{s}_ms" for s in STAGES] + ["tick_ms"]
    assert all(r["agents"] == "12" for r in rows)
    last = rows[-1]
    assert float(last["energy_p5"]) <= float(last["energy_mean"]) <= float(last["energy_p95"])
    stages = sum(float(last[f"{s}_ms"]) for s in STAGES)
    assert math.isclose(float(last["tick_ms"]), stages, rel_tol=1e-5)
    assert int(rows[1]["knowledge_nodes"]) > 0  # knowledge updated on tick 2
    assert result.ticks_run == 6 and not result.interrupted
    assert result.final["tick"] == 6 and result.checkpoint is None


def test_stale_metrics_are_left_empty(tmp_path):
    out = tmp_path / "sparse.csv"
    run_scenario(tiny(4, metrics_every=4, knowledge_every=4), out, progress=False)
    _, rows = read_csv(out)
    assert [r["free_energy_mean"] == "" for r in rows] == [True, True, True, False]
    assert all(r["energy_mean"] != "" for r in rows)  # energy is fresh every tick


def test_keyboard_interrupt_in_on_tick_stops_and_keeps_the_rows(tmp_path):
    out = tmp_path / "stopped.csv"

    def stop_at_three(events):
        if events.tick == 3:
            raise KeyboardInterrupt

    result = run_scenario(tiny(50), out, progress=False, on_tick=stop_at_three)
    _, rows = read_csv(out)
    assert [r["tick"] for r in rows] == ["1", "2", "3"]
    assert result.interrupted and result.ticks_run == 3 and result.ticks_requested == 50


def test_a_pause_request_stops_after_the_tick_and_keeps_the_rows(tmp_path):
    """What the Ctrl-C handler does: pause the simulation, finish the tick, write."""
    out = tmp_path / "paused.csv"
    ticks = []

    def pause_at_two(events):
        ticks.append(events.tick)
        if events.tick == 2:
            import signal

            signal.raise_signal(signal.SIGINT)

    result = run_scenario(tiny(50), out, progress=False, on_tick=pause_at_two)
    _, rows = read_csv(out)
    assert ticks == [1, 2] and len(rows) == 2
    assert result.interrupted


def test_other_errors_still_write_the_rows_and_propagate(tmp_path):
    out = tmp_path / "failed.csv"

    def fail(events):
        if events.tick == 2:
            raise RuntimeError("subscriber exploded")

    with pytest.raises(RuntimeError, match="exploded"):
        run_scenario(tiny(10), out, progress=False, on_tick=fail)
    assert len(read_csv(out)[1]) == 2


def test_checkpoints_continue_the_run(tmp_path):
    out = tmp_path / "ck.csv"
    result = run_scenario(tiny(5), out, progress=False, checkpoint_every=2)
    assert result.checkpoint == tmp_path / "ck.ckpt"
    restored = Simulation.restore(result.checkpoint)
    assert restored.tick == 4  # the latest multiple of 2 within 5 ticks
    with pytest.raises(ConfigurationError, match="checkpoint_every: expected an integer >= 1"):
        run_scenario(tiny(5), out, progress=False, checkpoint_every=0)


def test_output_formats_are_checked_before_running(tmp_path):
    with pytest.raises(ConfigurationError, match=r"must end in \.csv or \.parquet"):
        run_scenario(tiny(), tmp_path / "out.xlsx", progress=False)
    with pytest.raises(ConfigurationError, match="does not exist"):
        run_scenario(tiny(), tmp_path / "missing" / "out.csv", progress=False)


def test_parquet_without_pyarrow_names_the_package(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # makes `import pyarrow` fail
    with pytest.raises(ConfigurationError, match="needs the 'pyarrow' package"):
        run_scenario(tiny(), tmp_path / "out.parquet", progress=False)
    assert not (tmp_path / "out.parquet").exists()


def test_parquet_round_trip(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "out.parquet"
    run_scenario(tiny(3), out, progress=False)
    table = pq.read_table(out).to_pydict()
    assert table["tick"] == [1, 2, 3]
    assert "free_energy_p95" in table and "tick_ms" in table


def test_sweep_runs_every_combination_in_processes(tmp_path):
    result = sweep(
        tiny(3),
        seeds=[0, 1],
        overrides=[{"coalitions.strength": 2.0}, {"coalitions.strength": 8.0}],
        out_dir=tmp_path / "sweep",
        processes=2,
        progress=False,
    )
    files = sorted(p.name for p in (tmp_path / "sweep").glob("*_seed*_set*.csv"))
    assert files == [f"tiny-run_seed{s}_set{j}.csv" for s in (0, 1) for j in (0, 1)]
    for name in files:
        assert len(read_csv(tmp_path / "sweep" / name)[1]) == 3
    columns, rows = read_csv(result.summary)
    assert [(r["seed"], json.loads(r["overrides"])) for r in rows] == [
        ("0", {"coalitions.strength": 2.0}),
        ("0", {"coalitions.strength": 8.0}),
        ("1", {"coalitions.strength": 2.0}),
        ("1", {"coalitions.strength": 8.0}),
    ]
    assert "final_free_energy_mean" in columns and "wall_s" in columns
    assert all(r["error"] == "" and float(r["wall_s"]) > 0 for r in rows)
    assert not result.failed
    # different seeds give different trajectories
    assert rows[0]["final_energy_mean"] != rows[2]["final_energy_mean"]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"seeds": []}, "seeds: at least one seed"),
        ({"seeds": [0, 0]}, "seeds: each seed once"),
        ({"seeds": [-1]}, "seeds: expected integers >= 0"),
        ({"overrides": [{"scenario.seed": 3}]}, "set seeds with the seeds argument"),
        ({"overrides": [{"coalitions.strenght": 3}]}, "coalitions: unknown key(s) ['strenght']"),
        ({"overrides": [{"agents.collector": -1}]}, "agents.collector: expected an integer >= 0"),
        ({"processes": 0}, "processes: expected an integer >= 1"),
        ({"fmt": ".txt"}, "fmt: expected one of"),
    ],
)
def test_sweep_validates_everything_before_starting(tmp_path, kwargs, expected):
    args = {"seeds": [0], "overrides": [], "processes": 1, **kwargs}
    with pytest.raises(ConfigurationError) as info:
        sweep(tiny(2), out_dir=tmp_path / "never", progress=False, **args)
    assert expected in str(info.value)
    assert not (tmp_path / "never").exists()


def test_sweep_workers_honour_the_stop_event(tmp_path, monkeypatch):
    import threading

    from freeagentics.simulation import runner

    stop = threading.Event()
    monkeypatch.setattr(runner, "_STOP", stop)
    result = runner._run_one(tiny(2), tmp_path / "a.csv")
    assert result is not None and result.ticks_run == 2
    stop.set()
    assert runner._run_one(tiny(2), tmp_path / "b.csv") is None  # queued before the stop
    assert not (tmp_path / "b.csv").exists()
    with pytest.raises(KeyboardInterrupt):
        runner._stop_requested(None)
