"""Fakes for the WebSocket tests: a simulation service that emits tick batches on demand."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from freeagentics.errors import UnknownIdError
from freeagentics.server.app import create_app
from freeagentics.server.settings import Settings
from freeagentics.server.ws.wire import PROTOCOL as WS_PROTOCOL
from freeagentics.simulation._events import TickEvents

from ..conftest import serving


def make_events(tick: int, n: int = 5, coalition_events: dict | None = None) -> TickEvents:
    """A tick batch of ``n`` agents whose positions encode the tick."""
    ids = np.arange(n, dtype=np.int64)
    return TickEvents(
        tick=tick,
        kind_names=("explorer", "collector"),
        ids=ids,
        kinds=ids % 2,
        positions=np.stack([ids + tick, ids * 2], axis=1).astype(np.int32),
        actions=np.zeros(n, np.int64),
        energy=np.linspace(0, 1, n, dtype=np.float32),
        coalition=np.where(ids < 2, 0, -1).astype(np.int64),
        metrics={"belief_entropy": np.full(n, 0.5, np.float32)},
        coalition_events=coalition_events or {},
        timings={"inference": 0.001},
    )


class FakeService:
    """What the hub and commands use of ``SimulationService``; ids are ints."""

    def __init__(self, ids=(1,)):
        self.ids = set(ids)
        self.callbacks: dict[int, list] = {}
        self.unsubscribed: list[int] = []
        self.commands: list[tuple] = []
        self.graph_stats = (1, 10, 20)
        self.lock = threading.Lock()

    def _check(self, sim_id: int) -> None:
        if sim_id not in self.ids:
            raise UnknownIdError(f"no simulation with id {sim_id}")

    def subscribe_ticks(self, sim_id, callback, maxsize=16, policy="latest"):
        self._check(sim_id)
        handle = object()
        with self.lock:
            self.callbacks.setdefault(sim_id, []).append((handle, callback))
        return handle

    def unsubscribe_ticks(self, sim_id, handle) -> None:
        with self.lock:
            subs = self.callbacks.get(sim_id, [])
            subs[:] = [(h, cb) for h, cb in subs if h is not handle]
            if not subs:
                self.callbacks.pop(sim_id, None)
        self.unsubscribed.append(sim_id)

    def emit(self, sim_id: int, events: TickEvents) -> None:
        with self.lock:
            callbacks = [cb for _, cb in self.callbacks.get(sim_id, [])]
        for cb in callbacks:
            cb(events)

    def snapshot(self, sim_id) -> Any:
        self._check(sim_id)
        return object()

    def knowledge_stats(self, sim_id) -> tuple[int, int, int]:
        self._check(sim_id)
        return self.graph_stats

    # commands
    def start(self, sim_id):
        self._check(sim_id)
        self.commands.append(("start", sim_id))
        return {"id": sim_id, "status": "running"}

    def pause(self, sim_id):
        self._check(sim_id)
        self.commands.append(("pause", sim_id))
        return {"id": sim_id, "status": "paused"}

    def step(self, sim_id, n):
        self._check(sim_id)
        self.commands.append(("step", sim_id, n))
        return {"id": sim_id, "tick": n}

    def add_agents(self, sim_id, kind, count):
        self._check(sim_id)
        self.commands.append(("add_agents", sim_id, kind, count))
        return list(range(100, 100 + count))


@pytest.fixture
def service() -> FakeService:
    return FakeService()


@pytest.fixture
def events():
    """``events(tick, n=5, coalition_events=None)`` makes a tick batch."""
    return make_events


@pytest.fixture
def make_service():
    """``make_service(ids)``: a fake service holding simulations ``ids``."""
    return FakeService


@contextlib.contextmanager
def serving_demo(folder: Path, ws: str = WS_PROTOCOL, **settings: Any) -> Iterator[tuple[str, Any]]:
    """The real app under a real uvicorn server (SQLite in ``folder``), its demo simulation
    ticking and framing at 50 Hz, other ``settings`` as given; yields the WebSocket URL
    and the app."""
    app = create_app(
        Settings(
            database_url=f"sqlite:///{folder / 'db.sqlite'}",
            demo=True,
            tick_rate_hz=50,
            frame_rate_hz=50,
            **settings,
        )
    )
    with serving(app, ws=ws) as port:
        yield f"ws://127.0.0.1:{port}/ws", app
