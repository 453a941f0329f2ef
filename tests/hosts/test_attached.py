"""An attached host follows the host it is pointed at: it connects, says why it cannot,
connects again after the connection broke, and moves to a restarted host."""

from __future__ import annotations

import threading
import time

import pytest

from freeagentics.hosts import AttachedHost, HostServer, HostUnavailableError


class Named:
    """A toy host answering ``name`` with its own name; records topic interest."""

    def __init__(self, name: str):
        self.name = name
        self.interest_events: list[tuple[str, bool]] = []

    def call(self, method, args, kwargs):
        if method == "name":
            return self.name
        raise ValueError(method)

    def interest(self, key, wanted):
        self.interest_events.append((key, wanted))


def _serve(name: str, token: bytes) -> HostServer:
    server = HostServer(Named(name), token)
    server.start()
    return server


def _until(check, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)
    return value


@pytest.fixture
def attached():
    host = AttachedHost(connect_timeout_s=2.0)
    yield host
    host.stop()


def test_calls_reach_the_host_pointed_at_and_frames_come_back(attached):
    server = _serve("first", b"a" * 32)
    try:
        attached.point(server.port, b"a" * 32, restarts=0, pid=123)
        attached.start(timeout_s=10)
        assert attached.state == "up" and attached.host_pid == 123
        assert attached.call("name", [], {}) == "first"
        frames: list[tuple[str, bytes]] = []
        attached.on_frame = lambda key, payload: frames.append((key, payload))
        assert attached.notify("want", "world/1")
        _until(lambda: server.interests() == ["world/1"])
        server.publish("world/1", b"payload")
        _until(lambda: frames == [("world/1", b"payload")])
    finally:
        server.close()


def test_a_restarted_host_on_a_new_port_is_followed_and_the_old_one_dropped(attached):
    old, new = _serve("old", b"o" * 32), _serve("new", b"n" * 32)
    connected = threading.Event()
    attached.on_connected = connected.set
    try:
        attached.point(old.port, b"o" * 32)
        attached.start(timeout_s=10)
        assert connected.wait(5) and attached.call("name", [], {}) == "old"
        connected.clear()
        old.close()  # the host died: calls fail at once, saying why, until it is back
        _until(lambda: attached.state == "restarting")
        with pytest.raises(HostUnavailableError, match="restarting"):
            attached.call("name", [], {})
        attached.point(new.port, b"n" * 32, restarts=1)
        assert connected.wait(10)
        assert attached.call("name", [], {}) == "new" and attached.restarts == 1
        assert new.connections == 1
    finally:
        old.close()
        new.close()


def test_a_broken_connection_to_a_host_still_listening_is_made_again(attached):
    server = _serve("same", b"s" * 32)
    try:
        attached.point(server.port, b"s" * 32)
        attached.start(timeout_s=10)
        for conn in list(server._connections):  # the host drops the connection, not its port
            conn.close()
        _until(lambda: attached.state == "up" and server.connections == 1)
        assert attached.call("name", [], {}) == "same"
    finally:
        server.close()


def test_a_host_down_for_good_gives_its_reason_and_a_wrong_token_never_connects(attached):
    server = _serve("guarded", b"g" * 32)
    try:
        attached.point(server.port, b"x" * 32)  # not its token: refused, tried again
        with pytest.raises(HostUnavailableError, match="not reached within"):
            attached.start(timeout_s=1.5)
        assert attached.state == "starting" and server.connections == 0
        reason = "the simulation host exited (code 1) and was not restarted"
        attached.point(None, None, state="down", why=reason)
        attached.start(timeout_s=5)  # returns: there is nothing to wait for
        with pytest.raises(HostUnavailableError) as caught:
            attached.call("name", [], {})
        assert str(caught.value) == reason
        assert not attached.notify("want", "world/1")
    finally:
        server.close()


def test_stop_ends_the_keeper_and_the_connection(attached):
    server = _serve("left", b"l" * 32)
    try:
        attached.point(server.port, b"l" * 32)
        attached.start(timeout_s=10)
        keeper = attached._keeper
        attached.stop()
        assert attached.state == "stopped" and keeper is not None and not keeper.is_alive()
        _until(lambda: server.connections == 0)
        attached.point(server.port, b"l" * 32)  # a stopped host is pointed nowhere
        time.sleep(0.2)
        assert server.connections == 0
        with pytest.raises(HostUnavailableError):
            attached.call("name", [], {})
    finally:
        server.close()
