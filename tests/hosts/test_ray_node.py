"""The environment every Ray node of a deployment starts with: what it sets, what it
refuses, and that the README's commands set the same."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from freeagentics.hosts.ray_node import node_env
from freeagentics.server.rayhost import PRELOAD

README = Path(__file__).resolve().parents[2] / "README.md"


def test_nodes_start_workers_in_advance_and_notice_a_dead_node_after_three_checks():
    assert node_env() == {
        "RAY_enable_worker_prestart": "1",
        "RAY_health_check_period_ms": "500",
        "RAY_health_check_failure_threshold": "3",
    }
    env = node_env(PRELOAD, health_check_ms=1000, failure_threshold=5, soft_limit=40)
    assert env["RAY_preload_python_modules"] == ",".join(PRELOAD)
    assert env["RAY_health_check_period_ms"] == "1000"
    assert env["RAY_health_check_failure_threshold"] == "5"
    assert env["RAY_num_workers_soft_limit"] == "40"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"preload": ("freeagentics.server", "not a module")}, "preload must name modules"),
        ({"preload": ("",)}, "preload must name modules"),
        ({"health_check_ms": 0}, "must be positive"),
        ({"failure_threshold": 0}, "must be positive"),
        ({"soft_limit": 0}, "soft_limit must be positive"),
    ],
)
def test_bad_node_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        node_env(**kwargs)


def test_the_readme_starts_nodes_as_the_local_cluster_does():
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### Simulations on a Ray cluster") :]
    section = section[: section.index("\n## ")]
    exported = dict(re.findall(r"\b(RAY_\w+)=(\S+)", section))
    for name, value in node_env(PRELOAD).items():
        assert exported.get(name) == value, f"README's Ray section: {name}={value}"
