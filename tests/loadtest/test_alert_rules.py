"""deploy/prometheus/alerts.yml: valid rules, on metrics the server exports, same thresholds."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from freeagentics.loadtest.thresholds import THRESHOLDS
from freeagentics.server.metrics import ServerMetrics

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"
#: alert name prefix → threshold key, and the factor from the rule's unit to the report's
KEYS = {
    "CPU": ("cpu", 1),
    "Memory": ("memory", 1),
    "Response": ("response", 1000),
    "ErrorRate": ("errors", 1),
}


def _rules() -> list[dict]:
    doc = yaml.safe_load(RULES.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def test_every_rule_is_well_formed():
    rules = _rules()
    assert len(rules) == 8
    for rule in rules:
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
    metrics = ServerMetrics()
    metrics.watch(lambda: {"agents_by_kind": {}, "queues": {}, "last_write_seconds": 0.0})
    metrics.messages_sent.labels("world").inc()
    metrics.messages_dropped.labels("world").inc()
    exported = set(re.findall(r"^([a-z_]+)", metrics.render().decode(), re.M))
    for rule in _rules():
        for name in re.findall(r"\b((?:process|freeagentics)_[a-z_]+)\b", rule["expr"]):
            assert name in exported, f"{rule['alert']}: {name} is not exported"
