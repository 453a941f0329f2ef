"""The host's socket in one process: concurrent calls, pushed frames, hostile input refused."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time

import msgpack
import numpy as np
import pytest

from freeagentics.errors import UnknownIdError
from freeagentics.hosts import (
    HostError,
    HostServer,
    HostTimeoutError,
    HostUnavailableError,
    SocketTransport,
    frame,
    read_message,
)

TOKEN = b"t" * 32


class Handler:
    """Calls of a toy host: ``wait`` blocks until released, ``fail`` raises."""

    def __init__(self):
        self.release = threading.Event()

    def call(self, method, args, kwargs):
        if method == "echo":
            return {"args": args, "kwargs": kwargs}
        if method == "wait":
            assert self.release.wait(30)
            return "waited"
        if method == "array":
            return np.arange(args[0], dtype=np.int32)
        raise UnknownIdError(f"no method {method}")

    def interest(self, key, wanted):
        pass


class Recorder:
    def __init__(self):
        self.events: list[tuple[str, bool]] = []

    def call(self, method, args, kwargs):
        if method == "wait":
            time.sleep(float(args[0]))
            return "slept"
        return method

    def interest(self, key, wanted):
        self.events.append((key, wanted))


@pytest.fixture
def server():
    handler = Recorder()
    server = HostServer(handler, TOKEN, max_message_bytes=4096, max_in_flight=4, max_connections=3)
    server.start()
    yield server
    server.close()


def _until(check, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _raw(server, hello: bytes | None = None) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    if hello is not None:
        sock.sendall(hello)
    return sock


def _closed(sock: socket.socket) -> bool:
    """True when the host closed ``sock`` (reads end) without answering."""
    try:
        return read_message(sock, 1 << 20) is None
    except OSError:
        return True


def test_calls_answer_with_values_arrays_and_the_services_errors():
    handler = Handler()
    server = HostServer(handler, TOKEN)
    server.start()
    link = SocketTransport(server.port, TOKEN)
    try:
        assert link.call("echo", [1, "a"], {"k": [2.5]}) == {
            "args": [1, "a"],
            "kwargs": {"k": [2.5]},
        }
        np.testing.assert_array_equal(link.call("array", [5], {}), np.arange(5))
        with pytest.raises(UnknownIdError, match="no method nope"):
            link.call("nope", [], {})
        with pytest.raises(TypeError):  # refused here, before anything is sent
            link.call("echo", [object()], {})
    finally:
        link.close()
        server.close()


def test_a_long_call_does_not_hold_up_the_others():
    handler = Handler()
    server = HostServer(handler, TOKEN)
    server.start()
    link = SocketTransport(server.port, TOKEN)
    try:
        results = []
        slow = threading.Thread(target=lambda: results.append(link.call("wait", [], {})))
        slow.start()
        for i in range(20):  # answered while the first call still waits on its host
            assert link.call("echo", [i], {})["args"] == [i]
        assert slow.is_alive() and not results
        handler.release.set()
        slow.join(10)
        assert results == ["waited"]
    finally:
        link.close()
        server.close()


def test_frames_go_to_the_connections_that_want_them(server):
    got_a, got_b = [], []
    a = SocketTransport(server.port, TOKEN, on_frame=lambda k, p: got_a.append((k, p)))
    b = SocketTransport(server.port, TOKEN, on_frame=lambda k, p: got_b.append((k, p)))
    try:
        a.notify("want", "world/1")
        b.notify("want", "world/1")
        b.notify("want", "metrics/1")
        a.call("sync", [], {}), b.call("sync", [], {})  # notices are read in order, before calls
        assert server.handler.events == [("world/1", True), ("metrics/1", True)]  # first only
        assert sorted(server.interests()) == ["metrics/1", "world/1"]
        server.publish("world/1", b"w1")
        server.publish("metrics/1", b"m1")
        server.publish("agent/1/2", b"nobody")
        _until(lambda: len(got_a) == 1 and len(got_b) == 2)
        assert got_a == [("world/1", b"w1")] and sorted(got_b) == [
            ("metrics/1", b"m1"),
            ("world/1", b"w1"),
        ]
        a.notify("unwant", "world/1")
        a.call("sync", [], {})
        assert ("world/1", False) not in server.handler.events  # b still wants it
        b.close()  # its topics go with it
        _until(lambda: ("world/1", False) in server.handler.events)
        assert ("metrics/1", False) in server.handler.events
    finally:
        a.close()
        b.close()


def test_a_wrong_token_is_refused_and_the_host_serves_on(server):
    for hello in (
        frame({"op": "hello", "token": b"x" * 32}),
        frame({"op": "hello", "token": "t" * 32}),  # text, not bytes
        frame({"op": "call", "id": 1, "method": "x", "args": [], "kwargs": {}}),
        frame({"op": "hello"}),
    ):
        with _raw(server, hello) as sock:
            assert _closed(sock)
    with pytest.raises(HostUnavailableError):
        SocketTransport(server.port, b"y" * 32)
    link = SocketTransport(server.port, TOKEN)
    assert link.call("alive", [], {}) == "alive"
    link.close()


def test_an_oversized_hello_is_refused_before_it_is_read(server):
    with _raw(server, struct.pack(">I", 2**31)) as sock:
        assert _closed(sock)
    with _raw(server, struct.pack(">I", 5000) + b"\x00" * 5000) as sock:  # over 1 KiB
        assert _closed(sock)


def test_a_silent_connection_is_dropped_after_the_handshake_timeout(server, monkeypatch):
    from freeagentics.hosts import _server

    monkeypatch.setattr(_server, "HANDSHAKE_TIMEOUT_S", 0.2)
    with _raw(server) as sock:
        assert _closed(sock)


def _authenticated(server) -> socket.socket:
    sock = _raw(server, frame({"op": "hello", "token": TOKEN}))
    assert read_message(sock, 1024) == {"op": "hello", "ok": True}
    return sock


@pytest.mark.parametrize(
    "data",
    [
        struct.pack(">I", 4097) + b"\x00" * 4097,  # over max_message_bytes
        struct.pack(">I", 3) + b"\xc1\xc1\xc1",  # not MessagePack
        frame([1, 2, 3]),  # not a map
        frame({"op": "explode"}),
        frame({"op": "call", "id": "1", "method": "x", "args": [], "kwargs": {}}),
        frame({"op": "call", "id": 1, "method": "x", "args": {}, "kwargs": {}}),
        frame({"op": "call", "id": 1, "method": "x", "args": [], "kwargs": {1: 2}}),
        frame({"op": "want", "key": "k" * 300}),
        frame({"op": "want", "key": 7}),
        struct.pack(">I", 10) + msgpack.packb({"op": 1})[:3],  # cut short, then closed
    ],
)
def test_hostile_messages_close_their_connection_only(server, data):
    other = SocketTransport(server.port, TOKEN)
    with _authenticated(server) as sock:
        with contextlib.suppress(OSError):  # the host may have closed it already
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        assert _closed(sock)
    assert other.call("still", [], {}) == "still"
    other.close()
    _until(lambda: server.connections == 0)


def test_calls_in_flight_per_connection_are_bounded(server):
    with _authenticated(server) as sock:
        for i in range(6):  # max_in_flight=4: the fifth and sixth are refused, not queued
            sock.sendall(
                frame({"op": "call", "id": i, "method": "wait", "args": [0.5], "kwargs": {}})
            )
        replies = [read_message(sock, 1 << 20) for _ in range(6)]
    by_id = {r["id"]: r for r in replies}
    assert sum(r["ok"] for r in replies) == 4
    refused = [r for r in replies if not r["ok"]]
    assert len(refused) == 2 and all("over 4 calls" in r["error"]["message"] for r in refused)
    assert by_id[0]["ok"] and by_id[0]["value"] == "slept"


def test_connections_are_bounded(server):
    held = [SocketTransport(server.port, TOKEN) for _ in range(3)]
    try:
        with pytest.raises(HostUnavailableError):
            SocketTransport(server.port, TOKEN, connect_timeout_s=5)
    finally:
        for link in held:
            link.close()
    _until(lambda: server.connections == 0)
    SocketTransport(server.port, TOKEN).close()


def test_calls_waiting_when_the_host_goes_fail_with_host_unavailable():
    handler = Handler()
    server = HostServer(handler, TOKEN)
    server.start()
    lost = threading.Event()
    link = SocketTransport(server.port, TOKEN, on_lost=lost.set)
    errors = []

    def wait():
        try:
            link.call("wait", [], {})
        except HostUnavailableError as exc:
            errors.append(exc)

    thread = threading.Thread(target=wait)
    thread.start()
    time.sleep(0.2)
    server.close()
    thread.join(10)
    assert len(errors) == 1 and lost.wait(5)
    assert not isinstance(errors[0], HostTimeoutError)  # gone, not late
    assert link.in_flight == 0
    with pytest.raises(HostUnavailableError):
        link.call("echo", [], {})
    handler.release.set()


def test_unexpected_host_failures_are_host_errors():
    class Broken:
        def call(self, method, args, kwargs):
            return {1, object()}  # cannot cross back

        def interest(self, key, wanted):
            pass

    server = HostServer(Broken(), TOKEN)
    server.start()
    link = SocketTransport(server.port, TOKEN)
    try:
        with pytest.raises(HostError, match="TypeError"):
            link.call("x", [], {})
    finally:
        link.close()
        server.close()
