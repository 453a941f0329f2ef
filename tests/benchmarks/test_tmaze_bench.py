"""B1's T-maze cell: the model it builds, and a short run of ``--cases tmaze``.

Not a timing test: the lockstep run must time both agents on the same observations,
with no differing action, and report the figures under BENCHMARKS.md's names.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks._tmaze import tmaze_model

REPO = Path(__file__).resolve().parents[2]


def test_tmaze_model_is_normalised_and_the_cue_reveals_the_context():
    model = tmaze_model(0.9)
    for a in model["A"] + model["B"]:
        np.testing.assert_allclose(a.sum(axis=0), 1.0)
    _, A_reward, A_cue = model["A"]
    for context in range(2):
        assert A_cue[context, 3, context] == 1.0  # at the cue location
        np.testing.assert_allclose(A_cue[:, 0, context], 0.5)  # uninformative at the centre
        assert A_reward[1, 1 + context, context] == pytest.approx(0.9)  # rewarded arm
        assert A_reward[2, 2 - context, context] == pytest.approx(0.9)  # the other: loss
    assert model["C"][1][1] > 0 > model["C"][1][2]


@pytest.mark.slow
def test_tmaze_cell_runs_in_lockstep(tmp_path):
    pytest.importorskip("pymdp.agent")
    out = tmp_path / "tmaze.json"
    cmd = [
        sys.executable,
        str(REPO / "benchmarks" / "engine.py"),
        "--cases",
        "tmaze",
        "--no-peers",
        "--cell-seconds",
        "0.05",
        "--json",
        str(out),
    ]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "B1 tmaze" in done.stdout
    records = {r["impl"]: r for r in json.loads(out.read_text())}
    assert set(records) == {"freeagentics", "inferactively-pymdp-0.0.7.1"}
    for r in records.values():
        assert r["benchmark"] == "B1" and r["case"] == "tmaze" and r["n"] == 1
        assert r["disagreements"] == 0
        assert r["ticks"] >= 300  # at least 100 trials of 3 steps
        for key in ("agent_steps_per_s", "tick_s_median", "tick_s_p95"):
            assert math.isfinite(r[key]) and r[key] > 0
    peer = records["inferactively-pymdp-0.0.7.1"]
    assert peer["freeagentics_ratio"] == pytest.approx(
        records["freeagentics"]["agent_steps_per_s"] / peer["agent_steps_per_s"]
    )
    assert peer["target_ratio"] == 5.0 and isinstance(peer["target_met"], bool)
