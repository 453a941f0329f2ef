"""Authentication and roles: tokens, API keys, and every mutating route guarded."""

from __future__ import annotations

import re

import pytest
from server.conftest import BOTH_HOSTS, KEYS, SECRET, bearer, key_of

from freeagentics.server.auth import (
    ANONYMOUS_DEV,
    AuthError,
    Principal,
    Role,
    authenticate,
    issue_token,
    require,
)
from freeagentics.server.settings import Settings

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
PUBLIC = {"/api/v1/health/live", "/api/v1/health/ready", "/metrics"}
PROD = Settings(mode="production", secret_key=SECRET, api_keys=KEYS)


def _routes(app):
    """Every (method, path) of the route table, as the OpenAPI schema lists them."""
    for path, operations in app.openapi()["paths"].items():
        for method in operations:
            yield method.upper(), path


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_anonymous_is_admin_only_in_development():
    assert authenticate(None, None, Settings()) == ANONYMOUS_DEV
    with pytest.raises(AuthError) as err:
        authenticate(None, None, PROD)
    assert err.value.status == 401


def test_token_round_trip_and_failures():
    token = issue_token(PROD, "alice", Role.OPERATOR)
    assert authenticate(f"Bearer {token}", None, PROD) == Principal("alice", Role.OPERATOR)
    expired = issue_token(PROD, "alice", Role.OPERATOR, ttl_seconds=-10)
    with pytest.raises(AuthError, match="expired"):
        authenticate(f"Bearer {expired}", None, PROD)
    forged = issue_token(Settings(mode="production", secret_key="y" * 40), "eve", Role.ADMIN)
    with pytest.raises(AuthError, match="invalid token"):
        authenticate(f"Bearer {forged}", None, PROD)
    with pytest.raises(AuthError, match="Bearer <token>"):
        authenticate(f"Basic {token}", None, PROD)


def test_bad_credentials_fail_even_in_development():
    with pytest.raises(AuthError, match="unknown API key"):
        authenticate(None, "not-a-key", Settings())


def test_require_orders_roles():
    require(Principal("a", Role.ADMIN), Role.OPERATOR)
    with pytest.raises(AuthError) as err:
        require(Principal("v", Role.VIEWER), Role.OPERATOR)
    assert err.value.status == 403


def test_every_mutating_route_rejects_anonymous_callers(prod):
    walked = 0
    for method, path in _routes(prod.app):
        if method not in MUTATING:
            continue
        r = prod.request(method, _concrete(path), json={})
        assert r.status_code == 401, (method, path, r.status_code, r.text)
        assert r.headers["www-authenticate"] == "Bearer"
        walked += 1
    assert walked >= 12


def test_every_non_public_read_rejects_anonymous_callers(prod):
    for method, path in _routes(prod.app):
        if method == "GET" and path not in PUBLIC and not path.startswith(("/docs", "/openapi")):
            r = prod.get(_concrete(path))
            assert r.status_code == 401, (path, r.status_code)


def test_viewers_cannot_mutate(prod):
    """Every mutating route except token issue and model validation needs operator or more."""
    viewer_ok = {("POST", "/api/v1/auth/token"), ("POST", "/api/v1/models/validate")}
    for method, path in _routes(prod.app):
        if method in MUTATING and (method, path) not in viewer_ok:
            r = prod.request(method, _concrete(path), json={}, headers=key_of("viewer"))
            assert r.status_code == 403, (method, path, r.status_code, r.text)


def test_operators_cannot_delete_or_restore(prod):
    r = prod.post("/api/v1/simulations", json={}, headers=key_of("operator"))
    assert r.status_code == 201
    sim = r.json()["id"]
    assert prod.delete(f"/api/v1/simulations/{sim}", headers=key_of("operator")).status_code == 403
    r = prod.post(f"/api/v1/simulations/{sim}/restore", headers=key_of("operator"))
    assert r.status_code == 403
    assert prod.delete(f"/api/v1/simulations/{sim}", headers=key_of("admin")).status_code == 204


def test_api_key_to_token_exchange(prod):
    r = prod.post("/api/v1/auth/token", headers=key_of("operator"))
    assert r.status_code == 200
    body = r.json()
    assert body["role"] == "operator" and body["token_type"] == "bearer"
    me = prod.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json() == {"name": "api-key:6789", "role": "operator"}


def test_expired_and_forged_tokens_are_401_over_http(prod):
    r = prod.get("/api/v1/simulations", headers=bearer(Role.ADMIN, ttl=-5))
    assert r.status_code == 401 and "expired" in r.json()["detail"]
    r = prod.get("/api/v1/simulations", headers=bearer(Role.ADMIN, secret="z" * 40))
    assert r.status_code == 401 and "invalid token" in r.json()["detail"]
    assert prod.get("/api/v1/simulations", headers=bearer(Role.VIEWER)).status_code == 200


@BOTH_HOSTS
def test_public_routes_need_no_credentials(prod):
    assert prod.get("/api/v1/health/live").status_code == 200
    assert prod.get("/metrics").status_code == 200
