"""Accounts: sign-up, sign-in and its rate limit, languages, invitations."""

from __future__ import annotations

import re
import time

import pytest
from django.core import mail, signing
from django.test import Client

from assistants.models import Assistant
from businesses import accounts
from businesses.models import Business, Invitation, Membership
from tests.dashboard.conftest import PASSWORD, member, signed_in

pytestmark = pytest.mark.django_db


def test_signup_creates_the_business_and_opens_onboarding():
    client = Client()
    response = client.post("/app/signup/", {"business_name": "Lotus Café", "email": "Mei@Example.com",
                                            "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/app/start/"
    business = Business.objects.get(name="Lotus Café")
    assert Membership.objects.get(business=business).role == "owner"
    assert Assistant.objects.for_business(business).count() == 1
    assert client.get("/app/start/").status_code == 200  # signed in


@pytest.mark.parametrize(("password", "expected"), [("short", b"too short"), ("password123456", b"too common")])
def test_signup_with_a_weak_password_says_why(password, expected):
    response = Client().post("/app/signup/", {"business_name": "X", "email": "x@example.com", "password": password})
    assert response.status_code == 400
    assert expected in response.content
    assert not Business.objects.filter(name="X").exists()


def test_signup_with_a_taken_email_says_so(tenant):
    response = Client().post("/app/signup/", {"business_name": "Again", "email": tenant.user.email.upper(),
                                              "password": PASSWORD})
    assert response.status_code == 409 and b"already exists" in response.content


def test_sign_in_and_out(tenant):
    client = Client()
    response = client.post("/app/login/", {"username": tenant.user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/app/inbox/").status_code == 200
    client.post("/app/logout/")
    assert client.get("/app/inbox/").status_code == 302


def test_wrong_password_is_refused(tenant):
    response = Client().post("/app/login/", {"username": tenant.user.email, "password": "not it at all"})
    assert response.status_code == 200 and b"do not match an account" in response.content


def test_sign_in_rate_limit_per_account(tenant, settings):
    settings.RATELIMIT_LOGIN_PER_ACCOUNT = "3 per 15 minutes"
    for n in range(3):
        assert Client(REMOTE_ADDR=f"10.0.0.{n}").post(
            "/app/login/", {"username": tenant.user.email, "password": "guess"}).status_code == 200
    # Even the right password, from yet another address: the account is locked for a while.
    response = Client(REMOTE_ADDR="10.0.0.9").post("/app/login/", {"username": tenant.user.email,
                                                                  "password": PASSWORD})
    assert response.status_code == 429 and b"Too many sign-in attempts" in response.content
    # Another account is not affected.
    other = member(tenant, "staff")
    assert Client(REMOTE_ADDR="10.0.0.9").post("/app/login/", {"username": other.email,
                                                               "password": PASSWORD}).status_code == 302


def test_sign_in_rate_limit_per_ip(tenant, settings):
    settings.RATELIMIT_LOGIN_PER_IP = "3 per 15 minutes"
    client = Client(REMOTE_ADDR="10.1.1.1")
    for n in range(3):
        assert client.post("/app/login/", {"username": f"nobody{n}@example.com", "password": "x"}).status_code == 200
    response = client.post("/app/login/", {"username": tenant.user.email, "password": PASSWORD})
    assert response.status_code == 429
    assert Client(REMOTE_ADDR="10.1.1.2").post("/app/login/", {"username": tenant.user.email,
                                                               "password": PASSWORD}).status_code == 302


def test_language_setting_follows_the_user_to_a_new_browser(tenant):
    client = signed_in(tenant.user)
    assert client.post("/app/account/", {"language": "zh-hans"}).status_code == 302
    fresh = Client()
    response = fresh.post("/app/login/", {"username": tenant.user.email, "password": PASSWORD})
    assert response.cookies["django_language"].value == "zh-hans"
    assert "收件箱".encode() in fresh.get("/app/inbox/").content


def test_the_browser_language_is_used_without_a_setting(tenant):
    client = signed_in(tenant.user)
    assert "收件箱".encode() in client.get("/app/inbox/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").content
    assert b"Inbox" in client.get("/app/inbox/", HTTP_ACCEPT_LANGUAGE="en").content


def test_unknown_language_is_refused(tenant):
    response = signed_in(tenant.user).post("/app/account/", {"language": "xx"})
    assert response.status_code == 400


# --------------------------------------------------------------------------- invitations


def _invite(tenant, email="new.cook@example.com", role="staff") -> str:
    client = signed_in(tenant.user)
    response = client.post("/app/members/", {"email": email, "role": role})
    assert response.status_code == 302, response.content
    link = re.search(r"http://testserver(/app/invitations/[^/\s]+/)", mail.outbox[-1].body).group(1)
    return link


def test_invitation_creates_the_user_with_the_role(tenant):
    link = _invite(tenant, role="admin")
    assert mail.outbox[-1].to == ["new.cook@example.com"]
    client = Client()
    assert b"as Admin" in client.get(link).content
    response = client.post(link, {"password": PASSWORD})
    assert response.status_code == 302
    membership = Membership.objects.get(business=tenant.business, user__email="new.cook@example.com")
    assert membership.role == "admin"
    assert client.get("/app/assistant/").status_code == 200
    assert client.get("/app/billing/").status_code == 403


def test_invitation_attaches_an_existing_signed_in_user(tenant, rival):
    link = _invite(tenant, email=rival.user.email)
    client = signed_in(rival.user)
    assert client.post(link).status_code == 302
    assert Membership.objects.filter(user=rival.user).count() == 2


def test_invitation_works_once(tenant):
    link = _invite(tenant)
    assert Client().post(link, {"password": PASSWORD}).status_code == 302
    again = Client().post(link, {"password": PASSWORD})
    assert again.status_code == 410 and b"used already" in again.content


def test_expired_invitation_is_refused(tenant, monkeypatch):
    invitation = Invitation.objects.unscoped().create(business=tenant.business, email="late@example.com",
                                                      role="staff")
    eight_days_ago = time.time() - 8 * 86400
    monkeypatch.setattr(signing.time, "time", lambda: eight_days_ago)
    token = accounts.invitation_token(invitation)
    monkeypatch.undo()
    response = Client().post(f"/app/invitations/{token}/", {"password": PASSWORD})
    assert response.status_code == 410 and b"expired" in response.content
    assert not Membership.objects.filter(user__email="late@example.com").exists()


def test_invitation_cannot_be_moved_to_another_business(tenant, rival):
    """A link's business is inside its signature: naming another business breaks it, and a
    forged pair (A's invitation, B's id) signed elsewhere is not found."""
    invitation = Invitation.objects.unscoped().create(business=tenant.business, email="spy@example.com", role="owner")
    token = accounts.invitation_token(invitation)
    tampered = token.replace(str(tenant.business.pk), str(rival.business.pk))
    assert Client().get(f"/app/invitations/{tampered}/").status_code == 404
    mismatched = signing.TimestampSigner(salt=accounts.INVITATION_SALT).sign(f"{invitation.pk}:{rival.business.pk}")
    assert Client().post(f"/app/invitations/{mismatched}/", {"password": PASSWORD}).status_code == 404
    assert not Membership.objects.filter(user__email="spy@example.com").exists()


def test_invitation_for_another_email_is_refused_to_a_signed_in_user(tenant, rival):
    link = _invite(tenant, email="someone.else@example.com")
    response = signed_in(rival.user).post(link)
    assert response.status_code == 403
    assert not Membership.objects.filter(user=rival.user, business=tenant.business).exists()


def test_withdrawn_invitation_is_refused(tenant):
    link = _invite(tenant)
    invitation = Invitation.objects.for_business(tenant.business).get()
    assert signed_in(tenant.user).post(f"/app/members/invitations/{invitation.pk}/revoke/").status_code == 302
    assert Client().post(link, {"password": PASSWORD}).status_code == 404


def test_admin_cannot_invite(tenant):
    client = signed_in(member(tenant, "admin"))
    assert client.post("/app/members/", {"email": "x@example.com", "role": "owner"}).status_code == 403
    assert not mail.outbox


def test_the_last_owner_cannot_be_demoted_or_removed(tenant):
    client = signed_in(tenant.user)
    own = Membership.objects.get(user=tenant.user)
    client.post(f"/app/members/{own.pk}/role/", {"role": "staff"})
    client.post(f"/app/members/{own.pk}/remove/")
    own.refresh_from_db()
    assert own.role == "owner"


# --------------------------------------------------------------------------- through a real SMTP server


def test_password_reset_by_email_through_smtp(tenant, smtp_server):
    client = Client()
    response = client.post("/app/password-reset/", {"email": tenant.user.email})
    assert response.status_code == 302 and response["Location"] == "/app/password-reset/sent/"
    (message,) = smtp_server.wait_for(1)
    assert message.envelope_to == [tenant.user.email]
    body = message.get_body(preferencelist=("plain",)).get_content()
    link = re.search(r"http://testserver(/app/password-reset/[^/\s]+/[^/\s]+/)", body).group(1)
    form = client.get(link, follow=True)
    assert b"Choose a new password" in form.content
    done = client.post(form.redirect_chain[-1][0], {"new_password1": "a brand new passphrase 7",
                                                    "new_password2": "a brand new passphrase 7"})
    assert done.status_code == 302 and done["Location"] == "/app/password-reset/done/"
    assert Client().post("/app/login/", {"username": tenant.user.email,
                                         "password": "a brand new passphrase 7"}).status_code == 302
    # The link works once.
    assert b"This link does not work" in Client().get(link, follow=True).content


def test_password_reset_for_an_unknown_email_sends_nothing_and_says_the_same(smtp_server):
    response = Client().post("/app/password-reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert smtp_server.messages == []


def test_invitation_email_through_smtp_in_the_inviters_language(tenant, smtp_server):
    response = signed_in(tenant.user).post("/app/members/", {"email": "cook@example.com", "role": "staff"},
                                           HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert response.status_code == 302
    (message,) = smtp_server.wait_for(1)
    assert message.envelope_to == ["cook@example.com"]
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "/app/invitations/" in body and "员工" in body


def test_make_demo_prints_the_dashboard_and_a_login_that_works(settings, tmp_path):
    import io

    from django.core.management import call_command

    settings.CACHE_DIR = tmp_path
    out = io.StringIO()
    call_command("demo_seed", base_url="http://127.0.0.1:8000", stdout=out)
    call_command("demo_seed", base_url="http://127.0.0.1:8000", stdout=out)  # idempotent: same login
    line = next(line for line in out.getvalue().splitlines() if "dashboard" in line)
    email, password = re.search(r"sign in as (\S+), password '([^']+)'", line).groups()
    assert "http://127.0.0.1:8000/app/" in line
    client = Client()
    assert client.post("/app/login/", {"username": email, "password": password}).status_code == 302
    assert b"Golden Dragon" in client.get("/app/inbox/").content


@pytest.mark.django_db
def test_admin_login_has_the_dashboards_sign_in_limit(settings):
    from django.contrib.auth import get_user_model

    settings.RATELIMIT_LOGIN_PER_ACCOUNT = "3 per 15 minutes"
    get_user_model().objects.create_superuser("root@example.com", "root@example.com", "the right password 42")
    client = Client(REMOTE_ADDR="10.2.2.2")
    for _ in range(3):
        wrong = client.post("/admin/login/", {"username": "root@example.com", "password": "guess"})
        assert wrong.status_code == 200 and b"Too many sign-in attempts" not in wrong.content
    # Over the limit even the right password is refused, and from another address too.
    blocked = Client(REMOTE_ADDR="10.2.2.3").post("/admin/login/", {"username": "root@example.com",
                                                                    "password": "the right password 42"})
    assert blocked.status_code == 200 and b"Too many sign-in attempts" in blocked.content
    assert "_auth_user_id" not in blocked.wsgi_request.session
