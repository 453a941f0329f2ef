from __future__ import annotations

import numpy as np
import pytest

from freeagentics.coalitions import CoalitionEvents, EventKind, EventLog
from freeagentics.errors import ConfigurationError


def _batch(tick: int, agents: list[int]) -> CoalitionEvents:
    return CoalitionEvents.build(
        tick, np.full(len(agents), EventKind.JOIN), np.array(agents), np.full(len(agents), 7)
    )


def test_log_keeps_last_events_in_order():
    log = EventLog(4)
    log.append(_batch(1, [0, 1, 2]))
    log.append(_batch(2, [3, 4]))
    events = log.events()
    assert log.total == 5 and len(log) == 4
    np.testing.assert_array_equal(events.agent, [1, 2, 3, 4])
    np.testing.assert_array_equal(events.tick, [1, 1, 2, 2])
    np.testing.assert_array_equal(events.coalition, [7, 7, 7, 7])
    assert events.kind.dtype == np.int8


def test_oversized_batch_keeps_its_tail():
    log = EventLog(3)
    log.append(_batch(0, [9]))
    log.append(_batch(1, list(range(10))))
    np.testing.assert_array_equal(log.events().agent, [7, 8, 9])
    assert log.total == 11


def test_memory_does_not_grow_with_appends():
    log = EventLog(16)
    buffers = [log._tick, log._kind, log._agent, log._coalition]
    for tick in range(500):
        log.append(_batch(tick, [tick, tick + 1, tick + 2]))
    assert [b.shape for b in (log._tick, log._kind, log._agent, log._coalition)] == [(16,)] * 4
    current = (log._tick, log._kind, log._agent, log._coalition)
    assert all(a is b for a, b in zip(buffers, current, strict=True))
    events = log.events()
    assert len(events) == 16
    assert np.all(np.diff(events.tick) >= 0) and events.tick[-1] == 499


def test_concat_and_empty():
    both = CoalitionEvents.concat([_batch(1, [1]), CoalitionEvents.empty(), _batch(2, [5, 6])])
    np.testing.assert_array_equal(both.agent, [1, 5, 6])
    assert len(CoalitionEvents.empty()) == 0


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_bad_capacity(bad):
    with pytest.raises(ConfigurationError, match="history"):
        EventLog(bad)
