"""A body over the size limit sent from the dashboard is answered with a 413 page in the
dashboard's style and language, with the limit in words; the API keeps the JSON error shape.

Two limits meet a dashboard post: Django's own (``DATA_UPLOAD_MAX_MEMORY_SIZE``, for a form's
fields, seen here through Django's test client) and the server's (config/bodylimit.py, before
Django reads a byte, seen through the real ASGI app on loopback: ``live_api``).
"""

from __future__ import annotations

import httpx
import pytest
from django.test import Client

from assistants.models import KnowledgeSource
from tests.conftest import make_tenant
from tests.dashboard.conftest import signed_in

TOO_BIG_FOR_A_FORM = 2 * 1024 * 1024  # over DATA_UPLOAD_MAX_MEMORY_SIZE (1 MiB)


def page_text(response) -> str:
    return response.content.decode() if hasattr(response, "content") else response.text


@pytest.mark.django_db
def test_an_over_size_knowledge_form_gets_the_413_page_and_saves_nothing(tenant):
    owner = signed_in(tenant.user)
    before = KnowledgeSource.objects.for_business(tenant.business).count()
    response = owner.post("/app/knowledge/", {"kind": "text", "title": "Huge", "text": "x" * TOO_BIG_FOR_A_FORM})
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/html")
    html = page_text(response)
    assert "Too large to send" in html and "larger than the limit of 1.0\xa0MB" in html
    assert 'href="/app/knowledge/"' in html  # back to the form
    assert tenant.business.name in html  # the dashboard's own page: the header of the signed-in owner
    assert KnowledgeSource.objects.for_business(tenant.business).count() == before


@pytest.mark.django_db
def test_the_sign_in_and_sign_up_pages_get_the_413_page_in_the_browsers_language():
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    for path, data in (("/app/login/", {"username": "a@example.com", "password": "x" * TOO_BIG_FOR_A_FORM}),
                       ("/app/signup/", {"business_name": "x" * TOO_BIG_FOR_A_FORM, "email": "a@example.com",
                                         "password": "a sturdy passphrase 42"})):
        response = client.post(path, data)
        assert response.status_code == 413, path
        html = page_text(response)
        assert "内容太大" in html and "超过了 1.0\xa0MB 的上限" in html, path


@pytest.mark.django_db
def test_an_api_request_over_the_limit_keeps_the_json_error(tenant):
    response = tenant.client().post(f"/api/v1/assistants/{tenant.assistant.pk}/sources",
                                    {"kind": "text", "title": "Huge", "text": "x" * TOO_BIG_FOR_A_FORM},
                                    format="json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


# --------------------------------------------------------------------------- the server's limit


@pytest.fixture
def small_upload_limit(settings):
    settings.MAX_UPLOAD_BODY_BYTES = 64 * 1024
    settings.MAX_JSON_BODY_BYTES = 16 * 1024
    return settings


def session_cookies(user) -> dict[str, str]:
    client = signed_in(user)
    return {name: morsel.value for name, morsel in client.cookies.items()}


def multipart_file(size: int) -> dict:
    return {"files": {"file": ("menu.txt", b"a" * size, "text/plain")},
            "data": {"kind": "file", "title": "Menu"}}


def test_a_file_over_the_servers_limit_gets_the_413_page_on_the_dashboard_and_json_on_the_api(
        live_api, small_upload_limit):
    tenant = make_tenant("Golden Dragon")
    before = KnowledgeSource.objects.for_business(tenant.business).count()
    with httpx.Client(base_url=live_api.url, timeout=30, cookies=session_cookies(tenant.user)) as http:
        page = http.post("/app/knowledge/", **multipart_file(100 * 1024))
        api = http.post(f"/api/v1/assistants/{tenant.assistant.pk}/sources",
                        headers={"Authorization": f"Bearer {tenant.secret_key}"}, **multipart_file(100 * 1024))
    assert page.status_code == 413 and page.headers["content-type"].startswith("text/html")
    assert "Too large to send" in page.text and "larger than the limit of 64.0\xa0KB" in page.text
    assert "Content-Security-Policy" in page.headers  # the dashboard's headers, as on every page
    assert api.status_code == 413
    assert api.json()["error"] == {"code": "payload_too_large", "message": api.json()["error"]["message"],
                                   "details": {"limit_bytes": 64 * 1024}}
    assert KnowledgeSource.objects.for_business(tenant.business).count() == before


def test_a_chunked_form_over_the_limit_gets_the_413_page(live_api, small_upload_limit):
    """No Content-Length: the body is counted as it arrives, then the page is answered."""
    def chunks():
        for _ in range(8):
            yield b"password=" + b"x" * 4096 + b"&"

    with httpx.Client(base_url=live_api.url, timeout=30) as http:
        response = http.post("/app/login/", content=chunks(),
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413 and "larger than the limit of 16.0\xa0KB" in response.text
