"""The real server in a subprocess: start, create the profile's simulation, scrape, stop.

The server runs as ``freeagentics serve`` (``command="serve"``: whatever processes the
command starts, the load test measures them all) or as ``uvicorn
freeagentics.server.app:create_app`` (the default, with ``uvicorn_args``), in a session
of its own (so a Ctrl-C at the terminal reaches the load test, which then scrapes the
server's final metrics and stops it, rather than killing the server mid-run), on a free
port, with a fresh SQLite file in a temporary folder or the PostgreSQL URL given. It is
configured for load testing: no demo simulation, and rate and connection limits high
enough never to throttle the simulated users, who all come from 127.0.0.1.

Nothing the server starts outlives it, nor the server this process: :meth:`ServerProcess.stop`
signals the server's session, then kills whatever is left of its process tree (its
simulation host has a session of its own) once the grace is over; and ``serve`` runs
with ``--lifeline``, a pipe on its stdin that the system closes when this process dies,
however it dies (:mod:`freeagentics.lifeline`), so a load test killed outright does not
leave its server running.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

from freeagentics.loadtest.fdlimit import raise_fd_limit
from freeagentics.server.ws.wire import PROTOCOL as WS_PROTOCOL

__all__ = ["ServerProcess", "free_port", "parse_metrics", "raise_fd_limit"]

API = "/api/v1"
#: seconds the server gets to stop in order (SIGTERM) before it is killed
STOP_GRACE_S = 30.0
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)")


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text format → ``{"name{labels}": value}`` (comments dropped)."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match:
            name, labels, value = match.groups()
            try:
                out[name + (labels or "")] = float(value)
            except ValueError:
                continue
    return out


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_preexec() -> None:
    # its own session, so a Ctrl-C meant for the load test does not stop the server mid-run
    raise_fd_limit()
    os.setsid()


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass  # the group is gone


def _tree(pid: int) -> list[psutil.Process]:
    """Every process below ``pid`` (empty when it is gone)."""
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _kill_all(procs: list[psutil.Process]) -> None:
    """SIGKILL each of ``procs`` still running (psutil checks that a number was not taken
    by another process since) and wait a little for them to go."""
    for proc in procs:
        try:
            proc.kill()
        except psutil.Error:
            pass  # gone already
    psutil.wait_procs(procs, timeout=5)


class ServerProcess:
    """One server subprocess; use as a context manager or call :meth:`stop`."""

    def __init__(
        self,
        *,
        database: str = "sqlite",
        database_url: str | None = None,
        env: dict[str, str] | None = None,
        uvicorn_args: tuple[str, ...] = (),
        command: str = "uvicorn",
        serve_args: tuple[str, ...] = (),
    ):
        if command not in ("uvicorn", "serve"):
            raise ValueError(f"command: uvicorn or serve, not {command!r}")
        self.tmp = tempfile.TemporaryDirectory(prefix="fa-loadtest-")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws"
        if database == "postgresql":
            if not database_url:
                raise ValueError("--database postgresql needs --database-url")
            url = database_url
        else:
            url = database_url or f"sqlite:///{self.tmp.name}/loadtest.sqlite"
        self.database = database
        self.database_url = url
        self.env = {
            **os.environ,
            "FREEAGENTICS_DATABASE_URL": url,
            "FREEAGENTICS_DEMO": "false",
            "FREEAGENTICS_RATE_LIMIT_PER_MINUTE": "100000000",
            "FREEAGENTICS_WS_CONNECTS_PER_MINUTE": "100000000",
            "FREEAGENTICS_WS_CONNECTIONS_PER_ADDRESS": "1000000",
            "FREEAGENTICS_WS_MESSAGES_PER_SECOND": "100000",
            "FREEAGENTICS_WS_MESSAGE_BURST": "100000",
            "FREEAGENTICS_FRAME_RATE_HZ": "10",
            **(env or {}),
        }
        self.uvicorn_args = tuple(uvicorn_args)
        self.command = command
        self.serve_args = tuple(serve_args)
        self.log_path = Path(self.tmp.name) / "server.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout_s: float = 60.0) -> ServerProcess:
        """Start the server and wait until it answers ``/health/ready`` (stopped again
        when it does not, or when the wait is interrupted)."""
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                self._command(),
                env=self.env,
                # serve's lifeline: this end stays open, unwritten, as long as this process
                stdin=subprocess.PIPE if self.command == "serve" else None,
                stdout=log,
                stderr=log,
                preexec_fn=_server_preexec,
            )
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                try:
                    if httpx.get(f"{self.base}{API}/health/ready", timeout=2).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start: {self.log_tail()}")
                time.sleep(0.2)
        except BaseException:
            self.stop(grace_s=0.0)  # a server that never served has nothing to save
            raise

    def _command(self) -> list[str]:
        if self.command == "serve":
            demo = self.env.get("FREEAGENTICS_DEMO", "false").lower() in ("1", "true", "yes")
            return [
                sys.executable,
                "-m",
                "freeagentics.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--demo" if demo else "--no-demo",
                "--lifeline",
                *self.serve_args,
            ]
        return [
            sys.executable,
            "-m",
            "uvicorn",
            "freeagentics.server.app:create_app",
            "--factory",
            "--port",
            str(self.port),
            "--backlog",
            "8192",
            "--log-level",
            "warning",
            *(() if "--ws" in self.uvicorn_args else ("--ws", WS_PROTOCOL)),
            *self.uvicorn_args,
        ]

    @property
    def pid(self) -> int:
        assert self.proc is not None, "server not started"
        return self.proc.pid

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def create_simulation(self, agents: int, name: str) -> dict[str, Any]:
        """Create (not start) the demo scenario with ``agents`` agents; its summary."""
        from freeagentics.server.app import demo_scenario

        body = {"name": name, "scenario": demo_scenario(agents), "start": False}
        r = httpx.post(f"{self.base}{API}/simulations", json=body, timeout=600)
        r.raise_for_status()
        return r.json()

    def step(self, sim_id: int, n: int = 1) -> dict[str, Any]:
        """Run ``n`` ticks now (the first compiles the kernels); the simulation's summary."""
        r = httpx.post(f"{self.base}{API}/simulations/{sim_id}/step", json={"n": n}, timeout=600)
        r.raise_for_status()
        return r.json()

    def simulation(self, sim_id: int, timeout_s: float = 60.0) -> dict[str, Any]:
        r = httpx.get(f"{self.base}{API}/simulations/{sim_id}", timeout=timeout_s)
        r.raise_for_status()
        return r.json()

    def scrape(self, timeout_s: float = 30.0) -> dict[str, float]:
        """The server's ``/metrics``, parsed ({} when it does not answer in time)."""
        try:
            r = httpx.get(f"{self.base}/metrics", timeout=timeout_s)
            return parse_metrics(r.text)
        except httpx.HTTPError:
            return {}

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """Stop the server in order (SIGTERM to every process in its session) within
        ``grace_s`` seconds, then kill whatever is left of its process tree; remove its
        files. Interrupted (a second Ctrl-C), it skips to the killing."""
        proc = self.proc
        if proc is not None:
            tree = _tree(proc.pid)  # before it exits: its orphans are nobody's children
            try:
                if proc.poll() is None:
                    _signal_group(proc.pid, signal.SIGTERM)
                    try:
                        proc.wait(grace_s)
                    except subprocess.TimeoutExpired:
                        pass
            finally:
                _signal_group(proc.pid, signal.SIGKILL)
                _kill_all(tree)
                proc.wait()
                if proc.stdin is not None:
                    proc.stdin.close()
        self.tmp.cleanup()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
