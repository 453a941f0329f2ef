"""Size limit, rate limit, security headers and CORS."""

from __future__ import annotations

from freeagentics.server.gate import TokenBuckets


def test_oversized_body_is_413(make_client):
    client = make_client(max_request_bytes=2048)
    r = client.post("/api/v1/simulations", json={"name": "x" * 5000})
    assert r.status_code == 413 and "2048" in r.json()["detail"]


def test_streamed_body_past_the_limit_is_413(make_client):
    client = make_client(max_request_bytes=2048)

    def chunks():
        yield b'{"name": "'
        yield b"x" * 4096
        yield b'"}'

    r = client.post(
        "/api/v1/simulations", content=chunks(), headers={"content-type": "application/json"}
    )
    assert r.status_code == 413


def test_rate_limit_is_429_with_retry_after(make_client):
    client = make_client(rate_limit_per_minute=3)
    codes = [client.get("/api/v1/simulations").status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
    r = client.get("/api/v1/simulations")
    assert int(r.headers["retry-after"]) >= 1
    assert client.get("/api/v1/health/live").status_code == 200  # probes are exempt


def test_token_buckets_refill_and_stay_bounded():
    buckets = TokenBuckets(capacity=2, rate=1.0, max_clients=3)
    assert buckets.take("a", now=0) == 0 and buckets.take("a", now=0) == 0
    assert buckets.take("a", now=0) > 0
    assert buckets.take("a", now=1.0) == 0
    for i in range(10):
        buckets.take(f"c{i}", now=2)
    assert len(buckets) == 3


def test_security_headers(client, prod):
    r = client.get("/api/v1/health/live")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert "strict-transport-security" not in r.headers
    assert "strict-transport-security" in prod.get("/api/v1/health/live").headers
    assert "content-security-policy" not in client.get("/docs").headers


def test_cors_follows_settings(make_client):
    client = make_client(cors_origins=["https://ok.example"])
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Authorization",
    }
    ok = client.options(
        "/api/v1/simulations", headers={"Origin": "https://ok.example", **preflight}
    )
    assert ok.headers["access-control-allow-origin"] == "https://ok.example"
    bad = client.options(
        "/api/v1/simulations", headers={"Origin": "https://evil.example", **preflight}
    )
    assert "access-control-allow-origin" not in bad.headers
