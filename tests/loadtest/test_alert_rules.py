"""deploy/: alert rules valid (promtool), tested, on exported metrics, with the report's
thresholds; the Grafana dashboard's queries valid and on exported metrics."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest

from freeagentics.loadtest.server import free_port
from freeagentics.loadtest.thresholds import THRESHOLDS
from freeagentics.server.metrics import FailoverCollector, ServerMetrics
from freeagentics.server.worker_metrics import WorkerFigures, WorkerMetricsStore, WorkersCollector
from freeagentics.simulation._activity import WARNINGS

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"
#: alert name prefix → threshold key, and the factor from the rule's unit to the report's
KEYS = {
    "CPU": ("cpu", 1),
    "Memory": ("memory", 1),
    "Response": ("response", 1000),
    "ErrorRate": ("errors", 1),
}


def _rules(group: str = "freeagentics-load") -> list[dict]:
    doc = yaml.safe_load(RULES.read_text())
    return [rule for g in doc["groups"] if g["name"] == group for rule in g["rules"]]


def test_every_rule_is_well_formed():
    rules = _rules()
    assert len(rules) == 8
    behaviour = _rules("freeagentics-behaviour")
    assert {r["alert"] for r in behaviour} == {
        f"FreeAgenticsAgents{w.capitalize()}" for w in WARNINGS
    }
    for rule in rules + behaviour:
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["expr"].count("(") == rule["expr"].count(")")


def test_rules_carry_the_reports_thresholds():
    seen = set()
    for rule in _rules():
        name = rule["alert"].removeprefix("FreeAgentics")
        prefix = next(p for p in KEYS if name.startswith(p))
        key, factor = KEYS[prefix]
        value = float(re.search(r">\s*([0-9.]+)\s*$", rule["expr"]).group(1)) * factor
        t = THRESHOLDS[key]
        expected = t.critical if rule["labels"]["severity"] == "critical" else t.alert
        assert value == expected, rule["alert"]
        seen.add((key, rule["labels"]["severity"]))
    assert len(seen) == 8


def test_rules_use_metrics_the_server_exports():
    exported = _exported_names()
    for rule in _rules() + _rules("freeagentics-behaviour"):
        for name in re.findall(r"\b((?:process|freeagentics)_[a-z_]+)\b", rule["expr"]):
            assert name in exported, f"{rule['alert']}: {name} is not exported"


# ------------------------------------------------ checked by Prometheus's own promtool
def _promtool() -> str:
    """Debian's promtool (``make test`` installs it); CI fails rather than skips without it."""
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("FREEAGENTICS_REQUIRE_SERVICES") == "1":
            pytest.fail("promtool is not installed (Debian package 'prometheus')")
        pytest.skip("promtool is not installed (Debian package 'prometheus')")
    return path


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


def test_promtool_checks_the_rules():
    result = _run(_promtool(), "check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 11 rules found" in result.stdout


def test_promtool_unit_tests_of_the_rules_pass():
    """alerts_test.yml: slow and failing servers fire the warnings, a healthy one nothing."""
    result = _run(_promtool(), "test", "rules", str(RULES.with_name("alerts_test.yml")))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


# ------------------------------------------------------------- the Grafana dashboard
DASHBOARD = RULES.parents[1] / "grafana" / "freeagentics.json"


def _dashboard_queries() -> list[tuple[str, str]]:
    doc = json.loads(DASHBOARD.read_text())
    return [(p["title"], t["expr"]) for p in doc["panels"] for t in p["targets"]]


def _exported_names() -> set[str]:
    metrics = ServerMetrics()
    activity = {
        "moving_fraction": 0.5,
        "moving_fraction_avg": 0.5,
        "alive_fraction": 1.0,
        "alive": 4,
        "dead": 0,
        "stuck": 1,
        "warnings": [{"code": "stuck", "message": "half the agents are stuck"}],
    }
    metrics.watch(
        lambda: {
            "agents_by_kind": {"x": 1},
            "queues": {"q": 0},
            "last_write_seconds": 0.0,
            "activity": {1: activity},
        }
    )
    metrics.messages_sent.labels("world").inc()
    metrics.messages_dropped.labels("world").inc()
    metrics.frames_skipped.labels("world").inc()
    metrics.http_seconds.labels("GET", "/x").observe(0.01)
    metrics.http_errors.labels("GET", "/x", "500").inc()
    metrics.tick_seconds.observe(0.01)
    metrics.db_write_seconds.observe(0.01)
    metrics.registry.register(FailoverCollector(lambda: (1, 3)))  # simulations on Ray
    return set(re.findall(r"^([a-z_]+)", metrics.render().decode() + _worker_view(), re.M))


def _worker_view() -> str:
    """What an API worker among several adds (shown alone: its Redis does not answer)."""
    worker = ServerMetrics("api")
    store = WorkerMetricsStore(f"redis://127.0.0.1:{free_port()}/0", "unreachable")
    figures = WorkerFigures(worker.registry, 0, store, period_s=60.0)
    figures.rejected.labels("malformed").inc()
    try:  # the host's families are the single process's, above
        return generate_latest(WorkersCollector(figures, CollectorRegistry(), 2)).decode()
    finally:
        store.close()


def test_dashboard_queries_use_metrics_the_server_exports():
    exported = _exported_names()
    queries = _dashboard_queries()
    assert len(queries) >= 12
    used = set()
    for title, expr in queries:
        names = re.findall(r"\b((?:process|freeagentics)_[a-z_]+)\b", expr)
        assert names, f"{title}: {expr} reads no metric"
        for name in names:
            assert name in exported, f"panel {title!r}: {name} is not exported"
            used.add(name)
    # every family the server exports of its own has a panel
    own = {n for n in exported if n.startswith("freeagentics_")}
    families = {re.sub(r"_(bucket|count|sum|created|total)$", "", n) for n in own}
    shown = {re.sub(r"_(bucket|count|sum|created|total)$", "", n) for n in used}
    assert families <= shown, f"no panel for {sorted(families - shown)}"


def test_dashboard_queries_are_valid_promql(tmp_path):
    """promtool parses each query as a recording rule (Grafana's variables filled in)."""
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {
                        "record": f"dashboard:query_{i}",
                        "expr": expr.replace("$__rate_interval", "5m").replace("$job", "fa"),
                    }
                    for i, (_, expr) in enumerate(_dashboard_queries())
                ],
            }
        ]
    }
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump(rules))
    result = _run(_promtool(), "check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
