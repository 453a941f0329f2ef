"""Browser fixtures: a real ``uvicorn`` server in a subprocess and Debian's chromium.

The tests drive ``/usr/bin/chromium`` (installed by ``make browsers``) through
Playwright; nothing is downloaded. Without chromium they are skipped, unless
``FREEAGENTICS_REQUIRE_BROWSER=1`` (CI), where a missing browser is a failure.
Screenshots go to ``test-artifacts/dashboard/``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from freeagentics.loadtest.server import ServerProcess

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


def serve(**env: str) -> ServerProcess:
    """The app as ``freeagentics serve`` runs it (uvicorn, its WebSocket protocol, SQLite
    in a temporary folder), with the demo simulation; other settings from ``env``.
    Started and stopped by ``with``."""
    return ServerProcess(env={"FREEAGENTICS_DEMO": "true", **env})


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
def dev_server() -> Iterator[ServerProcess]:
    """Development mode with the demo simulation running (what ``make run`` serves)."""
    with serve(FREEAGENTICS_DEMO_AGENTS="100") as server:
        yield server


@pytest.fixture(scope="module")
def auth_server() -> Iterator[ServerProcess]:
    """Production mode: no anonymous access, API keys only."""
    with serve(
        FREEAGENTICS_MODE="production",
        FREEAGENTICS_SECRET_KEY="dashboard-test-secret-long-enough-for-hs256-0123",
        FREEAGENTICS_API_KEYS=json.dumps(API_KEYS),
        FREEAGENTICS_DEMO_AGENTS="50",
    ) as server:
        yield server


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
