"""One simulation the server owns: its lock, its storage writer and its runner thread.

Every change of the simulation happens under :attr:`ManagedSimulation.lock`, and each
ends by publishing a new :attr:`ManagedSimulation.snapshot` (copy-on-tick): readers
take the snapshot, never the lock, so a request never sees half a tick and never waits
for one. The runner thread steps the simulation at ``rate_hz`` while the status is
``running``; pausing parks the thread, stopping ends it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from freeagentics.server.services._snapshot import Snapshot, WorldLayout, take_snapshot
from freeagentics.simulation import Simulation, TickEvents
from freeagentics.storage.writer import StorageWriter

__all__ = ["ManagedSimulation"]

TickObserver = Callable[[float], None]
StatusListener = Callable[["ManagedSimulation"], None]
AfterTick = Callable[["ManagedSimulation", int], None]


class ManagedSimulation:
    """A simulation, its writer and runner; statuses as in the ``simulations`` table.

    Args:
        sim_id: the stored simulation's id.
        name: its name.
        sim: the simulation.
        writer: stores every tick (``writer.hook(sim)`` is called on the stepping thread).
        rate_hz: ticks per second while running.
        on_tick_seconds: called with each tick's duration (metrics).
        on_status: called after the runner changes the status by itself (a failure).
        after_tick: called with the tick number after each tick, under :attr:`lock`
            (periodic checkpoints).
    """

    def __init__(
        self,
        sim_id: int,
        name: str,
        sim: Simulation,
        writer: StorageWriter,
        rate_hz: float,
        on_tick_seconds: TickObserver | None = None,
        on_status: StatusListener | None = None,
        after_tick: AfterTick | None = None,
    ):
        self.id, self.name = sim_id, name
        self.lock = threading.RLock()
        #: serialises checkpoints of this simulation (their quota is checked, then used)
        self.checkpoint_lock = threading.Lock()
        self.writer = writer
        self.rate_hz = rate_hz
        self.status = "created"
        self.error: str | None = None
        #: ticks lost when this simulation was restored at server start (else None)
        self.ticks_lost: int | None = None
        #: times this simulation resumed elsewhere after its host died (Ray hosts; else None)
        self.failovers: int | None = None
        self._sim = sim
        self._hook = writer.hook(sim)
        self._on_tick_seconds = on_tick_seconds
        self._on_status = on_status
        self._after_tick = after_tick
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._layout = WorldLayout.of(sim)
        self.snapshot: Snapshot = take_snapshot(sim, self._layout)

    @property
    def sim(self) -> Simulation:
        """The live simulation (read or change it under :attr:`lock`, then :meth:`publish`)."""
        return self._sim

    @property
    def live_tick(self) -> int:
        """The simulation's tick now (an attribute read: no lock)."""
        return self._sim.tick

    def publish(self) -> Snapshot:
        """Copy the simulation for readers and swap the copy in (hold :attr:`lock`)."""
        snapshot = take_snapshot(self._sim, self._layout)
        self.snapshot = snapshot  # one assignment: readers see the old or the new, whole
        return snapshot

    def replace(self, sim: Simulation) -> None:
        """Continue with ``sim`` (a restored checkpoint); subscribers carry over."""
        with self.lock:
            sim.bus = self._sim.bus
            self._sim = sim
            self._hook = self.writer.hook(sim)
            self._layout = WorldLayout.of(sim)
            self.publish()

    # ------------------------------------------------------------------ stepping
    def step(self) -> TickEvents:
        """One tick on the calling thread, stored, timed and published (hold :attr:`lock`)."""
        start = time.perf_counter()
        events = self._sim.step()
        self.publish()
        if self._on_tick_seconds is not None:
            self._on_tick_seconds(time.perf_counter() - start)
        self._hook(events)
        if self._after_tick is not None:
            self._after_tick(self, events.tick)
        return events

    def set_status(self, status: str) -> None:
        """Change the status and wake the runner, which follows it."""
        with self._cond:
            self.status = status
            self._cond.notify_all()

    def launch(self) -> None:
        """Start the runner thread (once); it steps while the status is ``running``."""
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, daemon=True, name=f"freeagentics-sim-{self.id}"
                )
                self._thread.start()

    def join(self, timeout: float = 10.0) -> None:
        """Wait for the runner to end (after a status that is not running or paused)."""
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        period = 1.0 / self.rate_hz
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self.status != "paused")
                if self.status != "running":
                    return
            start = time.perf_counter()
            try:
                with self.lock:
                    if self.status == "running":
                        self.step()
            except Exception as exc:  # a failing tick stops this simulation, not the server
                self.error = f"{type(exc).__name__}: {exc}"
                self.set_status("failed")
                if self._on_status is not None:
                    self._on_status(self)
                return
            delay = period - (time.perf_counter() - start)
            if delay > 0:
                with self._cond:
                    self._cond.wait_for(lambda: self.status != "running", timeout=delay)
