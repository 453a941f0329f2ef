"""Browser fixtures: a real ``uvicorn`` server in a subprocess and Debian's chromium.

The tests drive ``/usr/bin/chromium`` (installed by ``make browsers``) through
Playwright; nothing is downloaded. Without chromium they are skipped, unless
``FREEAGENTICS_REQUIRE_BROWSER=1`` (CI), where a missing browser is a failure.
Screenshots go to ``test-artifacts/dashboard/``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from freeagentics.server.ws.wire import PROTOCOL as WS_PROTOCOL

CHROMIUM = Path(os.environ.get("FREEAGENTICS_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
API_KEYS = {"dashboard-operator-key-0123": "operator", "dashboard-viewer-key-01234": "viewer"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """``uvicorn`` serving ``create_app()`` on a free port, settings from the environment."""

    def __init__(self, data_dir: Path, **env: str):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "FREEAGENTICS_DATABASE_URL": f"sqlite:///{data_dir / 'server.db'}",
            "FREEAGENTICS_RATE_LIMIT_PER_MINUTE": "100000",
            **env,
        }
        self.log = data_dir / "server.log"
        cmd = [
            sys.executable, "-m", "uvicorn", "--factory", "freeagentics.server.app:create_app",
            "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
            "--ws", WS_PROTOCOL,
        ]  # fmt: skip
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.wait_ready()

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/v1/health/ready", timeout=2):
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        raise RuntimeError(f"server not ready after {timeout} s: {self.log.read_text()[-2000:]}")

    def request(self, method: str, path: str, body=None, headers=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        req.add_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        with urllib.request.urlopen(req, timeout=30) as res:
            text = res.read()
        return json.loads(text) if text else None

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="session")
def api_keys() -> dict[str, str]:
    """The auth server's API keys and their roles."""
    return dict(API_KEYS)


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        if os.environ.get("FREEAGENTICS_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing and FREEAGENTICS_REQUIRE_BROWSER=1 (make browsers)")
        pytest.skip(f"{CHROMIUM} is not installed (make browsers)")
    pytest.importorskip("playwright.sync_api")
    return CHROMIUM


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory) -> Iterator[LiveServer]:
    """Development mode with the demo simulation running (what ``make run`` serves)."""
    server = LiveServer(tmp_path_factory.mktemp("dev"), FREEAGENTICS_DEMO_AGENTS="100")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory) -> Iterator[LiveServer]:
    """Production mode: no anonymous access, API keys only."""
    server = LiveServer(
        tmp_path_factory.mktemp("prod"),
        FREEAGENTICS_MODE="production",
        FREEAGENTICS_SECRET_KEY="dashboard-test-secret-long-enough-for-hs256-0123",
        FREEAGENTICS_API_KEYS=json.dumps(API_KEYS),
        FREEAGENTICS_DEMO_AGENTS="50",
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser(chromium_path, tmp_path_factory) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(chromium_path),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900},
        )
        yield context
        context.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    """A fresh tab; page errors and console errors fail the test."""
    tab = browser.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))

    def on_console(msg) -> None:
        # the login test expects the first /auth/me to be refused
        if msg.type == "error" and "status of 401" not in msg.text:
            errors.append(f"console: {msg.text}")

    tab.on("console", on_console)
    tab.errors = errors
    yield tab
    tab.close()
    assert not errors, errors


@pytest.fixture
def screenshot() -> Callable[[object, str], Path]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(tab, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        tab.screenshot(path=str(path))
        return path

    return take
