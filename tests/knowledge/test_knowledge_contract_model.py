"""Random write sequences against a naive model of the store contract.

The model keeps plain dicts and applies the documented rules literally (ids from a
counter, merge on upsert, evict by ``(updated_tick, id)`` / ``(updated_tick, src,
dst, type)`` among items older than the current tick, refuse writes that cannot
fit); every store must end each step in the same state and raise the same errors.
"""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from freeagentics.knowledge import CapacityError

PINNED, PINNED_EDGES = {"agent"}, {"member_of"}
MAX_NODES, MAX_EDGES = 6, 5


class Model:
    def __init__(self):
        self.tick = 0
        self.next_id = 1
        self.nodes = {}  # id -> [type, key, props, created, updated]
        self.edges = {}  # (src, dst, type) -> [props, weight, updated]

    def upsert_nodes(self, type, keys, values):
        trial = copy.deepcopy(self)
        for key, v in zip(keys, values, strict=True):
            nid = next((i for i, n in trial.nodes.items() if n[:2] == [type, key]), None)
            if nid is None:
                nid = trial.next_id
                trial.next_id += 1
                trial.nodes[nid] = [type, key, {}, trial.tick, trial.tick]
            trial.nodes[nid][2]["v"] = v
            trial.nodes[nid][4] = trial.tick
        stuck = [i for i, n in trial.nodes.items() if n[0] in PINNED or n[4] == trial.tick]
        if len(stuck) > MAX_NODES:
            raise CapacityError("model")
        stale = sorted(
            (n[4], i) for i, n in trial.nodes.items() if n[0] not in PINNED and n[4] < trial.tick
        )
        for _, nid in stale[: max(len(trial.nodes) - MAX_NODES, 0)]:
            trial.remove_node(nid)
        self.__dict__ = trial.__dict__

    def remove_node(self, nid):
        del self.nodes[nid]
        self.edges = {k: e for k, e in self.edges.items() if nid not in k[:2]}

    def upsert_edges(self, type, pairs, values):
        trial = copy.deepcopy(self)
        for (src, dst), v in zip(pairs, values, strict=True):
            edge = trial.edges.setdefault((src, dst, type), [{}, 1.0, trial.tick])
            edge[0]["v"] = v
            edge[2] = trial.tick
        stuck = [k for k, e in trial.edges.items() if k[2] in PINNED_EDGES or e[2] == trial.tick]
        if len(stuck) > MAX_EDGES:
            raise CapacityError("model")
        stale = sorted(
            (e[2], k)
            for k, e in trial.edges.items()
            if k[2] not in PINNED_EDGES and e[2] < trial.tick
        )
        for _, k in stale[: max(len(trial.edges) - MAX_EDGES, 0)]:
            del trial.edges[k]
        self.__dict__ = trial.__dict__


def state(store):
    nodes = {
        n.id: [n.type, n.key, dict(n.properties), n.created_tick, n.updated_tick]
        for n in store.find_nodes(limit=1000)
    }
    edges = {}
    for nid in nodes:
        for e in store.edges(nid):
            edges[e.src, e.dst, e.type] = [dict(e.properties), e.weight]
    return nodes, edges


def model_state(model):
    return model.nodes, {k: e[:2] for k, e in model.edges.items()}


ops = st.lists(
    st.one_of(
        st.tuples(st.just("tick"), st.integers(0, 2)),
        st.tuples(
            st.just("nodes"),
            st.sampled_from(["agent", "loc"]),
            st.lists(st.tuples(st.sampled_from("abcdefgh"), st.integers(0, 9)), max_size=4),
        ),
        st.tuples(
            st.just("edges"),
            st.sampled_from(["member_of", "saw"]),
            st.lists(
                st.tuples(st.integers(0, 30), st.integers(0, 30), st.integers(0, 9)), max_size=4
            ),
        ),
        st.tuples(st.just("remove"), st.integers(0, 30)),
    ),
    max_size=40,
)


@settings(max_examples=120, deadline=None)
@given(steps=ops)
def test_store_follows_the_contract_model(store_factories, steps):
    for factory in store_factories.values():
        store = factory(
            max_nodes=MAX_NODES,
            max_edges=MAX_EDGES,
            pinned_types=PINNED,
            pinned_edge_types=PINNED_EDGES,
        )
        model = Model()
        for step in steps:
            kind = step[0]
            expect_error = None
            if kind == "tick":
                model.tick += step[1]
                store.set_tick(model.tick)
            elif kind == "nodes":
                keys, values = [k for k, _ in step[2]], [v for _, v in step[2]]
                try:
                    model.upsert_nodes(step[1], keys, values)
                except CapacityError:
                    expect_error = CapacityError
                try:
                    ids = store.upsert_nodes(step[1], keys, {"v": values})
                except CapacityError:
                    assert expect_error is CapacityError
                else:
                    assert expect_error is None
                    assert ids.tolist() == [
                        next(i for i, n in model.nodes.items() if n[:2] == [step[1], k])
                        for k in keys
                    ]
            elif kind == "edges":
                live = sorted(model.nodes)
                if not live:
                    continue
                pairs = [(live[s % len(live)], live[d % len(live)]) for s, d, _ in step[2]]
                values = [v for *_, v in step[2]]
                try:
                    model.upsert_edges(step[1], pairs, values)
                except CapacityError:
                    expect_error = CapacityError
                try:
                    store.upsert_edges(
                        [p[0] for p in pairs], [p[1] for p in pairs], step[1], {"v": values}
                    )
                except CapacityError:
                    assert expect_error is CapacityError
                else:
                    assert expect_error is None
            else:
                live = sorted(model.nodes)
                if not live:
                    continue
                nid = live[step[1] % len(live)]
                model.remove_node(nid)
                store.remove_node(nid)
            assert state(store) == model_state(model)
            assert store.count_nodes() <= MAX_NODES
            assert store.count_edges() <= MAX_EDGES
