"""pymdp 1.x (JAX) as an oracle: it lives apart (``make peers``) and runs in its own process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
PEER = Path(os.environ.get("FREEAGENTICS_PYMDP1_PATH", ROOT / ".peers" / "pymdp-1.0.4"))


def run_pymdp1(worker: Path, cases: list[dict[str, Any]]) -> list[Any]:
    """``worker``'s answers to ``cases`` (JSON in and out) under pymdp 1.x; skips without
    the peer installed, and fails instead under CI."""
    if not (PEER / "pymdp").is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"pymdp 1.x is not installed at {PEER}; run `make peers`")
        pytest.skip(f"pymdp 1.x not installed at {PEER} (make peers)")
    env = dict(os.environ, PYTHONPATH=str(PEER), JAX_PLATFORMS="cpu")
    done = subprocess.run(
        [sys.executable, str(worker)],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout)
