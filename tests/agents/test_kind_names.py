"""The built-in kinds' names, known without building them, are the kinds' names."""

from __future__ import annotations

from freeagentics.agents._names import BUILTIN_KINDS
from freeagentics.agents.kinds import builtin_kinds


def test_the_light_names_are_the_built_in_kinds():
    assert BUILTIN_KINDS == tuple(sorted(builtin_kinds()))
