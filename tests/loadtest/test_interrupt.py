"""The interrupt path's parts: a stop reaches user workers at any stage, and workers that
cannot hand in are killed rather than waited for."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

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
