"""Serial or parallel kernels: the faster one, as measured, is kept."""

from __future__ import annotations

import time

from freeagentics.inference._kernels import PARALLEL_THRESHOLD, KernelSet, _Choice


def _slow(*_):
    time.sleep(0.002)
    return "slow"


def _fast(*_):
    return "fast"


def test_the_faster_variant_wins_and_is_checked_again_later():
    choice = _Choice(_slow, _fast)
    results = [choice() for _ in range(2 * _Choice.TRIALS)]
    assert results.count("slow") == results.count("fast") == _Choice.TRIALS
    assert choice.winner == 1
    assert all(choice() == "fast" for _ in range(50))
    choice.variants = (_fast, _slow)  # the machine changed: the next contest notices
    for _ in range(_Choice.RECHECK + 2 * _Choice.TRIALS):
        choice()
    assert choice.winner == 0


def test_small_populations_always_get_the_serial_kernel():
    kernels = KernelSet()
    serial = kernels("row_entropy", PARALLEL_THRESHOLD - 1)
    assert serial is kernels("row_entropy", 10)
    assert isinstance(kernels("row_entropy", PARALLEL_THRESHOLD), _Choice)
    assert kernels("row_entropy", PARALLEL_THRESHOLD) is kernels("row_entropy", 10**6)
