"""The KnowledgeStore contract on small hand-built graphs, with exact expected results."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from freeagentics.errors import ConfigurationError, UnknownIdError
from freeagentics.knowledge import MAX_HOPS, MAX_LIMIT, Edge, KnowledgeStore, Node


@pytest.fixture
def city(make_store):
    """place a(1) b(2) c(3) d(5), person p(4); a-road->b-road->c-road->d, a-rail->c, p-lives->a."""
    g = make_store()
    a = g.upsert_node("place", "a", {"x": 1, "name": "alpha", "open": True})
    b = g.upsert_node("place", "b", {"x": 2.5, "name": "beta"})
    c = g.upsert_node("place", "c", {"x": 3, "name": "gamma", "open": False})
    p = g.upsert_node("person", "p", {"age": 30, "name": "pat"})
    d = g.upsert_node("place", "d")
    assert (a, b, c, p, d) == (1, 2, 3, 4, 5)
    g.upsert_edge(a, b, "road")
    g.upsert_edge(b, c, "road", {"lanes": 2}, weight=0.5)
    g.upsert_edge(a, c, "rail")
    g.upsert_edge(c, d, "road")
    g.upsert_edge(p, a, "lives")
    return g


def ids(nodes: list[Node]) -> list[int]:
    return [n.id for n in nodes]


def test_memory_store_satisfies_the_protocol(make_store):
    assert isinstance(make_store(), KnowledgeStore)


# --- nodes ----------------------------------------------------------------------------


def test_get_node_returns_the_exact_snapshot(city):
    assert city.get_node(2) == Node(2, "place", "b", {"x": 2.5, "name": "beta"}, 0, 0)
    assert city.get_node(5) == Node(5, "place", "d", {}, 0, 0)


def test_upsert_merges_properties_keeps_id_and_stamps_ticks(city):
    city.set_tick(7)
    nid = city.upsert_node("place", "b", {"x": 9, "lit": True})
    assert nid == 2
    assert city.get_node(2) == Node(2, "place", "b", {"x": 9, "name": "beta", "lit": True}, 0, 7)
    # same key under another type is another node, with the next id
    assert city.upsert_node("person", "b") == 6
    assert city.count_nodes() == 6


def test_upsert_with_no_properties_still_touches(city):
    city.set_tick(3)
    city.upsert_node("place", "a")
    node = city.get_node(1)
    assert (node.created_tick, node.updated_tick) == (0, 3)
    assert node.properties == {"x": 1, "name": "alpha", "open": True}


def test_batch_upsert_aligns_ids_and_applies_repeats_in_order(make_store):
    g = make_store()
    g.upsert_node("cell", "7", {"v": 0, "w": "keep"})
    out = g.upsert_nodes(
        "cell",
        np.array([3, 7, 3, 9]),
        {"v": np.array([1, 2, 3, 4], dtype=np.int32), "tag": "t"},
    )
    assert out.dtype == np.int64
    assert out.tolist() == [2, 1, 2, 3]
    assert g.get_node(2).properties == {"v": 3, "tag": "t"}
    assert g.get_node(1).properties == {"v": 2, "w": "keep", "tag": "t"}
    # numpy scalars come back as plain Python values
    assert type(g.get_node(3).properties["v"]) is int
    assert g.upsert_nodes("cell", [], None).tolist() == []


def test_batch_upsert_accepts_sequences_and_float_columns(make_store):
    g = make_store()
    out = g.upsert_nodes("a", ["x", "y"], {"e": [0.5, 1.5], "f": np.array([1.0, 2.0])})
    assert out.tolist() == [1, 2]
    props = g.get_node(2).properties
    assert props == {"e": 1.5, "f": 2.0}
    assert type(props["f"]) is float


def test_node_id_lookup(city):
    assert city.node_id("place", "c") == 3
    assert city.node_id("place", "zzz") is None
    assert city.node_id("ghost", "a") is None
    assert city.node_ids("place", ["d", "nope", "a"]).tolist() == [5, -1, 1]
    assert city.get_nodes([3, 1]) == [city.get_node(3), city.get_node(1)]


def test_results_are_read_only_snapshots(city):
    node = city.get_node(1)
    with pytest.raises(TypeError, match="read-only"):
        node.properties["x"] = 100  # type: ignore[index]
    with pytest.raises(TypeError, match="read-only"):
        node.properties.update(x=100)  # type: ignore[attr-defined]
    assert pickle.loads(pickle.dumps(node)) == node
    edge = city.get_edge(2, 3, "road")
    assert pickle.loads(pickle.dumps(edge)) == edge
    assert hash(node) == hash(city.get_node(1))
    city.upsert_node("place", "a", {"x": 100})
    assert node.properties["x"] == 1
    assert city.get_node(1).properties["x"] == 100
    found = city.find_nodes("place")
    found.clear()
    assert ids(city.find_nodes("place")) == [1, 2, 3, 5]


def test_remove_node_takes_incident_edges_and_never_reuses_the_id(city):
    city.remove_node(3)
    assert city.count_nodes() == 4
    assert city.count_edges() == 2  # b->c, a->c, c->d gone
    assert city.neighbours(1) == [2]
    assert city.neighbours(5, direction="in") == []
    with pytest.raises(UnknownIdError, match="3"):
        city.get_node(3)
    assert city.node_id("place", "c") is None
    assert city.upsert_node("place", "c") == 6


def test_pinned_nodes_can_be_removed_explicitly(make_store):
    g = make_store()
    nid = g.upsert_node("agent", "1")
    g.remove_node(nid)
    assert g.count_nodes() == 0
    assert g.stats().pinned_nodes == 0


# --- edges ----------------------------------------------------------------------------


def test_get_edge_and_upsert_edge_merge(city):
    assert city.get_edge(2, 3, "road") == Edge(2, 3, "road", {"lanes": 2}, 0.5)
    city.upsert_edge(2, 3, "road", {"toll": True}, weight=2.0)
    assert city.get_edge(2, 3, "road") == Edge(2, 3, "road", {"lanes": 2, "toll": True}, 2.0)
    assert city.count_edges("road") == 3
    with pytest.raises(UnknownIdError, match=r"3 -road-> 2"):
        city.get_edge(3, 2, "road")


def test_batch_edges(make_store):
    g = make_store()
    g.upsert_nodes("n", ["a", "b", "c"])
    g.upsert_edges(np.array([1, 1, 2]), np.array([2, 3, 3]), "e", {"w": [1, 2, 3]}, [0.1, 0.2, 0.3])
    assert g.edges(1) == [Edge(1, 2, "e", {"w": 1}, 0.1), Edge(1, 3, "e", {"w": 2}, 0.2)]
    assert g.remove_edges([1, 2], [2, 1], "e", missing_ok=True) == 1
    assert g.count_edges() == 2
    # without missing_ok a missing edge raises before anything is removed
    with pytest.raises(UnknownIdError, match=r"2 -e-> 1"):
        g.remove_edges([1, 2], [3, 1], "e")
    assert g.count_edges() == 2
    g.remove_edge(1, 3, "e")
    assert g.edges(1) == []


def test_edges_to_unknown_nodes_change_nothing(city):
    with pytest.raises(UnknownIdError, match="99"):
        city.upsert_edges([1, 99], [2, 1], "road")
    with pytest.raises(UnknownIdError, match="42"):
        city.upsert_edge(42, 1, "road")
    assert city.count_edges() == 5


def test_self_loop(make_store):
    g = make_store()
    n = g.upsert_node("n", "a")
    g.upsert_edge(n, n, "self")
    assert g.neighbours(n) == [n]
    assert g.neighbours(n, direction="both") == [n]
    assert g.edges(n, direction="both") == [Edge(n, n, "self", {})]
    g.remove_node(n)
    assert g.count_edges() == 0


# --- queries --------------------------------------------------------------------------


def test_neighbours(city):
    assert city.neighbours(1) == [2, 3]
    assert city.neighbours(1, "road") == [2]
    assert city.neighbours(1, "ghost") == []
    assert city.neighbours(1, direction="in") == [4]
    assert city.neighbours(1, direction="both") == [2, 3, 4]
    assert city.neighbours(3, direction="in") == [1, 2]
    assert city.neighbours(5) == []


def test_edges_listing(city):
    assert city.edges(1) == [Edge(1, 2, "road", {}), Edge(1, 3, "rail", {})]
    assert city.edges(1, direction="in") == [Edge(4, 1, "lives", {})]
    assert city.edges(1, "road", direction="both") == [Edge(1, 2, "road", {})]
    assert [(e.src, e.dst, e.type) for e in city.edges(1, direction="both")] == [
        (1, 2, "road"),
        (1, 3, "rail"),
        (4, 1, "lives"),
    ]


def test_k_hop(city):
    assert city.k_hop(1, 0) == {1: 0}
    assert city.k_hop(1, 1) == {1: 0, 2: 1, 3: 1}
    assert city.k_hop(1, 2) == {1: 0, 2: 1, 3: 1, 5: 2}
    assert city.k_hop(1, 2, "road") == {1: 0, 2: 1, 3: 2}
    assert city.k_hop(5, 3, direction="in") == {1: 2, 2: 2, 3: 1, 4: 3, 5: 0}
    assert city.k_hop(4, 5, direction="both") == {1: 1, 2: 2, 3: 2, 4: 0, 5: 3}
    assert list(city.k_hop(5, 3, direction="in")) == [1, 2, 3, 4, 5]


def test_shortest_path(city):
    assert city.shortest_path(1, 5) == [1, 3, 5]
    assert city.shortest_path(1, 5, "road") == [1, 2, 3, 5]
    assert city.shortest_path(5, 1) is None
    assert city.shortest_path(5, 1, direction="in") == [5, 3, 1]
    assert city.shortest_path(5, 4, direction="both") == [5, 3, 1, 4]
    assert city.shortest_path(1, 5, max_depth=1) is None
    assert city.shortest_path(1, 5, max_depth=2) == [1, 3, 5]
    assert city.shortest_path(1, 1) == [1]
    assert city.shortest_path(1, 1, max_depth=0) == [1]


def test_shortest_path_is_the_lexicographically_smallest(make_store):
    # two 3-hop paths 1-2-5-6 and 1-3-4-6; walking back from 6 by smallest
    # predecessor would give 1-3-4-6, the contract asks for 1-2-5-6
    g = make_store()
    g.upsert_nodes("n", ["1", "2", "3", "4", "5", "6"])
    g.upsert_edges([1, 1, 2, 3, 4, 5], [2, 3, 5, 4, 6, 6], "e")
    assert g.shortest_path(1, 6) == [1, 2, 5, 6]
    # a smaller first step that dead-ends is skipped
    g.upsert_node("n", "7")
    g.upsert_edge(1, 7, "e")
    g.upsert_edge(7, 2, "e")
    assert g.shortest_path(1, 6) == [1, 2, 5, 6]


def test_find_nodes_filters(city):
    assert ids(city.find_nodes("place")) == [1, 2, 3, 5]
    assert ids(city.find_nodes()) == [1, 2, 3, 4, 5]
    assert ids(city.find_nodes("ghost")) == []
    assert ids(city.find_nodes("place", {"x__gt": 1})) == [2, 3]
    assert ids(city.find_nodes("place", {"x__ge": 1})) == [1, 2, 3]
    assert ids(city.find_nodes("place", {"x__lt": 3})) == [1, 2]
    assert ids(city.find_nodes("place", {"x__le": 2.5})) == [1, 2]
    assert ids(city.find_nodes("place", {"x": 3.0})) == [3]  # numbers compare numerically
    assert ids(city.find_nodes("place", {"x__eq": 1})) == [1]
    assert ids(city.find_nodes("place", {"name__lt": "beta"})) == [1]
    assert ids(city.find_nodes(None, {"name__ge": "beta"})) == [2, 3, 4]
    assert ids(city.find_nodes(None, {"name__in": ["alpha", "pat"]})) == [1, 4]
    assert ids(city.find_nodes("place", {"x__in": (1, 3)})) == [1, 3]
    assert ids(city.find_nodes("place", {"x__gt": 1, "name__ne": "gamma"})) == [2]


def test_find_nodes_comparisons_are_type_strict(city):
    assert ids(city.find_nodes("place", {"open": True})) == [1]
    assert ids(city.find_nodes("place", {"open": 1})) == []  # a bool is not a number
    assert ids(city.find_nodes("place", {"x": True})) == []
    # ne needs the field, in the operand's class: b and d lack "open"
    assert ids(city.find_nodes("place", {"open__ne": True})) == [3]
    assert ids(city.find_nodes(None, {"name__gt": 1})) == []  # strings vs a number
    assert ids(city.find_nodes(None, {"age": 30, "name": "pat"})) == [4]


def test_find_nodes_paging(city):
    assert ids(city.find_nodes("place", limit=2)) == [1, 2]
    assert ids(city.find_nodes("place", limit=2, offset=1)) == [2, 3]
    assert ids(city.find_nodes("place", {"x__gt": 0}, limit=1, offset=2)) == [3]
    assert ids(city.find_nodes("place", offset=10)) == []
    assert ids(city.find_nodes("place", limit=0)) == []


def test_counts_and_stats(city):
    assert city.count_nodes() == 5
    assert city.count_nodes("place") == 4
    assert city.count_nodes("ghost") == 0
    assert city.count_edges() == 5
    assert city.count_edges("road") == 3
    assert city.count_edges("ghost") == 0
    city.set_tick(4)
    stats = city.stats()
    assert stats.tick == 4
    assert (stats.nodes, stats.edges, stats.pinned_nodes, stats.pinned_edges) == (5, 5, 0, 0)
    assert (stats.evicted_nodes, stats.evicted_edges) == (0, 0)
    assert dict(stats.nodes_by_type) == {"person": 1, "place": 4}
    assert list(stats.edges_by_type.items()) == [("lives", 1), ("rail", 1), ("road", 3)]


# --- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda g: g.get_node(99),
        lambda g: g.get_nodes([1, 99]),
        lambda g: g.remove_node(99),
        lambda g: g.neighbours(99),
        lambda g: g.edges(99),
        lambda g: g.k_hop(99, 1),
        lambda g: g.shortest_path(1, 99),
        lambda g: g.shortest_path(99, 1),
        lambda g: g.upsert_edge(1, 99, "road"),
    ],
)
def test_unknown_ids_raise_naming_the_id(city, call):
    with pytest.raises(UnknownIdError, match="99") as info:
        call(city)
    assert isinstance(info.value, KeyError)
    assert "node id 99" in str(info.value)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda g: g.find_nodes("place", {"x__gtt": 1}), "unknown operator 'gtt'"),
        (lambda g: g.find_nodes("place", {"__gt": 1}), "missing field name"),
        (lambda g: g.find_nodes("place", {"x__gt": True}), "number or string"),
        (lambda g: g.find_nodes("place", {"x__gt": None}), "operand"),
        (lambda g: g.find_nodes("place", {"x__gt": math.nan}), "operand"),
        (lambda g: g.find_nodes("place", {"x__in": 3}), "'in' takes"),
        (lambda g: g.find_nodes("place", {"x__in": "ab"}), "'in' takes"),
        (lambda g: g.find_nodes("place", {"x__in": []}), "at least one"),
        (lambda g: g.find_nodes("place", {"x": [1]}), "operand"),
        (lambda g: g.find_nodes("place", [("x", "gt", 1)]), "where must be a mapping"),
        (lambda g: g.find_nodes("place", limit=MAX_LIMIT + 1), "limit"),
        (lambda g: g.find_nodes("place", limit=-1), "limit"),
        (lambda g: g.find_nodes("place", offset=-1), "offset"),
        (lambda g: g.find_nodes(""), "node type"),
        (lambda g: g.k_hop(1, MAX_HOPS + 1), "k must be"),
        (lambda g: g.k_hop(1, -1), "k must be"),
        (lambda g: g.k_hop(1, 1.5), "k must be"),
        (lambda g: g.shortest_path(1, 2, max_depth=MAX_HOPS + 1), "max_depth"),
        (lambda g: g.neighbours(1, direction="up"), "direction"),
        (lambda g: g.neighbours(1, edge_type=""), "edge type"),
        (lambda g: g.get_node("1"), "node id must be an integer"),
        (lambda g: g.get_node(True), "node id must be an integer"),
        (lambda g: g.upsert_node("place", "q", {"x": None}), "property 'x'"),
        (lambda g: g.upsert_node("place", "q", {"x": [1, 2]}), "property 'x'"),
        (lambda g: g.upsert_node("place", "q", {"x": math.inf}), "finite"),
        (lambda g: g.upsert_node("place", "q", {"": 1}), "non-empty"),
        (lambda g: g.upsert_node("place", 1.5), "keys must be strings or integers"),
        (lambda g: g.upsert_node("", "q"), "node type"),
        (lambda g: g.upsert_nodes("place", ["q", "r"], {"x": [1]}), "length 2"),
        (lambda g: g.upsert_nodes("place", ["q"], {"x": np.array([np.nan])}), "finite"),
        (lambda g: g.upsert_nodes("place", ["q"], {"x": np.zeros((1, 2))}), "shape"),
        (lambda g: g.upsert_nodes("place", "qr"), "keys must be a sequence"),
        (lambda g: g.upsert_edges([1], [2, 3], "road"), "same length"),
        (lambda g: g.upsert_edge(1, 2, "road", weight=math.nan), "weight"),
        (lambda g: g.upsert_edges([1.0], [2], "road"), "integers"),
        (lambda g: g.set_tick(-1), "tick"),
    ],
)
def test_bad_arguments_raise_configuration_error(city, call, message):
    version = city.count_nodes(), city.count_edges()
    with pytest.raises(ConfigurationError, match=message) as info:
        call(city)
    assert isinstance(info.value, ValueError)
    assert (city.count_nodes(), city.count_edges()) == version


def test_tick_cannot_go_back(make_store):
    g = make_store()
    g.set_tick(5)
    with pytest.raises(ConfigurationError, match="from 5 to 4"):
        g.set_tick(4)
    g.set_tick(5)
    assert g.tick == 5


@pytest.mark.parametrize(
    "kwargs",
    [{"max_nodes": 0}, {"max_edges": -1}, {"max_nodes": 2.5}, {"pinned_types": "agent"}],
)
def test_bad_capacities(make_store, kwargs):
    with pytest.raises(ConfigurationError):
        make_store(**kwargs)
