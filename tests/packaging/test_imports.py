"""What the installed package imports is the standard library, itself and its declared
runtime dependencies: never ``benchmarks`` (the checkout's folder) nor a test extra."""

from __future__ import annotations

import ast
import functools
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "freeagentics"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
#: modules that may import an optional extra's packages (they say so when it is missing)
OPTIONAL = {
    "freeagentics/worlds/pettingzoo.py": "pettingzoo",
    "freeagentics/hosts/ray_local.py": "ray",
    "freeagentics/hosts/shards.py": "ray",
    # lazily, once the settings have refused simulation_host "ray" without the extra
    "freeagentics/hosts/ray_hosts.py": "ray",
    "freeagentics/server/rayhost.py": "ray",
}


def _names(requirements: list[str]) -> set[str]:
    return {canonicalize_name(Requirement(line).name) for line in requirements}


RUNTIME = _names(PROJECT["dependencies"])


@functools.cache
def _providers() -> dict[str, list[str]]:
    """Importable top-level name → the installed distributions providing it (slow: once)."""
    return packages_distributions()


def _top_level_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _undeclared(path: Path, allowed: set[str]) -> list[str]:
    """The imports of ``path`` that no distribution in ``allowed`` provides."""
    to_dist = _providers()
    found = []
    for name in sorted(_top_level_imports(path)):
        if name in sys.stdlib_module_names or name in ("freeagentics", "__future__"):
            continue
        dists = {canonicalize_name(d) for d in to_dist.get(name, [])}
        if not dists & allowed:
            found.append(f"{name} ({', '.join(sorted(dists)) or 'not installed'})")
    return found


def test_installed_modules_import_only_declared_runtime_dependencies():
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        extra = OPTIONAL.get(rel)
        allowed = RUNTIME | (_names(PROJECT["optional-dependencies"][extra]) if extra else set())
        problems += [f"{rel} imports {name}" for name in _undeclared(path, allowed)]
    assert not problems, "\n".join(problems)


def test_an_import_of_benchmarks_or_a_test_package_is_reported(tmp_path):
    module = tmp_path / "m.py"
    module.write_text(
        "import json\nimport numpy\nimport pytest\n"
        "from benchmarks._common import run_worker\nfrom pymdp.agent import Agent\n"
    )
    assert [p.split()[0] for p in _undeclared(module, RUNTIME)] == ["benchmarks", "pymdp", "pytest"]
