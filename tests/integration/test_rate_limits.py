"""Rate limits: a token bucket per principal (429 + Retry-After), and a throttle on failed
authentications per client address that refuses before checking credentials."""

from __future__ import annotations

from conftest import assert_error_shape


def test_principal_rate_limit_answers_429_with_retry_after(make_server):
    server = make_server("limited", env={"FALAJ_RATE_LIMIT_RPS": "1",
                                         "FALAJ_RATE_LIMIT_BURST": "6"}).start()
    other = server.post("/api/v1/api-keys", json={"name": "other", "platform_admin": True})
    assert other.status_code == 201
    statuses = [server.get("/api/v1/projects").status_code for _ in range(8)]
    assert statuses[:5] == [200] * 5
    assert 429 in statuses[5:]
    refused = server.get("/api/v1/projects")
    error = assert_error_shape(refused, 429, "RESOURCE_EXHAUSTED")
    assert "rate limit" in error["message"]
    assert int(refused.headers["Retry-After"]) >= 1
    # Public routes are not rate limited per principal, and the server keeps serving.
    assert server.get("/healthz", auth=False).status_code == 200
    # Another principal has a bucket of its own.
    assert server.get("/api/v1/projects", auth=f"Bearer {other.json()['key']}").status_code == 200


def test_failed_authentications_are_throttled_per_address(make_server):
    server = make_server("throttled", env={"FALAJ_AUTH_FAILURES_PER_MINUTE": "3"}).start()
    wrong = "Bearer flj_" + "A" * 49
    statuses = [server.get("/api/v1/projects", auth=wrong).status_code for _ in range(5)]
    assert statuses[:3] == [401, 401, 401]
    assert statuses[3:] == [429, 429]
    # Even the right key is refused from this address until the bucket refills: the throttle
    # runs before credentials are checked, so a guesser learns nothing.
    blocked = server.get("/api/v1/projects")
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) >= 1
    audit = [line for line in server.log_lines() if line.get("status") == 429]
    assert audit, "429 answers are logged"
