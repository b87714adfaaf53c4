"""The client's address comes from one place (businesses/api/ratelimit.py client_ip) and trusts
only the configured proxies: through the production server, a local caller's X-Forwarded-For
does not move it."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import gunicorn_server


@pytest.mark.slow
def test_forwarded_for_from_a_local_caller_does_not_move_the_signup_limit(transactional_db):
    with gunicorn_server(RATELIMIT_SIGNUP_PER_IP="2 per hour", TRUSTED_PROXY_COUNT="0") as base:
        statuses = []
        for n in range(3):
            response = httpx.post(f"{base}/api/v1/signup", timeout=30,
                                  headers={"X-Forwarded-For": f"203.0.113.{n + 1}"},
                                  json={"email": f"spoof{n}@example.com", "password": "a sturdy passphrase 42",
                                        "business_name": f"Spoof {n}"})
            statuses.append(response.status_code)
        assert statuses == [201, 201, 429], statuses
        assert response.json()["error"]["code"] == "rate_limited"


@pytest.mark.slow
def test_one_trusted_proxy_gives_the_address_it_saw(transactional_db):
    with gunicorn_server(RATELIMIT_SIGNUP_PER_IP="1 per hour", TRUSTED_PROXY_COUNT="1") as base:
        def signup(n: int, forwarded: str) -> int:
            return httpx.post(f"{base}/api/v1/signup", timeout=30, headers={"X-Forwarded-For": forwarded},
                              json={"email": f"proxied{n}@example.com", "password": "a sturdy passphrase 42",
                                    "business_name": f"Proxied {n}"}).status_code

        # The proxy appends the address it saw; what the client wrote before it is not believed.
        assert signup(1, "198.51.100.1, 203.0.113.9") == 201
        assert signup(2, "198.51.100.2, 203.0.113.9") == 429
        assert signup(3, "203.0.113.10") == 201
