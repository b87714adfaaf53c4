from __future__ import annotations

import pytest


@pytest.mark.django_db
def test_signup_is_rate_limited_per_ip_with_retry_after(anon, settings):
    settings.RATELIMIT_SIGNUP_PER_IP = "2 per hour"
    statuses = []
    for n in range(3):
        response = anon.post("/api/v1/signup", {"email": f"u{n}@example.com", "password": "a sturdy passphrase 42",
                                                "business_name": f"Shop {n}"}, format="json", REMOTE_ADDR="203.0.113.7")
        statuses.append(response.status_code)
    assert statuses == [201, 201, 429]
    assert int(response["Retry-After"]) >= 1
    assert response.json()["error"]["code"] == "rate_limited"
    # Another client IP is not affected.
    other = anon.post("/api/v1/signup", {"email": "z@example.com", "password": "a sturdy passphrase 42",
                                         "business_name": "Other"}, format="json", REMOTE_ADDR="198.51.100.1")
    assert other.status_code == 201


@pytest.mark.django_db
def test_api_key_rate_limit_is_per_key(tenant, other_tenant, settings):
    settings.RATELIMIT_PER_API_KEY = "3 per minute"
    api = tenant.client()
    statuses = [api.get("/api/v1/assistants").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = api.get("/api/v1/business")
    assert limited.status_code == 429 and 1 <= int(limited["Retry-After"]) <= 60
    assert other_tenant.client().get("/api/v1/assistants").status_code == 200


@pytest.mark.django_db
def test_rate_limit_counts_live_in_redis(tenant, settings):
    """Two separate processes would share the count: it is stored in Redis, not in memory."""
    import redis

    settings.RATELIMIT_PER_API_KEY = "100 per minute"
    tenant.client().get("/api/v1/assistants")
    keys = redis.Redis.from_url(settings.REDIS_URL).keys("*")
    assert any(b"key" in k for k in keys)


@pytest.mark.django_db
def test_forwarded_for_is_ignored_unless_a_proxy_is_trusted(anon, settings):
    settings.RATELIMIT_SIGNUP_PER_IP = "1 per hour"
    body = {"password": "a sturdy passphrase 42", "business_name": "Spoof"}
    first = anon.post("/api/v1/signup", {**body, "email": "s1@example.com"}, format="json",
                      REMOTE_ADDR="192.0.2.5", HTTP_X_FORWARDED_FOR="1.1.1.1")
    spoofed = anon.post("/api/v1/signup", {**body, "email": "s2@example.com"}, format="json",
                        REMOTE_ADDR="192.0.2.5", HTTP_X_FORWARDED_FOR="2.2.2.2")
    assert (first.status_code, spoofed.status_code) == (201, 429)


@pytest.mark.django_db
def test_the_limit_holds_exactly_and_is_shared_through_redis(settings):
    """Every request is counted in Redis: a second process (a fresh limiter on the same
    storage) sees the first one's hits and refuses the one over the limit."""
    import uuid

    from limits import storage, strategies

    from businesses.api import ratelimit

    identity, rate = uuid.uuid4().hex, "100 per minute"
    results = [ratelimit.hit(scope="key", identity=identity, rate=rate) for _ in range(101)]
    assert all(r is None for r in results[:100]) and results[100] is not None and results[100] >= 1
    other = strategies.SlidingWindowCounterRateLimiter(storage.storage_from_string(settings.RATELIMIT_STORAGE_URI))
    assert not other.test(ratelimit._rate(rate), "key", identity)
