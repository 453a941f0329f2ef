"""The lifeline: a child stops when the pipe on its stdin ends, in order when it can, and
exits regardless once the grace is over."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

from freeagentics.lifeline import CUT_SHORT, wait_for_eof

#: far longer than any exit may take: reaching it means the end of the pipe was missed
LONG_S = 120.0

#: a child whose orderly stop ends its main thread (``works``) or never does
CHILD = """
import sys, threading
from freeagentics.lifeline import watch

stopped = threading.Event()
works = sys.argv[1] == "works"
watch(stopped.set if works else (lambda: None), float(sys.argv[2]), "the child")
print("watching", flush=True)
stopped.wait()
print("stopped in order", flush=True)
"""


def _child(mode: str, grace_s: float) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, mode, str(grace_s)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline() == "watching\n"
    return proc


def test_the_end_of_stdin_stops_the_child_in_order():
    proc = _child("works", LONG_S)
    try:
        time.sleep(0.2)
        assert proc.poll() is None  # an open pipe keeps it running
        proc.stdin.close()
        assert proc.wait(LONG_S) == 0
        assert proc.stdout.read() == "stopped in order\n"
    finally:
        proc.kill()


def test_a_child_that_does_not_stop_in_order_exits_after_the_grace():
    proc = _child("stuck", 0.5)
    try:
        proc.stdin.close()
        assert proc.wait(LONG_S) == CUT_SHORT
        assert proc.stdout.read() == ""  # never stopped in order
    finally:
        proc.kill()


def test_data_on_the_pipe_is_not_its_end():
    read, write = os.pipe()
    ended = threading.Event()
    waiter = threading.Thread(target=lambda: (wait_for_eof(read), ended.set()), daemon=True)
    waiter.start()
    try:
        os.write(write, b"anything")
        assert not ended.wait(0.3)
    finally:
        os.close(write)
    assert ended.wait(LONG_S)
    os.close(read)
