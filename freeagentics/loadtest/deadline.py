"""The way out of a run: after Ctrl-C, every step left shares one deadline.

A run that ends on its own gives each step of its ending (workers handing in, the final
scrape, the server's orderly stop) its own generous timeout. After Ctrl-C the user waits
for the prompt: :meth:`WayOut.start` sets a deadline, and each step then waits at most
what is left of it (:meth:`WayOut.cap`), so that the ending as a whole is bounded
whatever the machine's load, while a step that must happen (the server's stop) still
gets :data:`LAST_MOMENT_S`. :meth:`WayOut.timed` records how long each step took, for
the record.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["LAST_MOMENT_S", "WayOut"]

#: the least a step gets once the deadline has passed: a moment to answer or to stop
LAST_MOMENT_S = 0.5


class WayOut:
    """The deadline of a run's ending (none until :meth:`start`) and its steps' times."""

    def __init__(self) -> None:
        self.deadline: float | None = None
        #: seconds each step took, in the order they ran
        self.steps: dict[str, float] = {}

    def start(self, budget_s: float) -> None:
        """Give the steps left ``budget_s`` seconds in all from now (a second call, as
        from a second Ctrl-C, keeps the first deadline)."""
        if self.deadline is None:
            self.deadline = time.monotonic() + budget_s

    @property
    def started(self) -> bool:
        return self.deadline is not None

    def cap(self, seconds: float) -> float:
        """``seconds``, or what is left before the deadline when that is less, but no
        less than :data:`LAST_MOMENT_S`."""
        if self.deadline is None:
            return seconds
        return min(seconds, max(LAST_MOMENT_S, self.deadline - time.monotonic()))

    @contextmanager
    def timed(self, step: str) -> Iterator[None]:
        """Record how long the ``with`` body of ``step`` took, however it ended."""
        began = time.monotonic()
        try:
            yield
        finally:
            self.steps[step] = round(time.monotonic() - began, 3)
