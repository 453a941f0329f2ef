"""Settings: the default secret is refused outside development."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from freeagentics.server.settings import DEFAULT_SECRET, Settings


def test_development_accepts_the_default_secret():
    settings = Settings(mode="development")
    assert settings.secret_key == DEFAULT_SECRET
    assert settings.development


def test_production_refuses_the_default_secret():
    with pytest.raises(ValidationError, match="default secret is refused"):
        Settings(mode="production")


def test_production_refuses_a_short_secret():
    with pytest.raises(ValidationError, match="at least 32 characters"):
        Settings(mode="production", secret_key="short")


def test_environment_is_read_with_the_prefix(monkeypatch):
    monkeypatch.setenv("FREEAGENTICS_MODE", "production")
    monkeypatch.setenv("FREEAGENTICS_SECRET_KEY", "x" * 40)
    monkeypatch.setenv("FREEAGENTICS_API_KEYS", '{"abcdefghijklmnopqrstu": "operator"}')
    settings = Settings()
    assert settings.mode == "production"
    assert settings.api_keys == {"abcdefghijklmnopqrstu": "operator"}


def test_api_keys_need_a_known_role_and_length():
    with pytest.raises(ValidationError, match="role 'root'"):
        Settings(api_keys={"abcdefghijklmnopqrstu": "root"})
    with pytest.raises(ValidationError, match="shorter than 16"):
        Settings(api_keys={"short": "viewer"})


def test_the_websocket_egress_budget_is_read_from_the_environment_and_bounded(monkeypatch):
    monkeypatch.setenv("FREEAGENTICS_WS_EGRESS_BYTES_PER_S", "50000000")
    assert Settings().ws_egress_bytes_per_s == 50_000_000
    for bad in ("0", "-1", "1000", "not-a-number", str(200 * 1024**3)):
        monkeypatch.setenv("FREEAGENTICS_WS_EGRESS_BYTES_PER_S", bad)
        with pytest.raises(ValidationError, match="ws_egress_bytes_per_s"):
            Settings()
