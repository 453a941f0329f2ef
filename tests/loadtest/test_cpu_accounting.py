"""CPU accounting: process trees read by CPU seconds, window means, and who was the limit."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import replace

import pytest

from freeagentics.loadtest.cputime import Accounts, label_of, split_tree
from freeagentics.loadtest.report import cpu_shares
from freeagentics.loadtest.thresholds import Load, generator_limits, limit_of

#: a process that burns CPU_S seconds of CPU, says how much it used, then waits for stdin
BURN = textwrap.dedent(
    """
    import subprocess, sys, time
    child = None
    if sys.argv[1] == "parent":  # a server with a process of its own below it
        child = subprocess.Popen([sys.executable, "-c", sys.argv[2], "leaf", sys.argv[2]],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        print(child.stdout.readline().strip(), flush=True)
    while time.process_time() < 0.3:
        pass
    print(child.pid if child else 0, time.process_time(), flush=True)
    sys.stdin.read()
    """
)


def _spawn(role: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", BURN, role, BURN],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _reported(line: str) -> tuple[int, float]:
    pid, seconds = line.split()
    return int(pid), float(seconds)


def test_process_trees_are_accounted_by_cpu_seconds():
    server, other = _spawn("parent"), _spawn("leaf")
    try:
        _, leaf_s = _reported(server.stdout.readline())
        leaf_pid, parent_s = _reported(server.stdout.readline())
        _, other_s = _reported(other.stdout.readline())
        accounts = Accounts(server.pid)
        groups = accounts.read()
        by_pid = groups["server"].cpu_s_by_pid
        assert set(by_pid) == {server.pid, leaf_pid}
        # what each process said it used, give or take what it did after saying it
        assert by_pid[server.pid] == pytest.approx(parent_s, abs=0.05)
        assert by_pid[leaf_pid] == pytest.approx(leaf_s, abs=0.05)
        assert groups["server"].cpu_s == pytest.approx(parent_s + leaf_s, abs=0.1)
        assert groups["server"].processes == 2
        assert other.pid in groups["generator"].cpu_s_by_pid
        assert groups["generator"].cpu_s >= other_s - 0.05
        assert not set(groups["generator"].cpu_s_by_pid) & {server.pid, leaf_pid}
        assert "-c" in accounts.labels[server.pid]
        # a process that exits keeps the seconds it had used
        server.stdin.close()
        server.wait(timeout=30)
        after = accounts.read()["server"]
        assert after.cpu_s >= groups["server"].cpu_s and after.processes < 2
    finally:
        for proc in (server, other):
            proc.kill()
            proc.wait()


def test_split_tree_follows_ancestry():
    parents = {10: 1, 11: 10, 12: 11, 20: 1, 21: 20, 30: 99}
    assert split_tree(parents, 10) == ({10, 11, 12}, {20, 21, 30})
    assert split_tree({5: 6, 6: 5}, 10) == (set(), {5, 6})  # a cycle ends the walk


def test_labels_name_program_and_module():
    assert label_of(["/usr/bin/python3", "-m", "freeagentics.cli", "serve", "--port", "1"]) == (
        "python3 -m freeagentics.cli serve"
    )
    assert label_of(["python", "script.py", "x"]) == "python script.py"
    assert label_of([]) == "?"


def test_window_cpu_is_the_difference_of_cumulative_seconds():
    def sample(t: float, server: dict[str, float], gen: float, harness: float, machine: float):
        return {
            "t": t,
            "server_cpu_s": sum(server.values()),
            "server_cpu_s_by_pid": server,
            "clients_cpu_s": gen,
            "harness_cpu_s": harness,
            "machine_cpu_percent": machine,
            "server_cpu_percent": 0.0,
        }

    record = {
        "window": [1.0, 3.0],
        "machine": {"cpu_count": 2},
        "samples": [
            sample(0.0, {"1": 0.0}, 0.0, 0.0, 10.0),  # before the window: ignored
            sample(1.0, {"1": 5.0}, 1.0, 0.5, 70.0),
            sample(2.0, {"1": 5.6, "2": 0.2}, 1.3, 0.55, 80.0),
            sample(3.0, {"1": 6.6, "2": 0.4}, 1.5, 0.6, 75.0),
        ],
    }
    cpu = cpu_shares(record)
    assert cpu["server"] == pytest.approx(100 * (7.0 - 5.0) / 2)
    assert cpu["server_by_pid"] == pytest.approx({"1": 80.0, "2": 20.0})  # "2" began in it
    assert cpu["server_busiest"] == pytest.approx(80.0)
    assert cpu["generator"] == pytest.approx(25.0)
    assert cpu["harness"] == pytest.approx(5.0)
    assert cpu["machine"] == pytest.approx(75.0)
    assert cpu["others"] == pytest.approx(75.0 * 2 - (100 + 25 + 5))


#: a profile where nobody was the limit: every rule's figures well inside
ROOMY = Load(
    cores=2,
    server_cpu=40.0,
    server_busiest=40.0,
    generator_cpu=10.0,
    generator_processes=1,
    machine_cpu=30.0,
    loop_lag_p95_ms=1.0,
    worst_p95_ms=20.0,
    band="optimal",
)


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"generator_cpu": 90.0}, "(1)"),  # one process at 90 % of its core
        ({"generator_cpu": 180.0, "generator_processes": 4}, "(1)"),  # capped by the cores
        ({"machine_cpu": 95.0, "generator_cpu": 45.0}, "(2)"),
        ({"band": "severe", "worst_p95_ms": 900.0, "loop_lag_p95_ms": 1.0}, "(3)"),
        ({"loop_lag_p95_ms": 12.0}, "(4)"),  # ≥ 10 ms and ≥ 25 % of 20 ms
        (
            {
                "loop_lag_p95_ms": 60.0,
                "worst_p95_ms": 200.0,
                "band": "acceptable",
                "server_busiest": 70.0,
                "server_cpu": 70.0,
            },
            "(4)",
        ),
    ],
)
def test_each_rule_alone_makes_the_generator_the_limit(changes, rule):
    load = replace(ROOMY, **changes)
    reasons = generator_limits(load)
    assert [r[:3] for r in reasons] == [rule]
    assert limit_of(load) == "generator"


def test_short_of_every_rule_the_generator_is_not_the_limit():
    assert generator_limits(ROOMY) == [] and limit_of(ROOMY) == "none"
    edges = replace(
        ROOMY,
        generator_cpu=89.0,  # under 90 % of one process's core
        machine_cpu=89.0,  # under the machine's 90 %
        loop_lag_p95_ms=9.9,  # under the 10 ms floor
    )
    assert generator_limits(edges) == []
    # four processes on two cores: their capacity is 200 %, busy from 180 %
    assert generator_limits(replace(ROOMY, generator_cpu=161.0, generator_processes=4)) == []
    # a lag that is small beside a large latency does not count
    assert generator_limits(replace(ROOMY, loop_lag_p95_ms=40.0, worst_p95_ms=400.0)) == []


def test_server_machine_or_none():
    slow = replace(ROOMY, band="severe", worst_p95_ms=900.0, server_busiest=95.0, server_cpu=95.0)
    assert limit_of(slow) == "server"  # latency rose with a server process saturated
    starved = replace(slow, server_busiest=70.0, server_cpu=70.0, machine_cpu=95.0)
    assert limit_of(starved) == "machine"  # the cores went to other work
    # an idle server and slow replies on a machine busy with other work: not the generator
    idle = replace(slow, server_busiest=12.0, server_cpu=12.0, machine_cpu=98.0)
    assert generator_limits(idle) == [] and limit_of(idle) == "machine"
    busy_but_fast = replace(ROOMY, server_busiest=92.0, server_cpu=92.0)
    assert limit_of(busy_but_fast) == "server"
