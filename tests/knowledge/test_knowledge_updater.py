"""KnowledgeUpdater: what one tick writes, the aggregation policy, and the size bound."""

from __future__ import annotations

import time

import numpy as np
import pytest

from freeagentics.errors import ConfigurationError
from freeagentics.knowledge import InMemoryKnowledgeGraph, KnowledgeUpdater, Sightings


def make(store=None, **kwargs):
    store = store or InMemoryKnowledgeGraph()
    options = dict(
        kind_names=["explorer", "trader"],
        resource_names=["food", "water"],
        observation_names=["hazard", "goal"],
    )
    options.update(kwargs)
    return store, KnowledgeUpdater(store, **options)


def agent(store, agent_id):
    return store.get_node(store.node_id("agent", agent_id))


def member_edges(store):
    """{agent key: coalition key} read back from the member_of edges."""
    out = {}
    for a in store.find_nodes("agent", limit=1000):
        for e in store.edges(a.id, "member_of"):
            assert a.key not in out
            out[a.key] = store.get_node(e.dst).key
    return out


IDS = np.array([10, 20, 30])


def tick_args(**overrides):
    args = dict(
        agent_ids=IDS,
        agent_kinds=np.array([0, 1, 0]),
        positions=np.array([[0, 0], [1, 1], [2, 2]], dtype=np.int32),
        belief_entropy=np.array([1.0, 0.5, 0.25], dtype=np.float32),
        energy=np.array([5.0, 6.0, 7.0]),
        coalition=np.array([7, 7, -1]),
    )
    args.update(overrides)
    return args


def test_first_tick_writes_one_node_per_agent_and_coalition():
    store, u = make()
    report = u.ingest(0, **tick_args())
    assert (report.agents_written, report.coalitions_written, report.edges_written) == (3, 1, 2)
    assert agent(store, 10).properties == {
        "kind": "explorer",
        "row": 0,
        "col": 0,
        "entropy": 1.0,
        "coalition": 7,
        "energy": 5.0,
    }
    assert agent(store, 20).properties["kind"] == "trader"
    assert store.get_node(store.node_id("coalition", 7)).properties == {"size": 2}
    assert member_edges(store) == {"10": "7", "20": "7"}
    assert store.stats().nodes_by_type == {"agent": 3, "coalition": 1}
    assert u.coalition_sizes() == {7: 2}


def test_membership_edges_are_replaced_and_empty_coalitions_removed():
    store, u = make()
    u.ingest(0, **tick_args())
    report = u.ingest(1, **tick_args(coalition=np.array([7, 8, 7])))
    assert member_edges(store) == {"10": "7", "20": "8", "30": "7"}
    assert (report.edges_removed, report.edges_written) == (1, 2)
    assert store.get_node(store.node_id("coalition", 7)).properties["size"] == 2
    assert store.get_node(store.node_id("coalition", 8)).properties["size"] == 1
    assert agent(store, 20).properties["coalition"] == 8
    u.ingest(2, **tick_args(coalition=np.array([-1, 8, -1])))
    assert member_edges(store) == {"20": "8"}
    assert store.node_id("coalition", 7) is None
    assert store.count_edges("member_of") == 1
    assert u.coalition_sizes() == {8: 1}


def test_departed_agents_are_removed_with_their_edges():
    store, u = make()
    u.ingest(0, **tick_args())
    report = u.ingest(
        1,
        agent_ids=np.array([30, 10]),  # reordered, 20 gone
        agent_kinds=np.array([0, 0]),
        positions=np.array([[2, 2], [0, 0]]),
        belief_entropy=np.array([0.25, 1.0]),
        energy=np.array([7.0, 5.0]),
        coalition=np.array([-1, 7]),
    )
    assert report.agents_removed == 1
    assert store.node_id("agent", 20) is None
    assert member_edges(store) == {"10": "7"}
    assert store.get_node(store.node_id("coalition", 7)).properties["size"] == 1
    # a returning agent is a new one
    u.ingest(2, **tick_args())
    assert store.count_nodes("agent") == 3
    assert member_edges(store) == {"10": "7", "20": "7"}


def test_sightings_aggregate_per_cell_with_first_discoverer_only():
    store, u = make()
    disc = Sightings(
        rows=np.array([2, 0, 1]), cells=np.array([55, 55, 60]), codes=np.array([0, 0, 1])
    )
    report = u.ingest(0, **tick_args(discoveries=disc))
    assert report.locations_written == 2
    loc = store.get_node(store.node_id("location", 55))
    assert loc.properties == {
        "cell": 55,
        "resource": "food",
        "first_seen": 0,
        "last_seen": 0,
        "sightings": 2,
    }
    # the first discoverer is the lowest agent id, 10 (row 0), not row 2
    assert [store.get_node(e.src).key for e in store.edges(loc.id, direction="in")] == ["10"]
    water = store.get_node(store.node_id("location", 60))
    assert water.properties["resource"] == "water"
    u.ingest(1, **tick_args())
    u.ingest(3, **tick_args(discoveries=Sightings(np.array([1]), np.array([55]), np.array([0]))))
    loc = store.get_node(loc.id)
    assert (loc.properties["first_seen"], loc.properties["last_seen"]) == (0, 3)
    assert loc.properties["sightings"] == 3
    assert store.count_edges("discovered") == 2  # no edge for a re-sighting
    assert store.count_nodes("location") == 2


def test_observations_aggregate_per_cell_and_kind():
    store, u = make()
    obs = Sightings(np.array([0, 1, 2]), np.array([5, 5, 5]), np.array([0, 1, 0]))
    report = u.ingest(0, **tick_args(observations=obs))
    assert report.observations_written == 2
    hazard = store.get_node(store.node_id("observation", "5:hazard"))
    assert hazard.properties == {
        "cell": 5,
        "what": "hazard",
        "first_seen": 0,
        "last_seen": 0,
        "count": 2,
    }
    assert store.get_node(store.node_id("observation", "5:goal")).properties["count"] == 1
    assert store.neighbours(hazard.id, "observed", direction="in") == [store.node_id("agent", 10)]


def test_agents_are_rewritten_only_past_a_threshold_or_on_their_refresh_tick():
    store, u = make(refresh_every=4, entropy_threshold=0.1, energy_threshold=1.0, move_threshold=2)
    u.ingest(0, **tick_args())
    # tick 1: nobody is due ((1 + id) % 4 != 0) and every change is small
    small = tick_args(
        positions=np.array([[0, 1], [1, 1], [2, 2]]),
        belief_entropy=np.array([1.05, 0.5, 0.25]),
        energy=np.array([5.5, 6.0, 7.0]),
    )
    assert u.ingest(1, **small).agents_written == 0
    assert agent(store, 10).properties["col"] == 0
    assert agent(store, 10).updated_tick == 0
    # tick 1 again, agent 20 changes by more than each threshold in turn
    for change in (
        {"belief_entropy": np.array([1.05, 0.65, 0.25])},
        {"energy": np.array([5.5, 7.5, 7.0])},
        {"positions": np.array([[0, 1], [2, 2], [2, 2]])},
        {"agent_kinds": np.array([0, 0, 0])},
    ):
        report = u.ingest(1, **{**small, **change})
        assert report.agents_written == 1, change
        assert agent(store, 20).updated_tick == 1
    # tick 2: 10 and 30 are due ((2 + id) % 4 == 0) and get their latest summary;
    # 20 is as last written (kind 0 from the last change above)
    assert u.ingest(2, **{**small, "agent_kinds": np.array([0, 0, 0])}).agents_written == 2
    assert agent(store, 20).updated_tick == 1
    assert agent(store, 10).properties["col"] == 1
    assert agent(store, 10).properties["entropy"] == 1.05
    assert agent(store, 30).updated_tick == 2


def test_row_order_does_not_change_the_graph():
    rng = np.random.default_rng(3)
    graphs = []
    for shuffle in (False, True):
        store, u = make(refresh_every=3)
        for tick, args in enumerate(random_ticks(np.random.default_rng(7), 40, 30)):
            if shuffle:
                perm = rng.permutation(len(args["agent_ids"]))
                inverse = np.argsort(perm)
                args = {k: v[perm] if isinstance(v, np.ndarray) else v for k, v in args.items()}
                args["discoveries"] = Sightings(
                    inverse[args["discoveries"].rows],
                    args["discoveries"].cells,
                    args["discoveries"].codes,
                )
            u.ingest(tick, **args)
        graphs.append(snapshot(store))
    assert graphs[0] == graphs[1]


def snapshot(store):
    """The graph as {(type, key): properties} and a set of edges by (type, key)."""
    nodes = {}
    for type in store.stats().nodes_by_type:
        for n in store.find_nodes(type, limit=10_000):
            nodes[n.type, n.key] = dict(n.properties)
    label = {n.id: (n.type, n.key) for n in store.find_nodes(limit=10_000)}
    edges = {(label[e.src], e.type, label[e.dst]) for nid in label for e in store.edges(nid)}
    return nodes, edges


def random_ticks(rng, n_agents, ticks, side=20, n_cells=30, n_coalitions=5):
    ids = rng.choice(10_000, n_agents, replace=False)
    pos = rng.integers(0, side, (n_agents, 2))
    entropy = rng.uniform(0, 2, n_agents)
    coal = rng.integers(-1, n_coalitions, n_agents)
    cells = rng.choice(side * side, n_cells, replace=False)
    for _ in range(ticks):
        pos = np.clip(pos + rng.integers(-1, 2, pos.shape), 0, side - 1)
        entropy = np.abs(entropy + rng.normal(0, 0.05, n_agents))
        coal = np.where(rng.random(n_agents) < 0.05, rng.integers(-1, n_coalitions, n_agents), coal)
        k = rng.integers(0, 2 * n_agents)
        yield dict(
            agent_ids=ids,
            agent_kinds=ids % 2,
            positions=pos,
            belief_entropy=entropy,
            coalition=coal,
            discoveries=Sightings(
                rng.integers(0, n_agents, k), rng.choice(cells, k), rng.integers(0, 2, k)
            ),
        )


def test_graph_size_tracks_agents_and_locations_not_ticks():
    store, u = make(move_threshold=3)
    n_agents, n_cells = 60, 30
    last = None
    for tick, args in enumerate(
        random_ticks(np.random.default_rng(0), n_agents, 1000, n_cells=n_cells)
    ):
        u.ingest(tick, **args)
        last = args
    stats = store.stats()
    n_coalitions = stats.nodes_by_type.get("coalition", 0)
    assert stats.nodes_by_type["agent"] == n_agents
    assert n_coalitions <= 5
    assert stats.nodes_by_type["location"] <= n_cells
    assert stats.nodes == n_agents + n_coalitions + stats.nodes_by_type["location"]
    assert stats.edges_by_type["member_of"] == int((last["coalition"] >= 0).sum())
    assert stats.edges_by_type["discovered"] == stats.nodes_by_type["location"]
    assert stats.edges == stats.edges_by_type["member_of"] + stats.edges_by_type["discovered"]
    # every stored summary is within the thresholds of the truth, and exact where it must be
    for i, agent_id in enumerate(last["agent_ids"].tolist()):
        props = agent(store, agent_id).properties
        assert props["coalition"] == last["coalition"][i]
        assert props["kind"] == ["explorer", "trader"][last["agent_kinds"][i]]
        assert abs(props["entropy"] - last["belief_entropy"][i]) <= 0.1
        moved = abs(props["row"] - last["positions"][i, 0]) + abs(
            props["col"] - last["positions"][i, 1]
        )
        assert moved < 3
    sizes = {
        int(c): int(n)
        for c, n in zip(*np.unique(last["coalition"], return_counts=True), strict=True)
        if c >= 0
    }
    assert u.coalition_sizes() == sizes
    for cid, size in sizes.items():
        assert store.get_node(store.node_id("coalition", cid)).properties["size"] == size
    # total sightings add up across 1000 ticks in one node per cell
    total = sum(n.properties["sightings"] for n in store.find_nodes("location", limit=100))
    assert total > 1000


def test_location_capacity_bounds_the_graph_under_the_updater():
    store = InMemoryKnowledgeGraph(max_nodes=80)
    store, u = make(store)
    for tick, args in enumerate(random_ticks(np.random.default_rng(1), 20, 300, n_cells=400)):
        u.ingest(tick, **args)
        assert store.count_nodes() <= 80
    assert store.count_nodes("agent") == 20
    assert store.stats().evicted_nodes > 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"agent_ids": np.array([10, 10, 30])}, "unique"),
        ({"agent_ids": np.array([[10, 20, 30]])}, "1-D"),
        ({"agent_ids": np.array([1.0, 2.0, 3.0])}, "agent_ids"),
        ({"agent_kinds": np.array([0, 2, 0])}, r"\[0, 2\)"),
        ({"agent_kinds": np.array([0, 1])}, "shape"),
        ({"positions": np.zeros((3, 3), dtype=int)}, r"\(3, 2\)"),
        ({"positions": np.zeros((3, 2))}, "positions"),
        ({"belief_entropy": np.array([0.0, np.nan, 1.0])}, "finite"),
        ({"energy": np.array([0.0, np.inf, 1.0])}, "finite"),
        ({"coalition": np.array([0, -2, 1])}, "-1 for none"),
        ({"discoveries": Sightings(np.array([3]), np.array([1]), np.array([0]))}, "rows"),
        ({"discoveries": Sightings(np.array([0]), np.array([-1]), np.array([0]))}, "cells"),
        ({"discoveries": Sightings(np.array([0]), np.array([1]), np.array([2]))}, "codes"),
        ({"discoveries": Sightings(np.array([0]), np.array([1, 2]), np.array([0]))}, "shape"),
        ({"discoveries": (np.array([0]), np.array([1]), np.array([0]))}, "Sightings"),
    ],
)
def test_bad_input_raises_before_writing(change, message):
    store, u = make()
    with pytest.raises(ConfigurationError, match=message):
        u.ingest(0, **tick_args(**change))
    assert store.count_nodes() == 0
    u.ingest(0, **tick_args())
    assert store.count_nodes() == 4


def test_bad_configuration_and_ticks():
    store, u = make()
    u.ingest(5, **tick_args())
    assert store.tick == 5
    with pytest.raises(ConfigurationError, match="from 5 to 4"):
        u.ingest(4, **tick_args())
    for kwargs in (
        {"kind_names": []},
        {"kind_names": "ab"},
        {"refresh_every": 0},
        {"move_threshold": 0},
        {"entropy_threshold": -1.0},
        {"resource_names": ["", "x"]},
    ):
        with pytest.raises(ConfigurationError):
            make(**kwargs)


@pytest.mark.slow
def test_ten_thousand_agents_per_tick_is_fast():
    rng = np.random.default_rng(0)
    n, side = 10_000, 300
    store, u = make(InMemoryKnowledgeGraph(max_nodes=50_000))
    ids = np.arange(n, dtype=np.int64)
    pos = rng.integers(0, side, (n, 2))
    entropy = rng.uniform(0, 2, n)
    coal = rng.integers(-1, 500, n)
    times = []
    for tick in range(40):
        pos = np.clip(pos + rng.integers(-1, 2, pos.shape), 0, side - 1)
        entropy = entropy + rng.normal(0, 0.01, n)
        k = 100
        disc = Sightings(rng.integers(0, n, k), rng.integers(0, 2_000, k), rng.integers(0, 2, k))
        started = time.perf_counter()
        u.ingest(
            tick,
            agent_ids=ids,
            agent_kinds=ids % 2,
            positions=pos,
            belief_entropy=entropy,
            coalition=coal,
            discoveries=disc,
        )
        times.append(time.perf_counter() - started)
    assert store.count_nodes("agent") == n
    # generous for shared CI machines; typically a few milliseconds
    assert np.median(times[5:]) < 0.05


def test_last_tick_is_the_last_completed_ingest():
    _, u = make()
    assert u.last_tick is None
    u.ingest(0, **tick_args())
    assert u.last_tick == 0
    u.ingest(4, **tick_args())
    assert u.last_tick == 4
    with pytest.raises(ConfigurationError):
        u.ingest(6, **tick_args(energy=np.array([1.0, np.nan, 2.0])))
    assert u.last_tick == 4  # a refused tick is not folded in
