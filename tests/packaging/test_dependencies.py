"""pyproject declares compatible ranges; the lock files pin every package inside them."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
LOCKS = {"run": ROOT / "requirements" / "run.lock", "test": ROOT / "requirements" / "test.lock"}
#: ``name==version`` with an optional environment marker, as ``uv pip compile`` writes it
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)(?:\s*;\s*(?P<m>.+))?$")


def _declared(extra: str | None) -> list[Requirement]:
    lines = (
        PYPROJECT["dependencies"] if extra is None else PYPROJECT["optional-dependencies"][extra]
    )
    return [Requirement(line) for line in lines]


def _lock(kind: str) -> dict[str, Version]:
    """Every pinned package of a lock file; any other non-comment line fails."""
    pins: dict[str, Version] = {}
    for line in LOCKS[kind].read_text().splitlines():
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        match = PIN.match(text)
        assert match, f"{LOCKS[kind].name}: not an exact pin: {line!r}"
        pins[canonicalize_name(match["name"])] = Version(match["version"])
    return pins


def test_library_dependencies_are_ranges_not_pins():
    groups = {"dependencies": _declared(None)}
    groups |= {f"extra {e}": _declared(e) for e in PYPROJECT["optional-dependencies"]}
    for group, requirements in groups.items():
        for req in requirements:
            operators = {spec.operator for spec in req.specifier}
            assert "==" not in operators and "===" not in operators, f"{group}: {req} is pinned"
            assert any(op in (">=", ">", "~=") for op in operators), f"{group}: {req} has no floor"
            assert "<" in operators or "~=" in operators, f"{group}: {req} has no ceiling"


@pytest.mark.parametrize(("kind", "extras"), [("run", ()), ("test", ("test",))])
def test_every_locked_dependency_satisfies_the_declared_range(kind, extras):
    pins = _lock(kind)
    env = default_environment()
    for req in _declared(None) + [r for e in extras for r in _declared(e)]:
        if req.marker is not None and not req.marker.evaluate(env):
            continue
        name = canonicalize_name(req.name)
        assert name in pins, f"{LOCKS[kind].name} lacks {req.name}"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"{LOCKS[kind].name}: {name}=={pins[name]} outside {req}"
        )


def test_the_run_lock_is_the_server_set_and_agrees_with_the_test_lock():
    run, test = _lock("run"), _lock("test")
    for name, version in run.items():
        assert test.get(name) == version, f"{name}: run.lock {version}, test.lock {test.get(name)}"
    for test_only in ("pytest", "hypothesis", "inferactively-pymdp", "playwright", "schemathesis"):
        assert test_only not in run, f"run.lock installs {test_only}, a test-only package"
        assert test_only in test


def test_py_typed_ships_as_package_data():
    """The wheel test (slow) checks the built file; this holds the declaration."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "py.typed" in data["package-data"]["freeagentics"]
    assert (ROOT / "freeagentics" / "py.typed").is_file()
