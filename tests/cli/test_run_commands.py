"""`freeagentics run` and `freeagentics sweep`: results on success, a message (no traceback)
and a non-zero exit on bad input."""

from __future__ import annotations

import csv

import pytest
from typer.testing import CliRunner

from freeagentics.cli import _parse_seeds, app

SCENARIO = """
[scenario]
name = "cli"
ticks = 4

[world]
height = 10
width = 10

[agents]
explorer = 4
collector = 3
"""


@pytest.fixture
def scenario(tmp_path):
    path = tmp_path / "cli.toml"
    path.write_text(SCENARIO)
    return path


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def rows(path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_run_writes_results_with_ticks_seed_and_overrides(tmp_path, scenario):
    out = tmp_path / "r.csv"
    result = invoke(
        "run", scenario, "--out", out, "--ticks", 3, "--seed", 2, "--set", "agents.collector=5",
        "--no-progress",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    written = rows(out)
    assert [r["tick"] for r in written] == ["1", "2", "3"]
    assert written[0]["agents"] == "9"  # 4 explorers + 5 collectors
    assert "cli: 3/3 ticks" in result.output and f"results: {out}" in result.output


def test_run_says_when_the_world_froze(tmp_path):
    path = tmp_path / "boxed.toml"  # two agents filling a 1 x 2 world: nobody can move
    path.write_text(
        "[world]\nheight = 1\nwidth = 2\nwall_density = 0.0\nn_goals = 0\n"
        "[agents]\nexplorer = 2\n[simulation]\nstuck_ticks = 2\n"
    )
    result = invoke("run", path, "--out", tmp_path / "r.csv", "--ticks", 3, "--no-progress")
    assert result.exit_code == 0, result.output
    assert "final moving fraction avg" in result.output
    assert "warning: at the end of the run: frozen stuck" in result.output


def test_run_checkpoints(tmp_path, scenario):
    out = tmp_path / "r.csv"
    result = invoke("run", scenario, "--out", out, "--checkpoint-every", 2, "--no-progress")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r.ckpt").exists()


@pytest.mark.parametrize(
    ("content", "extra", "expected"),
    [
        ('[world]\nheight = "ten"\n', [], "world.height: expected an integer >= 1, got 'ten'"),
        ("[agents]\nwizard = 3\n", [], "agents: unknown agent kind(s) ['wizard']"),
        ("[world\n", [], "invalid TOML"),
        (SCENARIO, ["--set", "coalitions.strenght=3"], "unknown key(s) ['strenght']"),
        (SCENARIO, ["--set", "nonsense"], "--set: expected KEY=VALUE"),
        (SCENARIO, ["--set", "coalitions.strength=2,4"], "run takes one value per key"),
    ],
)
def test_run_reports_bad_input_without_a_traceback(tmp_path, content, extra, expected):
    path = tmp_path / "bad.toml"
    path.write_text(content)
    result = invoke("run", path, "--out", tmp_path / "r.csv", "--no-progress", *extra)
    assert result.exit_code == 2
    assert "error:" in result.output and expected in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "r.csv").exists()


def test_run_rejects_unknown_output_formats_and_missing_files(tmp_path, scenario):
    result = invoke("run", scenario, "--out", tmp_path / "r.txt", "--no-progress")
    assert result.exit_code == 2 and "must end in .csv or .parquet" in result.output
    result = invoke("run", tmp_path / "absent.toml", "--out", tmp_path / "r.csv")
    assert result.exit_code == 2 and "cannot read the scenario" in result.output


def test_sweep_writes_a_file_per_run_and_a_summary(tmp_path, scenario):
    out_dir = tmp_path / "sw"
    result = invoke(
        "sweep", scenario, "--seeds", "0,3", "--set", "coalitions.strength=2,8",
        "--set", "scenario.ticks=2", "--processes", 1, "--out-dir", out_dir, "--no-progress",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert len(list(out_dir.glob("cli_seed*_set*.csv"))) == 4
    summary = rows(out_dir / "summary.csv")
    assert [r["seed"] for r in summary] == ["0", "0", "3", "3"]
    assert all(r["ticks_run"] == "2" for r in summary)
    assert "sweep of cli: 4 runs" in result.output


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--seeds", "x-3"], "--seeds: expected a range 0-7 or a list 1,3,5"),
        (["--seeds", "5-2"], "'5-2' is not a range of seeds"),
        (["--seeds", "1,1"], "seeds: each seed once"),
        (["--set", "agents.explorer=-1"], "agents.explorer: expected an integer >= 0"),
        (["--format", "xls"], "--format: choose csv or parquet, not 'xls'"),
    ],
)
def test_sweep_reports_bad_input_without_a_traceback(tmp_path, scenario, extra, expected):
    result = invoke("sweep", scenario, "--out-dir", tmp_path / "sw", "--no-progress", *extra)
    assert result.exit_code == 2
    assert expected in result.output and "Traceback" not in result.output


def test_seed_ranges():
    assert _parse_seeds("0-3") == [0, 1, 2, 3]
    assert _parse_seeds("1,3,5") == [1, 3, 5]
    assert _parse_seeds("0-1,9") == [0, 1, 9]


def test_demo_is_still_there():
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("demo", "run", "sweep"):
        assert command in result.output
