"""The package surface: explicit exports, and no PettingZoo import unless asked for."""

from __future__ import annotations

import subprocess
import sys

import freeagentics.worlds as worlds


def test_all_names_exist_and_are_public():
    assert len(set(worlds.__all__)) == len(worlds.__all__)
    for name in worlds.__all__:
        assert not name.startswith("_") and getattr(worlds, name) is not None


def test_importing_the_package_does_not_import_pettingzoo():
    code = (
        "import sys, freeagentics.worlds\n"
        "bad = [m for m in ('pettingzoo', 'gymnasium') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
