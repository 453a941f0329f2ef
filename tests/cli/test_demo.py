"""The demo command runs a population and reports what it did."""

from __future__ import annotations

from typer.testing import CliRunner

from freeagentics.cli import app


def test_demo_runs_and_reports_throughput():
    result = CliRunner().invoke(app, ["demo", "--agents", "200", "--ticks", "5", "--size", "5"])
    assert result.exit_code == 0, result.output
    assert "agent-steps per second" in result.output
    assert "200 explorer agents" in result.output
    assert "5/5 ticks" in result.output


def test_demo_rejects_an_unknown_model():
    result = CliRunner().invoke(app, ["demo", "--model", "nonesuch", "--ticks", "1"])
    assert result.exit_code != 0
    assert "unknown model 'nonesuch'" in result.output
