"""Nothing a reader does waits for a simulation: reads come from the snapshot of the last
tick, subscribing takes no simulation lock, and liveness needs no worker thread.

Each test holds the simulation's lock with a step that blocks until the test releases it
(as a long tick of a large simulation does) and checks that the request still completes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio.to_thread
import numpy as np
import pytest
from server.conftest import SMALL

from freeagentics.server.services._snapshot import recent_beliefs

API = "/api/v1"
#: generous: on a loaded machine a request takes well under a second; a blocked one never ends
PATIENCE_S = 30.0


def within(work: Callable[[], Any], seconds: float = PATIENCE_S) -> Any:
    """``work()`` run on another thread; fails the test if it has not returned in time."""
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["value"] = work()
        except BaseException as exc:  # re-raised on the test's thread
            result["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still waiting after {seconds} s (blocked on the simulation)"
    if "error" in result:
        raise result["error"]
    return result["value"]


@contextmanager
def blocked_step(service, sim_id: int) -> Iterator[threading.Event]:
    """A ``step`` that holds the simulation's lock until the yielded event is set."""
    managed = service._managed(sim_id)
    real_step = managed.sim.step
    entered, release = threading.Event(), threading.Event()

    def slow_step():
        entered.set()
        release.wait(2 * PATIENCE_S)
        return real_step()

    managed.sim.step = slow_step
    stepper = threading.Thread(target=service.step, args=(sim_id, 1), daemon=True)
    stepper.start()
    assert entered.wait(PATIENCE_S)
    try:
        yield release
    finally:
        release.set()
        stepper.join(PATIENCE_S)
        del managed.sim.step


def test_rest_reads_return_while_a_step_holds_the_lock(client, sim):
    service = client.app.state.service
    agent = service.agents(sim)["items"][0]["id"]
    urls = [
        f"{API}/simulations",
        f"{API}/simulations/{sim}",
        f"{API}/simulations/{sim}/agents",
        f"{API}/simulations/{sim}/agents/{agent}?history=4",
        f"{API}/simulations/{sim}/coalitions",
        f"{API}/simulations/{sim}/world",
        "/metrics",
    ]
    with blocked_step(service, sim):
        assert not service._managed(sim).lock.acquire(blocking=False)  # really held
        for url in urls:
            response = within(lambda url=url: client.get(url))
            assert response.status_code == 200, (url, response.text)
        assert within(lambda: client.get(f"{API}/simulations/{sim}")).json()["tick"] == 0
    assert client.get(f"{API}/simulations/{sim}").json()["tick"] == 1


def test_websocket_subscribe_acks_while_a_step_holds_the_lock(client, sim):
    service = client.app.state.service

    def subscribe() -> dict:
        with client.websocket_connect("/ws") as ws:
            ws.send_json({"type": "subscribe", "id": 1, "topic": "world", "sim_id": sim})
            ack = ws.receive_json()
            ws.send_json({"type": "ping", "id": 2})
            pong = ws.receive_json()
            return {"ack": ack, "pong": pong}

    with blocked_step(service, sim):
        replies = within(subscribe)
    assert replies["ack"]["ok"] is True and replies["ack"]["result"] == {"topic": f"world/{sim}"}
    assert replies["pong"]["type"] == "pong"


def test_liveness_needs_no_worker_thread(client, sim):
    """With every worker thread taken by a request waiting on the simulation, liveness
    is still answered (it runs on the event loop)."""
    service = client.app.state.service
    limiter = client.portal.call(anyio.to_thread.current_default_thread_limiter)
    tokens = limiter.total_tokens
    client.portal.call(setattr, limiter, "total_tokens", 1)
    waiting: list[threading.Thread] = []
    try:
        with blocked_step(service, sim):
            # knowledge queries still take the lock: this one holds the only worker thread
            stats = threading.Thread(
                target=client.get, args=(f"{API}/simulations/{sim}/knowledge/stats",), daemon=True
            )
            stats.start()
            waiting.append(stats)
            within(lambda: _wait_for(lambda: limiter.borrowed_tokens == 1))
            response = within(lambda: client.get(f"{API}/health/live"))
            assert response.status_code == 200 and response.json()["status"] == "ok"
    finally:
        client.portal.call(setattr, limiter, "total_tokens", tokens)
        for thread in waiting:
            thread.join(PATIENCE_S)


def _wait_for(condition: Callable[[], bool]) -> None:
    event = threading.Event()
    while not condition():
        event.wait(0.01)


def test_snapshot_matches_the_simulation(client):
    service = client.app.state.service
    sim_id = service.create({**SMALL, "simulation": {"history": 4, "knowledge_every": 1}})
    service.step(sim_id, 3)
    managed = service._managed(sim_id)
    sim = managed.sim
    page = service.agents(sim_id, limit=1000)
    slots = sim.population.slots()
    assert [a["id"] for a in page["items"]] == sim.population.ids.tolist()
    assert [a["position"] for a in page["items"]] == sim.world.positions[slots].tolist()
    agent = int(sim.population.ids[2])
    detail = service.agent_detail(sim_id, agent, history=8)
    ((group, rows, _),) = sim.population.locate(np.array([agent]))
    row = int(rows[0])
    # float32 values come back as the shortest decimals of the very same float32s
    qs = np.asarray(detail["beliefs"][0]["p"], dtype=np.float32)
    np.testing.assert_array_equal(qs, group.cohort.qs[0][row])
    np.testing.assert_array_equal(np.float32(detail["q_pi"]), group.cohort.q_pi[row])
    expected = sim.population.history_of(agent, sim.tick)
    np.testing.assert_allclose(np.array(detail["history"]), expected)
    assert detail["metrics"] == pytest.approx(
        {k: float(v[row]) for k, v in group.cohort.metrics().items()}
    )
    assert service.knowledge_stats(sim_id) == (
        sim.knowledge.version,
        sim.knowledge.count_nodes(),
        sim.knowledge.count_edges(),
    )


def test_history_read_leaves_out_entries_later_ticks_overwrote(client):
    service = client.app.state.service
    sim_id = service.create({**SMALL, "simulation": {"history": 4}})
    service.step(sim_id, 5)
    managed = service._managed(sim_id)
    snap = managed.snapshot  # tick 5: ring holds ticks 2..5
    agent = int(snap.ids[0])
    group = next(g for g in snap.groups.values() if g.row(agent) is not None)
    row = group.row(agent)
    assert recent_beliefs(group, row, 5, 4, lambda: 5).shape[0] == 4
    service.step(sim_id, 2)  # ticks 6 and 7 overwrote the slots of ticks 2 and 3
    kept = recent_beliefs(group, row, 5, 4, lambda: managed.live_tick)
    now = managed.sim.population.history_of(agent, 7)  # ticks 4..7
    np.testing.assert_array_equal(kept, now[:2])
    service.step(sim_id, 4)
    assert recent_beliefs(group, row, 5, 4, lambda: managed.live_tick).shape[0] == 0


def test_simulation_objects_are_kept_out_of_full_collections_and_freed_on_delete(client):
    """A built simulation is frozen out of the collector's full passes (which walked it
    for 80-240 ms at 10 000 agents while nothing else ran); deleting it collects the
    reference cycles it leaves."""
    import gc
    import weakref

    class Node:
        pass

    service = client.app.state.service
    sim_id = service.create(SMALL)
    assert gc.get_freeze_count() > 0
    cycle = Node()
    cycle.self = cycle  # freed only by the cyclic collector
    service._managed(sim_id).sim.extra = cycle
    gone = weakref.ref(cycle)
    del cycle
    gc.freeze()  # as the next settle would: the cycle is now in the permanent generation
    gc.collect()
    assert gone() is not None  # frozen: full collections do not walk it
    service.delete(sim_id)
    assert gone() is None
