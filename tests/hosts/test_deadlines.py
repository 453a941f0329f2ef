"""Every call to a host has a deadline: past it the caller is told which call and how long,
its entry goes, and the host's late answer is dropped, on the socket and attached
transports alike."""

from __future__ import annotations

import threading
import time

import pytest

from freeagentics.hosts import (
    AttachedHost,
    HostServer,
    HostTimeoutError,
    HostUnavailableError,
    SocketTransport,
)

TOKEN = b"d" * 32


class Gate:
    """A toy host whose ``hang`` calls wait until :attr:`release` is set (counted in
    :attr:`finished` when they do); ``echo`` answers at once."""

    def __init__(self):
        self.release = threading.Event()
        self.finished = 0
        self._lock = threading.Lock()

    def call(self, method, args, kwargs):
        if method == "hang":
            assert self.release.wait(60)
            with self._lock:
                self.finished += 1
            return "late"
        return {"echo": args}

    def interest(self, key, wanted):
        pass


@pytest.fixture
def gate():
    gate = Gate()
    server = HostServer(gate, TOKEN, max_in_flight=512)
    server.start()
    gate.server = server
    yield gate
    gate.release.set()
    server.close()


def _until(check, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)
    return value


def test_a_call_past_its_deadline_names_the_method_and_the_link_goes_on(gate):
    link = SocketTransport(gate.server.port, TOKEN, call_timeout_s=0.3)
    try:
        with pytest.raises(HostTimeoutError) as info:
            link.call("hang", [], {})
        exc = info.value
        assert isinstance(exc, HostUnavailableError)  # handled wherever an unavailable host is
        assert (exc.method, exc.timeout_s) == ("hang", 0.3)
        assert "hang" in str(exc) and "0.3 s" in str(exc) and "may still complete" in str(exc)
        assert link.in_flight == 0  # its entry went with it
        # the same link serves the next call, and a call given a deadline of its own
        assert link.call("echo", [1], {}) == {"echo": [1]}
        with pytest.raises(HostTimeoutError, match=r"hang within 0\.05 s"):
            link.call("hang", [], {}, timeout_s=0.05)
        # the host finishes them later: the answers are dropped quietly, counted
        gate.release.set()
        _until(lambda: link.late_replies == 2)
        assert not link.closed and link.call("echo", [2], {}) == {"echo": [2]}
    finally:
        link.close()


def test_the_pending_calls_stay_bounded_after_many_timed_out_calls(gate):
    link = SocketTransport(gate.server.port, TOKEN, call_timeout_s=0.02)
    calls, threads = 300, 6
    timed_out: list[int] = []
    lock = threading.Lock()

    def caller():
        for _ in range(calls // threads):
            try:
                link.call("hang", [], {})
            except HostTimeoutError:
                with lock:
                    timed_out.append(1)

    try:
        workers = [threading.Thread(target=caller) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(120)
        assert len(timed_out) == calls
        assert link.in_flight == 0  # not one entry left behind by 300 timed-out calls
        gate.release.set()  # every one of them completes on the host, after its caller left
        _until(lambda: gate.finished == calls and link.late_replies == calls)
        assert link.in_flight == 0 and not link.closed
        assert link.call("echo", [3], {}) == {"echo": [3]}
    finally:
        link.close()


def test_an_attached_host_gives_its_calls_its_deadline(gate):
    attached = AttachedHost(connect_timeout_s=5.0, call_timeout_s=0.2)
    try:
        attached.point(gate.server.port, TOKEN)
        attached.start(timeout_s=10)
        with pytest.raises(HostTimeoutError) as info:
            attached.call("hang", [], {})
        assert (info.value.method, info.value.timeout_s) == ("hang", 0.2)
        assert attached.call("echo", [4], {}) == {"echo": [4]}
        with pytest.raises(HostTimeoutError, match=r"within 0\.1 s"):
            attached.call("hang", [], {}, timeout_s=0.1)
        assert attached.state == "up"  # a late host is not a lost one
    finally:
        attached.stop()
