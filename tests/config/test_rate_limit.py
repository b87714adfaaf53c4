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


def _count_redis_calls(monkeypatch):
    from config import ratelimit

    limiter = ratelimit._limiter(ratelimit.settings.RATELIMIT_STORAGE_URI)
    calls = []
    for name in ("hit", "get_window_stats"):
        real = getattr(limiter, name)
        monkeypatch.setattr(limiter, name,
                            lambda *a, _real=real, _name=name, **k: calls.append(_name) or _real(*a, **k))
    return limiter, calls


@pytest.mark.django_db
def test_far_from_the_limit_hits_are_batched_and_all_reach_redis(monkeypatch):
    import uuid

    from config import ratelimit

    limiter, calls = _count_redis_calls(monkeypatch)
    identity, rate = uuid.uuid4().hex, "1000 per minute"
    clock = [100.0]
    monkeypatch.setattr(ratelimit.time, "monotonic", lambda: clock[0])
    assert all(ratelimit.hit(scope="key", identity=identity, rate=rate) is None for _ in range(50))
    assert calls == ["hit", "get_window_stats"]  # the first request asked; 49 were admitted here
    clock[0] += ratelimit.LOCAL_WINDOW
    assert ratelimit.hit(scope="key", identity=identity, rate=rate) is None  # flushes 49 + itself
    assert limiter.get_window_stats(ratelimit._rate(rate), "key", identity).remaining == 1000 - 51


@pytest.mark.django_db
def test_near_the_limit_every_request_is_counted_in_redis_and_the_limit_holds(monkeypatch):
    import uuid

    from config import ratelimit

    _limiter, calls = _count_redis_calls(monkeypatch)
    identity, rate = uuid.uuid4().hex, "100 per minute"
    results = [ratelimit.hit(scope="key", identity=identity, rate=rate) for _ in range(101)]
    assert all(r is None for r in results[:100]) and results[100] is not None and results[100] >= 1
    assert calls.count("hit") < 100  # batched while there was room ...
    assert calls.count("hit") >= 10  # ... and request by request for the last tenth


@pytest.mark.django_db
def test_another_process_sees_the_batched_hits(monkeypatch):
    """What one process admitted locally is in Redis once it next talks to Redis."""
    import uuid

    from config import ratelimit

    identity, rate = uuid.uuid4().hex, "200 per minute"
    clock = [100.0]
    monkeypatch.setattr(ratelimit.time, "monotonic", lambda: clock[0])
    for _ in range(150):
        assert ratelimit.hit(scope="key", identity=identity, rate=rate) is None
    clock[0] += ratelimit.LOCAL_WINDOW
    ratelimit.hit(scope="key", identity=identity, rate=rate)  # this process's next contact
    ratelimit._local.clear()  # "another process": knows nothing locally
    results = [ratelimit.hit(scope="key", identity=identity, rate=rate) for _ in range(60)]
    assert sum(r is None for r in results) == 200 - 151
