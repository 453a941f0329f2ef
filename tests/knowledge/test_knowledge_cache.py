"""The query cache: bounded, least-recently-used, and never stale after a write."""

from __future__ import annotations

import pytest

from freeagentics.errors import ConfigurationError
from freeagentics.knowledge import InMemoryKnowledgeGraph, QueryCache
from freeagentics.knowledge._cache import MISS


def test_cache_never_exceeds_its_size_and_drops_the_least_recently_used():
    cache = QueryCache(maxsize=3)
    for i in range(3):
        cache.put(i, 0, f"v{i}")
    assert cache.get(0, 0) == "v0"  # 0 becomes the most recently used
    cache.put(3, 0, "v3")  # evicts 1
    assert len(cache) == 3
    assert cache.get(1, 0) is MISS
    assert [cache.get(k, 0) for k in (0, 2, 3)] == ["v0", "v2", "v3"]
    for i in range(100):
        cache.put(("k", i), 0, i)
        assert len(cache) <= 3
    info = cache.info()
    assert (info.size, info.maxsize, info.hits, info.misses) == (3, 3, 4, 1)


def test_a_new_version_empties_the_cache():
    cache = QueryCache(maxsize=8)
    cache.put("q", 1, "old")
    assert cache.get("q", 1) == "old"
    assert cache.get("q", 2) is MISS
    assert len(cache) == 0
    assert cache.info().invalidations == 1
    cache.put("q", 2, "new")
    assert cache.get("q", 2) == "new"


def test_zero_size_caches_nothing():
    cache = QueryCache(maxsize=0)
    cache.put("q", 0, 1)
    assert cache.get("q", 0) is MISS
    assert len(cache) == 0


@pytest.mark.parametrize("maxsize", [-1, 1.5, True, "8"])
def test_bad_cache_size(maxsize):
    with pytest.raises(ConfigurationError, match="maxsize"):
        QueryCache(maxsize)


@pytest.fixture
def chain():
    g = InMemoryKnowledgeGraph(cache_size=4)
    ids = g.upsert_nodes("n", [str(i) for i in range(10)], {"v": list(range(10))}).tolist()
    g.upsert_edges(ids[:-1], ids[1:], "next")
    return g


def test_graph_cache_is_bounded_and_hit_on_repeats(chain):
    for k in range(10):
        chain.k_hop(1, k)
        chain.find_nodes("n", {"v__ge": k})
        assert chain.cache_info().size <= 4
    before = chain.cache_info().hits
    assert chain.find_nodes("n", {"v__ge": 9})[0].key == "9"
    assert chain.cache_info().hits == before + 1
    # True and 1 hash alike but are different filters: no false hit
    assert chain.find_nodes("n", {"v": 1}) != []
    assert chain.find_nodes("n", {"v": True}) == []


@pytest.mark.parametrize(
    ("query", "write", "before", "after"),
    [
        (
            lambda g: [n.id for n in g.find_nodes("n", {"v__gt": 7})],
            lambda g: g.upsert_node("n", "0", {"v": 100}),
            [9, 10],
            [1, 9, 10],
        ),
        (
            lambda g: g.neighbours(3),
            lambda g: g.upsert_edge(3, 7, "jump"),
            [4],
            [4, 7],
        ),
        (
            lambda g: g.k_hop(1, 2),
            lambda g: g.remove_edge(2, 3, "next"),
            {1: 0, 2: 1, 3: 2},
            {1: 0, 2: 1},
        ),
        (
            lambda g: g.shortest_path(1, 10),
            lambda g: g.upsert_edge(2, 9, "jump"),
            list(range(1, 11)),
            [1, 2, 9, 10],
        ),
        (
            lambda g: [(e.src, e.dst) for e in g.edges(5, direction="both")],
            lambda g: g.remove_node(4),
            [(4, 5), (5, 6)],
            [(5, 6)],
        ),
    ],
)
def test_a_write_invalidates_cached_results(chain, query, write, before, after):
    assert query(chain) == before
    assert query(chain) == before  # now served from the cache
    hits = chain.cache_info().hits
    write(chain)
    assert query(chain) == after
    assert chain.cache_info().hits == hits  # recomputed, not a hit
    assert chain.cache_info().invalidations >= 1


def test_mutating_a_result_does_not_poison_the_cache(chain):
    first = chain.k_hop(1, 1)
    first[99] = 5
    listed = chain.neighbours(1)
    listed.append(42)
    assert chain.k_hop(1, 1) == {1: 0, 2: 1}
    assert chain.neighbours(1) == [2]
