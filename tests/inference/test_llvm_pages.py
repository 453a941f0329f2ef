"""LLVM's pages leave the resident set once numba is quiet, and come back when it compiles."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numba
import pytest

from freeagentics.inference._llvm_pages import LLVMPageRelease, releasable_spans

ROOT = Path(__file__).resolve().parents[2]
LINUX = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc/self/smaps")
LIB = "/venv/lib/python3.11/site-packages/llvmlite/binding/libllvmlite.so"


def _mapping(start: int, end: int, perms: str, path: str, rss_kb: int, anon_kb: int) -> str:
    return (
        f"{start:x}-{end:x} {perms} 00000000 fe:00 123    {path}\n"
        f"Size:  {(end - start) // 1024} kB\nRss:  {rss_kb} kB\nAnonymous:  {anon_kb} kB\n"
    )


def test_only_the_librarys_clean_read_only_mappings_are_releasable():
    smaps = "".join(
        [
            _mapping(0x1000, 0x3000, "r--p", LIB, 8, 0),
            _mapping(0x3000, 0x9000, "r-xp", LIB, 24, 0),
            _mapping(0x9000, 0xA000, "r--p", LIB, 4, 4),  # relocations, copied on write
            _mapping(0xA000, 0xB000, "rw-p", LIB, 4, 4),
            _mapping(0xB000, 0xC000, "r-xp", LIB, 0, 0),  # nothing resident
            _mapping(0xC000, 0xD000, "r-xp", "/usr/lib/libc.so.6", 4, 0),
            _mapping(0xD000, 0xE000, "r-xs", LIB, 4, 0),  # shared: not the library's copy
            _mapping(0xE000, 0xF000, "rw-p", "", 4, 4),
        ]
    )
    assert releasable_spans(smaps) == [(0x1000, 0x3000, 8192), (0x3000, 0x9000, 24576)]


PROGRAM = """
import json
from pathlib import Path
import numba
from freeagentics.inference._llvm_pages import release_llvm_pages, releasable_spans

def resident():
    return sum(rss for _, _, rss in releasable_spans(Path("/proc/self/smaps").read_text()))

@numba.njit
def add(x):
    return x + 1

assert add(1) == 2
before = resident()
released = release_llvm_pages()
after = resident()

@numba.njit
def triple(x):
    return x * 3

assert triple(5) == 15  # LLVM compiles again after its pages left
print(json.dumps([before, released, after, resident()]))
"""


@LINUX
def test_released_pages_leave_the_resident_set_and_compiling_brings_them_back():
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    before, released, after, again = json.loads(done.stdout.splitlines()[-1])
    assert before > 10 * 2**20  # numba compiled: LLVM's code is resident
    assert released == before and after < before / 10
    assert again > after


def test_a_release_follows_each_use_of_llvm_once_it_is_quiet():
    calls: list[float] = []
    pages = LLVMPageRelease(quiet_s=0.2, poll_s=0.02, release=lambda: calls.append(1) or 123)
    pages.start()
    try:
        _wait(lambda: pages.releases == 1)  # numba loaded LLVM before: a first release
        assert pages.released_bytes == 123
        time.sleep(0.5)
        assert pages.releases == 1  # quiet, unused: nothing more to release

        @numba.njit
        def square(x):
            return x * x

        assert square(4) == 16  # compiled: LLVM used again
        _wait(lambda: pages.releases == 2)
    finally:
        pages.stop()

    @numba.njit
    def cube(x):
        return x * x * x

    assert cube(2) == 8
    time.sleep(0.5)
    assert pages.releases == 2 and len(calls) == 2  # stopped: no longer listening


def test_no_release_while_llvm_is_in_use_or_before_it_is_quiet():
    from numba.core import event

    now = [0.0]
    pages = LLVMPageRelease(quiet_s=5.0, poll_s=3600, release=lambda: 0, clock=lambda: now[0])
    pages.start()  # listening; its thread waits an hour, so claim() is called here
    try:
        assert not pages.claim()  # used at start, but not yet quiet
        now[0] = 5.0
        assert pages.claim() and not pages.claim()  # due once, then unused
        event.start_event("numba:compiler_lock")  # a compilation begins...
        now[0] = 100.0
        assert not pages.claim()  # ...and is in progress however long ago it began
        event.start_event("numba:llvm_lock")
        event.end_event("numba:llvm_lock")
        event.end_event("numba:compiler_lock")  # it ends at 100
        assert not pages.claim()
        now[0] = 105.0
        assert pages.claim()
    finally:
        pages.stop()


def _wait(condition, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
