"""Limits that only a real server shows: frames refused before they are buffered, and
credentials in URLs kept out of uvicorn's logs."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import socket
import struct
import time

import httpx
import pytest
import uvicorn
import websockets
from typer.testing import CliRunner

from freeagentics.server.app import create_app
from freeagentics.server.settings import Settings
from freeagentics.server.ws.wire import PROTOCOL as WS_PROTOCOL

from ..conftest import KEYS, SECRET, serving

VIEWER = next(k for k, r in KEYS.items() if r == "viewer")
#: uvicorn's loggers that write request lines
LOGGERS = ("uvicorn.access", "uvicorn.error")


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def live(tmp_path):
    """The app in production mode under uvicorn with the protocol ``serve`` uses, at
    uvicorn's default 16 MiB ``ws_max_size``; yields (port, captured log lines)."""
    settings = Settings(
        mode="production",
        secret_key=SECRET,
        api_keys=KEYS,
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        demo=False,
        ws_max_message_bytes=4096,
    )
    app = create_app(settings)  # before uvicorn configures logging, as `serve` does
    records = _Records()
    with serving(app, log_level="info") as port:  # uvicorn has configured its loggers
        for name in LOGGERS:
            logging.getLogger(name).addHandler(records)
        yield port, records.lines
    for name in LOGGERS:
        logging.getLogger(name).removeHandler(records)


def _handshake(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(4096)
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


def test_an_oversized_frame_is_closed_1009_from_its_header(live):
    port, _ = live
    sock = _handshake(port)  # anonymous: the server waits for an auth message
    # a text frame declaring 8 MiB, of which only the first kilobyte is ever sent
    mask = os.urandom(4)
    sock.sendall(bytes([0x81, 0x80 | 127]) + struct.pack("!Q", 8 * 1024 * 1024) + mask)
    sock.sendall(bytes(b ^ mask[i % 4] for i, b in enumerate(b"x" * 1024)))
    try:
        reply = sock.recv(4096)  # the server must answer without waiting for the rest
    except TimeoutError:
        pytest.fail("the server waited for the whole 8 MiB frame")
    finally:
        sock.close()
    assert reply[0] == 0x88, reply  # a close frame
    (code,) = struct.unpack("!H", reply[2:4])
    assert code == 1009


def test_messages_within_the_limit_still_pass(live):
    port, _ = live

    async def main():
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws?api_key={VIEWER}") as ws:
            await ws.send('{"type": "ping", "id": "' + "p" * 100 + '"}')
            return await ws.recv()

    assert '"pong"' in asyncio.run(main())


def test_credentials_in_urls_do_not_reach_the_logs(live):
    port, lines = live
    token = httpx.post(
        f"http://127.0.0.1:{port}/api/v1/auth/token", headers={"X-API-Key": VIEWER}
    ).json()["access_token"]

    async def main():
        for query in (f"api_key={VIEWER}", f"token={token}"):
            async with websockets.connect(f"ws://127.0.0.1:{port}/ws?{query}") as ws:
                await ws.send('{"type": "ping"}')
                await ws.recv()

    asyncio.run(main())
    httpx.get(f"http://127.0.0.1:{port}/api/v1/health/live?token={token}&x=1")
    deadline = time.monotonic() + 10
    while sum("/ws?" in line for line in lines) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    logged = "\n".join(lines)
    assert logged.count("/ws?api_key=[redacted]") == 1 and "/ws?token=[redacted]" in logged
    assert "live?token=[redacted]&x=1" in logged
    assert VIEWER not in logged and token not in logged


def test_redact_masks_only_credential_parameters():
    from freeagentics.server.logredact import redact

    assert redact("/ws?api_key=abc&topic=world&token=t.k.n") == (
        "/ws?api_key=[redacted]&topic=world&token=[redacted]"
    )
    assert redact("/ws?mytoken=keep&format=json") == "/ws?mytoken=keep&format=json"


def test_serve_limits_uvicorns_frames_to_the_application_limit(monkeypatch, tmp_path):
    from freeagentics import cli

    seen: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: seen.update(kwargs))
    monkeypatch.setenv("FREEAGENTICS_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    monkeypatch.setenv("FREEAGENTICS_WS_MAX_MESSAGE_BYTES", "2048")
    monkeypatch.setenv("FREEAGENTICS_SIMULATION_HOST", "inline")  # the app is never served
    result = CliRunner().invoke(cli.app, ["serve", "--no-demo"])
    assert result.exit_code == 0, result.output
    assert seen["ws_max_size"] == 2048 and seen["ws"] == WS_PROTOCOL


def test_json_access_lines_carry_the_redacted_path():
    from freeagentics.server.logredact import RedactCredentials
    from freeagentics.server.logs import JsonFormatter

    args = ("10.0.0.1:5000", "GET", f"/ws?api_key={VIEWER}&format=json", "1.1", 101)
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', args, None
    )
    assert RedactCredentials().filter(record)
    line = JsonFormatter().format(record)
    assert VIEWER not in line and '"path":"/ws?api_key=[redacted]&format=json"' in line
