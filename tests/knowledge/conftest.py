"""Store implementations under test.

Every contract test runs against each factory in ``STORE_FACTORIES``; a new backend
(e.g. the SQL store) joins the suite by adding itself here.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from freeagentics.knowledge import InMemoryKnowledgeGraph, KnowledgeStore

STORE_FACTORIES: dict[str, Callable[..., KnowledgeStore]] = {
    "memory": InMemoryKnowledgeGraph,
}


@pytest.fixture(params=sorted(STORE_FACTORIES))
def make_store(request: pytest.FixtureRequest) -> Callable[..., KnowledgeStore]:
    """A store factory taking the ``InMemoryKnowledgeGraph`` keyword arguments."""
    return STORE_FACTORIES[request.param]


@pytest.fixture(scope="session")
def store_factories() -> dict[str, Callable[..., KnowledgeStore]]:
    """All factories, for hypothesis tests (which cannot take function-scoped fixtures)."""
    return STORE_FACTORIES
