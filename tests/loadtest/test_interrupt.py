"""The interrupt path's parts: a stop reaches user workers at any stage, workers that
cannot hand in are killed rather than waited for, and the steps of the way out share
one deadline."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from freeagentics.loadtest.deadline import LAST_MOMENT_S, WayOut
from freeagentics.loadtest.measure import run_worker
from freeagentics.loadtest.runner import _collect
from freeagentics.loadtest.users import _sleep_unless_stopped, _State, _wait_go

#: far longer than any stop may take: reaching it means the stop was missed
LONG_S = 600.0


def _state(tmp_path) -> _State:
    return _State({"index": 0, "sync_dir": str(tmp_path)})


def test_a_stop_before_go_skips_the_measurement(tmp_path):
    (tmp_path / "stop").write_text("stop")
    assert asyncio.run(_wait_go(tmp_path, _state(tmp_path), LONG_S)) is None


def test_a_stop_during_warm_up_or_measurement_ends_the_wait(tmp_path):
    async def stop_later() -> bool:
        waiting = asyncio.create_task(_sleep_unless_stopped(tmp_path, _state(tmp_path), LONG_S))
        await asyncio.sleep(0.2)
        (tmp_path / "stop").write_text("stop")
        return await asyncio.wait_for(waiting, timeout=60)

    assert asyncio.run(stop_later()) is False


def test_a_sigint_in_the_worker_ends_the_wait(tmp_path):
    state = _state(tmp_path)
    state.stopping = True  # what the worker's SIGINT handler sets
    waiting = _sleep_unless_stopped(tmp_path, state, LONG_S)
    assert asyncio.run(asyncio.wait_for(waiting, timeout=60)) is False


def test_an_uninterrupted_wait_runs_to_its_end(tmp_path):
    assert asyncio.run(_sleep_unless_stopped(tmp_path, _state(tmp_path), 0.1)) is True


def test_workers_still_running_after_the_grace_are_killed(tmp_path):
    """What the runner does after Ctrl-C: a worker stuck (here: asleep) is not waited for."""
    (tmp_path / "sleeper.py").write_text(f"import time\ntime.sleep({LONG_S})\n")
    cancel = threading.Event()
    started = time.monotonic()
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(
            run_worker,
            "sleeper",
            {},
            timeout_s=LONG_S,
            memory_budget=1 << 30,
            pythonpath=[tmp_path],
            cancel=cancel,
        )
        assert _collect([future], cancel, grace_s=0.5) == [{"skipped": "cancelled"}]
    assert cancel.is_set()
    assert time.monotonic() - started < LONG_S / 2


def test_the_way_out_caps_each_step_by_what_is_left_of_its_deadline():
    way_out = WayOut()
    assert way_out.cap(30.0) == 30.0  # no deadline before Ctrl-C
    way_out.start(10.0)
    assert 9.0 < way_out.cap(30.0) <= 10.0
    assert way_out.cap(2.0) == 2.0
    first = way_out.deadline
    way_out.start(1000.0)  # a second Ctrl-C keeps the first deadline
    assert way_out.deadline == first


def test_past_its_deadline_a_step_still_gets_a_last_moment():
    way_out = WayOut()
    way_out.start(0.0)
    time.sleep(0.01)
    assert way_out.cap(30.0) == LAST_MOMENT_S


def test_the_way_out_records_each_step_however_it_ended():
    way_out = WayOut()
    with way_out.timed("workers"):
        time.sleep(0.01)
    try:
        with way_out.timed("server"):
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    assert list(way_out.steps) == ["workers", "server"]
    assert way_out.steps["workers"] >= 0.01 and way_out.steps["server"] >= 0.0
