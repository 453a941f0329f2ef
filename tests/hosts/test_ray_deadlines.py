"""The Ray transport's deadlines without a cluster: Ray's own ``get`` is made to time out
(its real exception), and :class:`RayHosts` must turn that into the seam's
:class:`HostTimeoutError` naming the call, cancel the task, and undo a creation."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from freeagentics.hosts import HostTimeoutError, HostUnavailableError, ServiceProxy
from freeagentics.hosts.ray_hosts import RayHosts

ray = pytest.importorskip("ray")
rx = pytest.importorskip("ray.exceptions")


class _Ref:
    """What ``handle.call.remote(...)`` returns: the call it stands for."""

    def __init__(self, method: str, args: list):
        self.method, self.args = method, args


class _Remote:
    def remote(self, method, args, kwargs):
        return _Ref(method, args)


class _Handle:
    call = _Remote()


class _ActorClass:
    """``ray.remote(SimulationActor)`` as :meth:`RayHosts._spawn` uses it."""

    @classmethod
    def options(cls, **options):
        return cls

    @classmethod
    def remote(cls, sim_id, config, restore):
        return _Handle()


@pytest.fixture
def ray_never_answers(monkeypatch):
    """Every ``ray.get`` times out (recording its deadline); cancels and kills are recorded."""
    seen = {"timeouts": [], "cancelled": [], "killed": []}

    def get(ref, timeout=None):
        seen["timeouts"].append((ref.method, timeout))
        raise rx.GetTimeoutError(f"Get timed out: some object(s) not ready after {timeout}")

    monkeypatch.setattr(ray, "get", get)
    monkeypatch.setattr(ray, "cancel", lambda ref, **kw: seen["cancelled"].append(ref.method))
    monkeypatch.setattr(ray, "kill", lambda handle, **kw: seen["killed"].append(handle))
    monkeypatch.setattr(ray.util, "list_named_actors", lambda **kw: [])
    return seen


@pytest.fixture
def hosts(tmp_path):
    from freeagentics.storage import create_engine_for, upgrade

    hosts = RayHosts(
        "tests:Unused",
        {},
        address="unused",
        namespace="test",
        database_url=f"sqlite:///{tmp_path / 'ray.db'}",
        call_timeout_s=2.5,
    )
    hosts.engine = create_engine_for(hosts.database_url)
    upgrade(hosts.engine)
    hosts._actor_class = _ActorClass
    hosts.state = "up"
    hosts._handles[7] = _Handle()  # simulation 7's actor, as if found by name
    yield hosts
    hosts.engine.dispose()


def test_a_call_past_its_deadline_is_a_host_timeout_naming_it_and_is_cancelled(
    hosts, ray_never_answers
):
    with pytest.raises(HostTimeoutError) as info:
        hosts.call("world", (7,), {})
    exc = info.value
    assert isinstance(exc, HostUnavailableError)
    assert (exc.method, exc.timeout_s) == ("world", 2.5)
    assert "simulation 7" in str(exc) and "world within 2.5 s" in str(exc)
    assert "may still complete" in str(exc)
    assert ray_never_answers["timeouts"] == [("world", 2.5)]
    assert ray_never_answers["cancelled"] == ["world"]
    # a deadline given to the call is the one Ray is asked to keep
    with pytest.raises(HostTimeoutError, match=r"world within 0\.5 s"):
        hosts.call("world", (7,), {}, timeout_s=0.5)
    assert ray_never_answers["timeouts"][-1] == ("world", 0.5)


def test_a_step_through_the_proxy_has_the_same_deadline_as_any_call(hosts, ray_never_answers):
    proxy = ServiceProxy(hosts)
    with pytest.raises(HostTimeoutError) as info:
        proxy.step(7, 1000)
    assert (info.value.method, info.value.timeout_s) == ("step", 2.5)
    with pytest.raises(HostTimeoutError):
        proxy.delete(7)
    assert ray_never_answers["timeouts"] == [("step", 2.5), ("delete", 2.5)]


def test_a_creation_past_its_deadline_is_undone(hosts, ray_never_answers):
    from freeagentics.storage.tables import simulations

    proxy = ServiceProxy(hosts)
    with pytest.raises(HostTimeoutError) as info:
        proxy.create({"agents": {"explorer": 2}}, name="late")
    assert info.value.method == "create" and "was removed" in str(info.value)
    assert ray_never_answers["timeouts"] == [("create_into", 2.5)]
    assert len(ray_never_answers["killed"]) == 1  # its actor ended for good
    with hosts.engine.connect() as conn:  # and its row gone
        assert conn.execute(sa.select(sa.func.count()).select_from(simulations)).scalar() == 0


def test_a_fan_out_leaves_out_an_actor_past_the_deadline(hosts, ray_never_answers, monkeypatch):
    monkeypatch.setattr(
        ray.util,
        "list_named_actors",
        lambda **kw: [{"name": "freeagentics-sim-7", "namespace": "test"}],
    )
    assert hosts.call("list", (), {}) == []
    assert [method for method, _ in ray_never_answers["timeouts"]] == ["get"]
