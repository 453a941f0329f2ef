"""Capacity: the documented eviction order, pinning, atomic refusals, and the bound itself."""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pytest

from freeagentics.errors import UnknownIdError
from freeagentics.knowledge import CapacityError, InMemoryKnowledgeGraph


def keys_of(g, type):
    return [n.key for n in g.find_nodes(type, limit=1000)]


def test_least_recently_updated_evicted_first_ties_by_id(make_store):
    g = make_store(max_nodes=3)
    g.upsert_nodes("loc", ["a", "b"])  # ids 1, 2 at tick 0
    g.set_tick(1)
    g.upsert_node("loc", "c")  # 3
    g.set_tick(2)
    g.upsert_node("loc", "a")  # touched: a is now updated at tick 2
    g.upsert_node("loc", "d")  # 4 -> evicts b, the only node last updated at tick 0
    assert keys_of(g, "loc") == ["a", "c", "d"]
    g.set_tick(3)
    g.upsert_nodes("loc", ["e", "f"])  # evicts c (tick 1), then a (tick 2, id 1 < 4)
    assert keys_of(g, "loc") == ["d", "e", "f"]
    assert g.stats().evicted_nodes == 3
    with pytest.raises(UnknownIdError):
        g.get_node(2)
    # an evicted key comes back as a new node
    g.set_tick(4)
    assert g.upsert_node("loc", "b") == 7


def test_pinned_types_are_never_evicted(make_store):
    g = make_store(max_nodes=4)
    g.upsert_nodes("agent", ["1", "2"])
    g.upsert_node("coalition", "9")
    for tick in range(1, 20):
        g.set_tick(tick)
        g.upsert_node("loc", str(tick))
        assert g.count_nodes() == 4
    assert keys_of(g, "agent") == ["1", "2"]
    assert keys_of(g, "coalition") == ["9"]
    assert keys_of(g, "loc") == ["19"]
    assert g.stats().pinned_nodes == 3


def test_eviction_takes_the_incident_edges(make_store):
    g = make_store(max_nodes=2)
    agent = g.upsert_node("agent", "1")
    loc = g.upsert_node("loc", "x")
    g.upsert_edge(agent, loc, "discovered")
    g.upsert_edge(loc, agent, "seen_by")
    g.set_tick(1)
    g.upsert_node("loc", "y")
    assert g.count_edges() == 0
    assert g.neighbours(agent, direction="both") == []
    assert (g.stats().evicted_nodes, g.stats().evicted_edges) == (1, 2)


def test_capacity_error_when_pinned_or_current_tick_nodes_cannot_fit(make_store):
    g = make_store(max_nodes=3)
    g.upsert_nodes("agent", ["1", "2"])
    g.upsert_node("loc", "a")
    # pinned plus this tick's writes: nothing is old enough to evict
    with pytest.raises(CapacityError, match="max_nodes=3"):
        g.upsert_node("loc", "b")
    with pytest.raises(CapacityError):
        g.upsert_nodes("agent", ["3"])
    assert g.count_nodes() == 3
    g.set_tick(1)
    with pytest.raises(CapacityError):
        g.upsert_nodes("loc", ["b", "c"])  # two fresh nodes cannot fit next to two agents
    with pytest.raises(CapacityError):
        g.upsert_nodes("agent", ["3", "4"])
    assert keys_of(g, "loc") == ["a"]
    assert g.count_nodes() == 3
    # a refused write used no ids; re-writing existing keys needs no room
    assert g.upsert_node("loc", "b") == 4
    assert g.upsert_nodes("agent", ["1", "2"]).tolist() == [1, 2]
    assert keys_of(g, "loc") == ["b"]


def test_edge_eviction_order_and_pinned_edge_types(make_store):
    g = make_store(max_edges=3)
    a, b, c, d = g.upsert_nodes("agent", ["a", "b", "c", "d"]).tolist()
    g.upsert_edge(a, b, "member_of")  # pinned edge type
    g.upsert_edge(c, d, "saw")
    g.upsert_edge(a, d, "saw")
    g.set_tick(1)
    g.upsert_edge(b, c, "saw")  # evicts (1, 4, saw) before (3, 4, saw): same tick, smaller src
    assert [(e.src, e.dst, e.type) for e in g.edges(a)] == [(a, b, "member_of")]
    assert g.count_edges() == 3
    g.set_tick(2)
    g.upsert_edge(c, d, "saw")  # touch
    g.upsert_edge(d, a, "saw")  # evicts (2, 3): last updated at tick 1
    assert g.count_edges("saw") == 2
    assert g.count_edges("member_of") == 1
    assert g.neighbours(b) == []
    with pytest.raises(CapacityError, match="max_edges=3"):
        g.upsert_edge(b, a, "saw")  # only pinned and tick-2 edges left
    assert g.stats().evicted_edges == 2


def test_node_and_edge_counts_stay_bounded_over_many_ticks(make_store):
    g = make_store(max_nodes=60, max_edges=90)
    agents = g.upsert_nodes("agent", [str(i) for i in range(10)])
    rng = np.random.default_rng(0)
    created = 10
    for tick in range(1, 1001):
        g.set_tick(tick)
        locs = g.upsert_nodes("loc", [f"{tick}-{j}" for j in range(8)], {"tick": tick})
        created += 8
        g.upsert_edges(rng.choice(agents, 8), locs, "discovered")
        g.upsert_edges(locs[:-1], locs[1:], "near")
        assert g.count_nodes() <= 60
        assert g.count_edges() <= 90
    stats = g.stats()
    assert stats.nodes == 60
    assert stats.evicted_nodes == created - 60
    assert keys_of(g, "agent") == [str(i) for i in range(10)]
    # the newest nodes survive
    assert min(n.properties["tick"] for n in g.find_nodes("loc", limit=1000)) >= 1000 - 7


@pytest.mark.slow
def test_memory_does_not_grow_with_ticks():
    g = InMemoryKnowledgeGraph(max_nodes=500, max_edges=1_000, cache_size=64)
    agents = g.upsert_nodes("agent", [str(i) for i in range(100)])

    def run(ticks, start):
        for tick in range(start, start + ticks):
            g.set_tick(tick)
            locs = g.upsert_nodes("loc", [f"{tick}-{j}" for j in range(20)], {"t": tick})
            g.upsert_edges(np.resize(agents, 20), locs, "discovered", {"t": tick})
            g.find_nodes("loc", {"t__ge": tick - 3}, limit=10, offset=380)
            g.k_hop(int(agents[tick % 100]), 2)

    tracemalloc.start()
    try:
        run(100, 1)  # fill to capacity
        gc.collect()
        warm, _ = tracemalloc.get_traced_memory()
        run(1_000, 101)
        gc.collect()
        late, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert g.count_nodes() == 500
    assert late < warm * 1.1
