"""The wheel is the whole product: it holds its data files and ``py.typed``, and installed
with the run lock alone into a fresh environment, away from the checkout, its commands
work, the load test included.

Both tests build the wheel (``pip wheel``, which fetches the build backend pinned in
pyproject), and the second installs the run lock: they are slow.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the sources (the build leaves nothing in the checkout)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "freeagentics", src / "freeagentics", ignore=ignore)
    out = tmp_path_factory.mktemp("wheel")
    cmd = [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "-q", "-w", str(out)]
    subprocess.run(cmd, check=True, cwd=src, timeout=600)
    (path,) = out.glob("freeagentics-*.whl")
    return path


def test_wheel_holds_py_typed_and_data_files_and_nothing_from_the_checkout(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "freeagentics/py.typed" in names
    assert "freeagentics/server/static/index.html" in names
    assert "freeagentics/storage/migrations/env.py" in names
    assert "freeagentics/loadtest/measure.py" in names
    assert not [n for n in names if n.startswith(("benchmarks/", "tests/"))]


def test_installed_wheel_runs_its_commands_and_a_tiny_load_test(wheel, tmp_path):
    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # no checkout on the path
    env["COLUMNS"] = "300"  # messages on one line
    pip = [str(bin_dir / "python"), "-m", "pip", "install", "-q", "--no-compile"]
    lock = str(ROOT / "requirements" / "run.lock")
    subprocess.run([*pip, "-r", lock], check=True, env=env, timeout=900)
    subprocess.run([*pip, "--no-deps", str(wheel)], check=True, env=env, timeout=300)
    work = tmp_path / "elsewhere"  # nor here
    work.mkdir()

    def run(*args: str, timeout: float = 120) -> str:
        done = subprocess.run(
            [str(bin_dir / "freeagentics"), *args],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done.stdout

    where = subprocess.run(
        [str(bin_dir / "python"), "-c", "import freeagentics, pytest"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    assert "No module named 'pytest'" in where.stderr  # the run lock has no test extras
    assert run("--version").strip().startswith("freeagentics ")
    assert "--profile" in run("loadtest", "--help")
    report = work / "report"
    output = run(
        "loadtest", "--agents", "5", "--users", "2", "--duration", "2", "--report", str(report),
        timeout=300,
    )  # fmt: skip
    assert "come with the source checkout" in output  # B1/B3 need benchmarks/: said, not fatal
    assert (report / "report.md").exists()
    assert (report / "raw" / "profile-custom.json").exists()
