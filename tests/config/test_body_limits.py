"""Over-size bodies through the production server (gunicorn + uvicorn worker, as `make demo`
runs it): a plain client that sends the whole body reads a 413 in the error shape."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from tests.conftest import gunicorn_server, make_tenant

THIRTY_MB = 30 * 1024 * 1024


@pytest.fixture
def production_server(transactional_db):
    with gunicorn_server() as base:
        yield base


def urllib_post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    """Python's urllib sends the whole body before it reads anything (no Expect: 100-continue)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.slow
def test_thirty_megabytes_get_a_readable_413_on_every_kind_of_endpoint(production_server):
    tenant = make_tenant("Big Body Bistro")
    auth = {"Authorization": f"Bearer {tenant.secret_key}"}
    big_json = json.dumps({"name": "x" * THIRTY_MB}).encode()
    boundary = "frontdeskboundary"
    big_multipart = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"menu.txt\"\r\n"
                     f"Content-Type: text/plain\r\n\r\n").encode()
    big_multipart += b"a" * THIRTY_MB + f"\r\n--{boundary}--\r\n".encode()
    cases = [
        ("/api/v1/signup", big_json, {"Content-Type": "application/json"}),
        ("/api/v1/api-keys", big_json, {**auth, "Content-Type": "application/json"}),
        (f"/api/v1/assistants/{tenant.assistant.pk}/sources", big_multipart,
         {**auth, "Content-Type": f"multipart/form-data; boundary={boundary}"}),
        ("/api/v1/conversations/00000000-0000-0000-0000-000000000000/messages", big_json,
         {**auth, "Content-Type": "application/json"}),
        ("/v1/chat/completions", big_json, {**auth, "Content-Type": "application/json"}),
    ]
    for path, body, headers in cases:
        status, answer = urllib_post(production_server + path, body, headers)
        assert status == 413, (path, answer)
        assert answer["error"]["code"] == "payload_too_large", path
        assert answer["error"]["details"]["limit_bytes"] > 0, path


@pytest.mark.slow
def test_thirty_megabytes_to_a_dashboard_page_get_the_413_page(production_server):
    """The dashboard is a browser: the same refusal, as a page (tests/dashboard/test_too_large.py)."""
    body = b"username=a%40example.com&password=" + b"x" * THIRTY_MB
    request = urllib.request.Request(production_server + "/app/login/", data=body, method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=60)
    assert refused.value.code == 413
    assert refused.value.headers["Content-Type"].startswith("text/html")
    page = refused.value.read().decode()
    assert "Too large to send" in page and "larger than the limit of 1.0\xa0MB" in page
