from __future__ import annotations

import pytest
from django.db import connection

from businesses.models import ApiKey, Business, Membership

SIGNUP = "/api/v1/signup"


def _signup(anon, **overrides):
    body = {"email": "mei@golden-dragon.example", "password": "a sturdy passphrase 42",
            "business_name": "Golden Dragon", **overrides}
    return anon.post(SIGNUP, body, format="json")


@pytest.mark.django_db
def test_signup_creates_everything_and_returns_keys_once(anon):
    response = _signup(anon)
    assert response.status_code == 201
    body = response.json()
    sk, pk = body["api_keys"]["secret"], body["api_keys"]["publishable"]
    assert sk.startswith("sk_") and pk.startswith("pk_")
    business = Business.objects.get(pk=body["business"]["id"])
    assert business.slug == "golden-dragon"
    assert Membership.objects.get(business=business).role == "owner"
    assert body["assistant"]["name"] == "Golden Dragon assistant"
    assert body["assistant"]["greeting"]

    # The keys work...
    anon.credentials(HTTP_AUTHORIZATION=f"Bearer {sk}")
    assert anon.get("/api/v1/business").json()["id"] == str(business.pk)
    # ...and are never shown again: listing shows only prefixes.
    listed = anon.get("/api/v1/api-keys").json()["results"]
    assert {k["kind"] for k in listed} == {"secret", "publishable"}
    assert all("key" not in k and sk not in str(k) and pk not in str(k) for k in listed)


@pytest.mark.django_db
def test_signup_whose_first_assistant_fails_leaves_no_account(anon, monkeypatch):
    from django.contrib.auth import get_user_model

    from assistants import services
    from config.errors import ApplicationError

    def refuse(**kwargs):
        raise ApplicationError("conflict", "No assistant today.", status=409)

    monkeypatch.setattr(services, "assistant_create_default", refuse)
    assert _signup(anon).status_code == 409
    assert not get_user_model().objects.filter(email="mei@golden-dragon.example").exists()
    assert not Business.objects.filter(slug="golden-dragon").exists()
    assert not ApiKey.objects.unscoped().exists()


@pytest.mark.django_db
def test_stored_key_cannot_be_recovered_from_the_database(anon):
    sk = _signup(anon).json()["api_keys"]["secret"]
    secret_part = sk[12:]
    with connection.cursor() as cursor:
        cursor.execute("SELECT prefix, key_hash, name FROM businesses_apikey")
        rows = cursor.fetchall()
    dump = repr(rows)
    assert secret_part not in dump and sk not in dump
    stored = ApiKey.objects.unscoped().get(prefix=sk[:12])
    # The hash is keyed: a plain SHA-256 of the key does not match it either.
    import hashlib

    assert stored.key_hash != hashlib.sha256(sk.encode()).hexdigest()


@pytest.mark.django_db
def test_signup_validation_errors_use_the_error_shape(anon):
    response = _signup(anon, email="not-an-email", password="short")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert "email" in error["details"]["fields"]


@pytest.mark.django_db
def test_weak_password_refused(anon):
    response = _signup(anon, password="password123")
    assert response.status_code == 400
    assert "password" in response.json()["error"]["details"]["fields"]


@pytest.mark.django_db
def test_duplicate_email_is_a_conflict(anon):
    assert _signup(anon).status_code == 201
    response = _signup(anon, email="MEI@golden-dragon.example", business_name="Other")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "email_taken"


@pytest.mark.django_db
def test_same_business_name_gets_a_unique_slug(anon):
    first = _signup(anon).json()["business"]["slug"]
    second = _signup(anon, email="other@example.com").json()["business"]["slug"]
    assert first == "golden-dragon" and second == "golden-dragon-2"


@pytest.mark.django_db
def test_unknown_timezone_refused(anon):
    response = _signup(anon, timezone="Mars/Olympus")
    assert response.status_code == 400
    assert "timezone" in response.json()["error"]["details"]["fields"]


def test_key_hash_is_hmac_sha256_with_the_configured_secret(settings):
    """The keyed HMAC is made once per secret and copied; it is still HMAC-SHA256 of the key."""
    import hashlib
    import hmac

    from businesses.keys import key_hash

    for secret in ("first secret", "second secret", "first secret"):
        settings.API_KEY_HASH_SECRET = secret
        for raw in ("sk_abcdefghi_0123456789", "pk_ü-not-ascii", ""):
            assert key_hash(raw) == hmac.new(secret.encode(), raw.encode(), hashlib.sha256).hexdigest()
