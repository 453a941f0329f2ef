"""Tokens bound to their API key, a maximum life, budgets per principal, login lockout."""

from __future__ import annotations

import uuid

import jwt
import pytest
from pydantic import ValidationError

from freeagentics.server.auth import Role, issue_token
from freeagentics.server.settings import Settings

from .conftest import KEYS, SECRET, key_of

TOKEN = "/api/v1/auth/token"
ME = "/api/v1/auth/me"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _mint(client, headers, ttl: int | None = None) -> dict:
    r = client.post(TOKEN, headers=headers, json={"ttl_seconds": ttl} if ttl else None)
    assert r.status_code == 200, r.text
    return r.json()


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def _without(role: str) -> dict[str, str]:
    return {k: r for k, r in KEYS.items() if r != role}


def test_removing_a_key_revokes_its_tokens_across_a_restart(prod, make_client):
    token = _mint(prod, key_of("viewer"), ttl=3600)["access_token"]
    child = _mint(prod, _bearer(token))["access_token"]  # a token minted from the token
    assert prod.get(ME, headers=_bearer(token)).status_code == 200
    # the server restarts on the same database; the viewer key is gone from its settings
    restarted = make_client(mode="production", secret_key=SECRET, api_keys=_without("viewer"))
    for t in (token, child):
        r = restarted.get(ME, headers=_bearer(t))
        assert r.status_code == 401 and "revoked" in r.json()["detail"]
    # the other keys' tokens are untouched
    operator = _mint(prod, key_of("operator"))["access_token"]
    assert restarted.get(ME, headers=_bearer(operator)).json()["role"] == "operator"


def test_lowering_a_keys_role_lowers_its_tokens(prod, make_client):
    token = _mint(prod, key_of("operator"))["access_token"]
    demoted = {k: ("viewer" if r == "operator" else r) for k, r in KEYS.items()}
    restarted = make_client(mode="production", secret_key=SECRET, api_keys=demoted)
    assert restarted.get(ME, headers=_bearer(token)).json()["role"] == "viewer"


def test_a_token_cannot_mint_a_token_that_outlives_it(prod):
    parent = _mint(prod, key_of("admin"), ttl=600)
    child = _mint(prod, _bearer(parent["access_token"]), ttl=86_400)
    assert child["expires_in"] <= 600
    parent_claims, child_claims = _claims(parent["access_token"]), _claims(child["access_token"])
    assert child_claims["exp"] <= parent_claims["exp"]
    assert child_claims["kid"] == parent_claims["kid"]
    grandchild = _mint(prod, _bearer(child["access_token"]))
    assert _claims(grandchild["access_token"])["exp"] <= parent_claims["exp"]


def test_token_lifetime_has_a_maximum(make_client):
    client = make_client(
        mode="production", secret_key=SECRET, api_keys=KEYS, token_max_ttl_seconds=3600
    )
    r = client.post(TOKEN, headers=key_of("viewer"), json={"ttl_seconds": 7200})
    assert r.status_code == 422 and "token_max_ttl_seconds" in r.json()["detail"]
    # a validly signed token that lives longer than the maximum is refused
    settings = Settings(mode="production", secret_key=SECRET)
    long_lived = issue_token(settings, "someone", Role.ADMIN, ttl_seconds=7 * 24 * 3600)
    r = client.get(ME, headers=_bearer(long_lived))
    assert r.status_code == 401 and "maximum" in r.json()["detail"]
    assert _mint(client, key_of("viewer"), ttl=3600)["expires_in"] == 3600


def test_settings_refuse_a_default_token_life_over_the_maximum():
    with pytest.raises(ValidationError, match="token_max_ttl_seconds"):
        Settings(token_ttl_seconds=7200, token_max_ttl_seconds=3600)


def test_tokens_of_the_anonymous_development_caller_are_refused_in_production(make_client):
    dev = make_client(secret_key=SECRET)
    token = _mint(dev, {})["access_token"]
    assert dev.get(ME, headers=_bearer(token)).json()["role"] == "admin"
    prod = make_client(mode="production", secret_key=SECRET, api_keys=KEYS)
    r = prod.get(ME, headers=_bearer(token))
    assert r.status_code == 401 and "development" in r.json()["detail"]


def test_minting_tokens_does_not_multiply_the_rate_budget(make_client):
    client = make_client(
        mode="production", secret_key=SECRET, api_keys=KEYS, rate_limit_per_minute=5
    )
    tokens = [_mint(client, key_of("viewer"))["access_token"] for _ in range(3)]  # 3 of 5 spent
    codes = [client.get(ME, headers=_bearer(tokens[i % 3])).status_code for i in range(6)]
    # two requests left (a third if a token trickled back meanwhile), then 429 for all tokens
    assert codes.count(200) <= 3 and codes[-1] == 429, codes
    assert client.get(ME, headers=key_of("viewer")).status_code == 429
    # another key has its own budget, although every request comes from one address
    assert client.get(ME, headers=key_of("operator")).status_code == 200


def test_failed_authentications_lock_the_address_out(make_client):
    client = make_client(
        mode="production", secret_key=SECRET, api_keys=KEYS, auth_failures_per_minute=3
    )
    codes = [client.get(ME, headers={"X-API-Key": uuid.uuid4().hex}).status_code for _ in range(5)]
    assert codes == [401, 401, 401, 429, 429]
    r = client.get(ME, headers=key_of("admin"))  # a right guess is not told apart
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert "failed authentications" in r.json()["detail"]
    assert client.get("/api/v1/health/live").status_code == 200
