"""The run command says when a scenario file leaves everything to the defaults."""

from __future__ import annotations

from typer.testing import CliRunner

from freeagentics.cli import app
from freeagentics.simulation.scenario import EMPTY_NOTE


def test_an_empty_scenario_is_run_with_a_note(tmp_path):
    path = tmp_path / "empty.toml"
    path.write_text("")
    out = tmp_path / "m.csv"
    result = CliRunner().invoke(app, ["run", str(path), "--ticks", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"note: {path}: {EMPTY_NOTE}" in " ".join(result.output.split())
    assert out.exists()
