"""The command line a new user meets: --version, readable help, optional --out, and
results files that say which scenario, seed and version produced them."""

from __future__ import annotations

import csv
import importlib.util

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from freeagentics import __version__
from freeagentics.cli import app

SCENARIO = """
[scenario]
name = "surface"
ticks = 3
seed = 5

[world]
height = 10
width = 10

[agents]
explorer = 3
collector = 2
"""
COMMANDS = [[], ["demo"], ["run"], ["sweep"], ["serve"], ["loadtest"], ["db", "upgrade"]]


@pytest.fixture
def scenario(tmp_path):
    path = tmp_path / "surface.toml"
    path.write_text(SCENARIO)
    return path


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_version_prints_the_package_version():
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"freeagentics {__version__}"


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "freeagentics")
def test_help_shows_flags_as_flags(command):
    result = invoke(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output
    assert "--help " in result.output and "Show this message and exit." in result.output


def test_switches_show_both_forms_and_their_default():
    output = invoke("run", "--help").output
    assert "--progress / --no-progress" in output and "[default: progress]" in output
    assert "--set KEY=VALUE" in output


def test_run_help_does_not_send_users_after_an_installed_dependency():
    assert importlib.util.find_spec("pyarrow") is not None  # a declared dependency
    output = invoke("run", "--help").output
    assert "needs pyarrow" not in output and ".parquet" in output


def test_run_without_out_prints_the_summary_and_writes_nothing(tmp_path, scenario, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("run", scenario, "--no-progress")
    assert result.exit_code == 0, result.output
    assert "surface: 3/3 ticks" in result.output and "final" in result.output
    assert "results:" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["surface.toml"]


def test_checkpoints_without_out_are_refused(tmp_path, scenario):
    result = invoke("run", scenario, "--checkpoint-every", 1, "--no-progress")
    assert result.exit_code == 2
    assert "--checkpoint-every needs --out" in result.output


def test_parquet_results_carry_seed_scenario_and_version(tmp_path, scenario):
    out = tmp_path / "r.parquet"
    result = invoke("run", scenario, "--out", out, "--seed", 7, "--no-progress")
    assert result.exit_code == 0, result.output
    table = pq.read_table(out)
    meta = table.schema.metadata
    assert meta[b"freeagentics.scenario"] == b"surface"
    assert meta[b"freeagentics.seed"] == b"7"
    assert meta[b"freeagentics.version"] == __version__.encode()
    columns = table.to_pydict()
    assert columns["tick"] == [1, 2, 3]
    assert set(columns["seed"]) == {7} and set(columns["scenario"]) == {"surface"}
    assert set(columns["freeagentics_version"]) == {__version__}


def test_csv_results_carry_seed_scenario_and_version_columns(tmp_path, scenario):
    out = tmp_path / "r.csv"
    assert invoke("run", scenario, "--out", out, "--no-progress").exit_code == 0
    with out.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3
    assert {(r["scenario"], r["seed"], r["freeagentics_version"]) for r in rows} == {
        ("surface", "5", __version__)
    }


def test_sweep_summary_honours_format_parquet(tmp_path, scenario):
    out_dir = tmp_path / "sw"
    result = invoke(
        "sweep", scenario, "--seeds", "1,4", "--format", "parquet", "--ticks", 2,
        "--out-dir", out_dir, "--no-progress",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert not (out_dir / "summary.csv").exists()
    summary = pq.read_table(out_dir / "summary.parquet")
    assert summary.schema.metadata[b"freeagentics.seeds"] == b"1,4"
    assert summary.schema.metadata[b"freeagentics.version"] == __version__.encode()
    rows = summary.to_pylist()
    assert [r["seed"] for r in rows] == [1, 4]
    assert {r["scenario"] for r in rows} == {"surface"}
    assert {r["freeagentics_version"] for r in rows} == {__version__}
    for row in rows:  # each run's own file names its seed
        run = pq.read_table(out_dir / row["results"])
        assert run.schema.metadata[b"freeagentics.seed"] == str(row["seed"]).encode()
        assert set(run.column("seed").to_pylist()) == {row["seed"]}
