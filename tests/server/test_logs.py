"""Structured logs: JSON lines from the formatter and from a real ``freeagentics serve``."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time

import httpx
import pytest

from freeagentics.loadtest.server import free_port
from freeagentics.server.logs import JsonFormatter, log_config


def _record(name: str, msg: str, args: tuple = (), exc_info=None) -> logging.LogRecord:
    return logging.LogRecord(name, logging.WARNING, __file__, 1, msg, args, exc_info)


def test_a_record_is_one_json_object_on_one_line():
    line = JsonFormatter().format(_record("freeagentics.server", "tick %d took %s", (7, "2 ms")))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "WARNING" and entry["logger"] == "freeagentics.server"
    assert entry["message"] == "tick 7 took 2 ms"
    assert entry["time"].endswith("+00:00")


def test_exceptions_and_access_fields_are_kept():
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        exc_info = sys.exc_info()
    entry = json.loads(JsonFormatter().format(_record("x", "failed", exc_info=exc_info)))
    assert "ValueError: bad" in entry["exception"]
    access = _record(
        "uvicorn.access", '%s - "%s %s HTTP/%s" %d', ("1.2.3.4:5", "GET", "/a?b=1", "1.1", 200)
    )
    entry = json.loads(JsonFormatter().format(access))
    assert entry["client"] == "1.2.3.4:5" and entry["method"] == "GET"
    assert entry["path"] == "/a?b=1" and entry["status"] == 200 and entry["http_version"] == "1.1"


def test_unknown_log_formats_are_refused():
    with pytest.raises(ValueError, match="log format must be one of"):
        log_config("xml")


@pytest.mark.slow
def test_serve_writes_json_lines(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "FREEAGENTICS_LOG_FORMAT": "json",
        "FREEAGENTICS_DATABASE_URL": f"sqlite:///{tmp_path}/logs.sqlite",
    }
    cmd = [sys.executable, "-c", "from freeagentics.cli import app; app()", "serve"]
    cmd += ["--port", str(port), "--no-demo"]
    with (tmp_path / "out.log").open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v1/health/live", timeout=2).is_success:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        httpx.get(f"http://127.0.0.1:{port}/api/v1/simulations/424242", timeout=10)
    finally:
        proc.terminate()
        proc.wait(60)
    lines = (tmp_path / "out.log").read_text().splitlines()
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    access = [e for e in entries if e["logger"] == "uvicorn.access"]
    assert any(e["path"] == "/api/v1/simulations/424242" and e["status"] == 404 for e in access)
    assert any(e["logger"].startswith("uvicorn") and e["level"] == "INFO" for e in entries)
