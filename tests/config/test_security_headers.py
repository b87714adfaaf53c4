"""Security headers on every page and response (config/security.py, Django's SecurityMiddleware),
the widget working under the Content-Security-Policy in Chromium, and `check --deploy` clean
in the production settings."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from django.test import Client
from playwright.sync_api import expect

from tests.browser import BrowserThread, browser_thread
from tests.conftest import ROOT, make_tenant
from tests.dashboard.conftest import signed_in


def _page_headers_ok(response, *, path: str) -> str:
    assert response["X-Content-Type-Options"] == "nosniff", path
    assert response["Referrer-Policy"] == "same-origin", path
    policy = response["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in policy and "'unsafe-inline'" not in policy.split("script-src")[1].split(
        ";")[0], path
    assert "frame-ancestors 'self'" in policy and "object-src 'none'" in policy, path
    return policy


@pytest.mark.django_db
def test_every_kind_of_html_page_has_the_headers(tenant):
    anon = Client()
    for path in ["/app/login/", "/app/signup/", "/admin/login/", "/api/docs/", "/demo/"]:
        response = anon.get(path)
        assert response.status_code == 200, path
        _page_headers_ok(response, path=path)
    owner = signed_in(tenant.user)
    for path in ["/app/", "/app/assistant/"]:
        response = owner.get(path, follow=True)
        policy = _page_headers_ok(response, path=path)
        assert response["X-Frame-Options"] == "DENY", path
    # Each response has its own nonce, and the page's own inline script carries it.
    nonce = policy.split("'nonce-")[1].split("'")[0]
    assert f'nonce="{nonce}"'.encode() in response.content
    assert owner.get("/app/assistant/")["Content-Security-Policy"] != policy
    preview = owner.get("/app/assistant/preview/")
    assert preview.status_code == 200 and preview["X-Frame-Options"] == "SAMEORIGIN"


@pytest.mark.django_db(transaction=True)
def test_json_and_the_widget_script_are_never_pages(live_api):
    import httpx

    tenant = make_tenant("Header Bistro")
    for url, headers in [("/api/v1/assistants", {"Authorization": f"Bearer {tenant.secret_key}"}),
                         ("/widget.js", {}), ("/nope", {}),
                         ("/api/v1/conversations/00000000-0000-0000-0000-000000000000/messages",
                          {"Authorization": f"Bearer {tenant.secret_key}"})]:  # an async view
        response = httpx.get(live_api.url + url, headers=headers, timeout=10)
        assert response.headers["x-content-type-options"] == "nosniff", url
        assert response.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'", url


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserThread]:
    yield from browser_thread()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_widget_and_the_dashboard_work_under_the_policy(live_api, browser):
    tenant = make_tenant("Policy Bistro")
    client = signed_in(tenant.user)
    session = client.cookies["sessionid"].value
    browser.new_page()

    def visit(page):
        violations: list[str] = []
        page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
        page.goto(f"{live_api.url}/demo/?assistant={tenant.assistant.pk}&key={tenant.publishable_key}")
        page.get_by_role("button", name=f"Chat with {tenant.assistant.name}").click()
        expect(page.get_by_role("dialog")).to_be_visible()
        page.get_by_label("Your message").fill("Are you open today?")
        with page.expect_response(lambda r: r.url.endswith("/messages") and r.request.method == "POST") as sent:
            page.get_by_label("Your message").press("Enter")
        assert sent.value.status == 201 or sent.value.status == 200
        page.context.add_cookies([{"name": "sessionid", "value": session, "url": live_api.url}])
        page.goto(f"{live_api.url}/app/assistant/")
        # The preview frame (same origin) loads the widget; the copy button works with no inline handler.
        expect(page.frame_locator("#widget-preview").get_by_role("button")).to_be_visible()
        return violations

    assert browser.run(visit) == []


@pytest.mark.slow
def test_check_deploy_is_clean_in_the_production_settings():
    env = {"DJANGO_SETTINGS_MODULE": "config.settings.production", "SECRET_KEY": "p" * 20 + "-production-" + "q" * 30,
           "DATABASE_URL": "postgres://frontdesk@127.0.0.1:5/frontdesk", "REDIS_URL": "redis://127.0.0.1:6379/14",
           "ALLOWED_HOSTS": "frontdesk.example", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
