"""permessage-deflate is offered only when the settings ask for it (off by default)."""

from __future__ import annotations

import pytest
from websockets.sync.client import connect

from freeagentics.loadtest.server import ServerProcess


def _negotiated(server: ServerProcess) -> str | None:
    with connect(server.ws_url, compression="deflate", open_timeout=30) as ws:
        return ws.response.headers.get("Sec-WebSocket-Extensions")


@pytest.mark.slow
@pytest.mark.parametrize(("setting", "expected"), [(None, None), ("true", "permessage-deflate")])
def test_compression_follows_the_setting(setting, expected):
    env = {"FREEAGENTICS_WS_COMPRESSION": setting} if setting else {}
    with ServerProcess(env=env) as server:
        negotiated = _negotiated(server)
    if expected is None:
        assert negotiated is None  # frames stay framed once and shared by every socket
    else:
        assert negotiated is not None and negotiated.startswith(expected)
