"""Traversals on random graphs against a reference written here from the edge list."""

from __future__ import annotations

from collections import deque

from hypothesis import given, settings
from hypothesis import strategies as st

EDGE_TYPES = ("a", "b")


@st.composite
def graphs(draw):
    """(n nodes, edge list of (src, dst, type)) with node ids 1..n."""
    n = draw(st.integers(1, 9))
    node = st.integers(1, n)
    edges = draw(st.lists(st.tuples(node, node, st.sampled_from(EDGE_TYPES)), max_size=25))
    return n, edges


def build(factory, n, edges):
    g = factory()
    assert g.upsert_nodes("n", [str(i) for i in range(n)]).tolist() == list(range(1, n + 1))
    for src, dst, type in edges:
        g.upsert_edge(src, dst, type)
    return g


def reference_step(edges, u, edge_type, direction):
    out = set()
    for src, dst, type in edges:
        if edge_type is not None and type != edge_type:
            continue
        if direction in ("out", "both") and src == u:
            out.add(dst)
        if direction in ("in", "both") and dst == u:
            out.add(src)
    return out


def reference_bfs(edges, start, edge_type, direction, k=None):
    dist = {start: 0}
    queue = deque([start])
    while queue:
        u = queue.popleft()
        if k is not None and dist[u] == k:
            continue
        for v in reference_step(edges, u, edge_type, direction):
            if v not in dist:
                dist[v] = dist[u] + 1
                queue.append(v)
    return dist


def reference_shortest_path(edges, src, dst, edge_type, direction, max_depth):
    dist = reference_bfs(edges, src, edge_type, direction)
    if dst not in dist or dist[dst] > max_depth:
        return None
    depth = dist[dst]
    # every walk of exactly `depth` steps through nodes at increasing BFS distance
    paths = []

    def walk(path):
        if len(path) == depth + 1:
            if path[-1] == dst:
                paths.append(path)
            return
        for v in reference_step(edges, path[-1], edge_type, direction):
            if dist.get(v) == len(path):
                walk([*path, v])

    walk([src])
    return min(paths)


traversal = st.tuples(st.sampled_from([None, *EDGE_TYPES]), st.sampled_from(["out", "in", "both"]))


@settings(max_examples=150, deadline=None)
@given(graph=graphs(), data=st.data(), how=traversal)
def test_k_hop_and_neighbours_match_reference_bfs(store_factories, graph, data, how):
    n, edges = graph
    edge_type, direction = how
    start = data.draw(st.integers(1, n))
    k = data.draw(st.integers(0, 10))
    for factory in store_factories.values():
        g = build(factory, n, edges)
        expected = reference_bfs(edges, start, edge_type, direction, k)
        got = g.k_hop(start, k, edge_type, direction)
        assert got == expected
        assert list(got) == sorted(got)
        assert g.neighbours(start, edge_type, direction) == sorted(
            reference_step(edges, start, edge_type, direction)
        )


@settings(max_examples=150, deadline=None)
@given(graph=graphs(), data=st.data(), how=traversal)
def test_shortest_path_matches_brute_force(store_factories, graph, data, how):
    n, edges = graph
    edge_type, direction = how
    src = data.draw(st.integers(1, n))
    dst = data.draw(st.integers(1, n))
    max_depth = data.draw(st.integers(0, 9))
    for factory in store_factories.values():
        g = build(factory, n, edges)
        got = g.shortest_path(src, dst, edge_type, direction=direction, max_depth=max_depth)
        assert got == reference_shortest_path(edges, src, dst, edge_type, direction, max_depth)
        if got is not None:
            # consistent with k_hop: the path is as long as the BFS distance
            assert len(got) - 1 == g.k_hop(src, len(got) - 1, edge_type, direction)[dst]


@settings(max_examples=60, deadline=None)
@given(graph=graphs(), data=st.data())
def test_removals_keep_traversals_consistent(store_factories, graph, data):
    n, edges = graph
    gone = data.draw(st.sets(st.integers(1, n), max_size=n - 1))
    left = [e for e in edges if e[0] not in gone and e[1] not in gone]
    start = data.draw(st.sampled_from(sorted(set(range(1, n + 1)) - gone)))
    for factory in store_factories.values():
        g = build(factory, n, edges)
        for nid in sorted(gone):
            g.remove_node(nid)
        assert g.count_edges() == len(set(left))
        assert g.k_hop(start, 9, direction="both") == reference_bfs(left, start, None, "both", 9)
