"""ServiceProxy, SimulationHost and SimulationService offer the same methods, and the proxy
forwards each call as it was made."""

from __future__ import annotations

import inspect

import pytest

from freeagentics.hosts import HOST_METHODS, ServiceProxy, SimulationHost
from freeagentics.server.services import SimulationService


def _public(cls) -> set[str]:
    return {n for n, v in vars(cls).items() if not n.startswith("_") and inspect.isfunction(v)}


def test_the_seam_is_the_services_public_methods():
    assert len(HOST_METHODS) == len(set(HOST_METHODS))
    assert _public(SimulationHost) == set(HOST_METHODS)
    assert _public(ServiceProxy) == set(HOST_METHODS)
    # the service has them all, plus what only works in its own process, and what a host
    # of one simulation (a Ray actor) calls on its own service
    in_process_only = {"snapshot", "subscribe_ticks", "unsubscribe_ticks"}
    host_of_one = {"create_into", "recover_one", "mark_failover"}
    assert _public(SimulationService) == set(HOST_METHODS) | in_process_only | host_of_one


@pytest.mark.parametrize("name", HOST_METHODS)
def test_signatures_agree(name):
    def params(cls):
        signature = inspect.signature(getattr(cls, name))
        return [(p.name, p.kind, p.default) for p in signature.parameters.values()]

    assert params(ServiceProxy) == params(SimulationHost) == params(SimulationService)


class Recording:
    def __init__(self, answer=None):
        self.calls, self.answer = [], answer

    def call(self, method, args, kwargs):
        self.calls.append((method, tuple(args), dict(kwargs)))
        return self.answer


def test_calls_are_forwarded_as_made():
    transport = Recording()
    proxy = ServiceProxy(transport, limits="the limits")
    proxy.create({"agents": {}}, name="x", kinds=({"name": "k"},))
    proxy.agents(3, kind="explorer", limit=5)
    proxy.remove_agents(3, (1, 2))
    transport.answer = [{}, {}]
    proxy.knowledge(3, "k_hop", node_id=4, k=2)
    assert transport.calls == [
        ("create", ({"agents": {}},), {"name": "x", "kinds": [{"name": "k"}]}),
        ("agents", (3,), {"kind": "explorer", "coalition": None, "offset": 0, "limit": 5}),
        ("remove_agents", (3, [1, 2]), {}),
        ("knowledge", (3, "k_hop"), {"node_id": 4, "k": 2}),
    ]
    assert proxy.limits == "the limits"
    assert isinstance(proxy, SimulationHost)


def test_pairs_come_back_as_tuples():
    assert ServiceProxy(Recording([1, 2, 3])).knowledge_stats(1) == (1, 2, 3)
    node, ticks = ServiceProxy(Recording([{"id": 1}, {"tick": 2}])).knowledge_agent(1, 0)
    assert node == {"id": 1} and ticks == {"tick": 2}
