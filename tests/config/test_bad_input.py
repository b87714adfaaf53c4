"""Bad bodies get a 4xx in the error shape, never a 500."""

from __future__ import annotations

import json

import pytest


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/assistants", "/api/v1/api-keys"])
def test_malformed_json_is_400(tenant, path):
    response = tenant.client().post(path, data='{"name": "x",', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/assistants", "/api/v1/signup"])
def test_ten_megabyte_body_is_413(tenant, path):
    body = json.dumps({"name": "x" * (10 * 1024 * 1024)})
    response = tenant.client().post(path, data=body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


@pytest.mark.django_db
def test_empty_body_is_400(tenant):
    response = tenant.client().post("/api/v1/assistants", data="", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] in {"validation_error", "malformed_request"}


@pytest.mark.django_db
@pytest.mark.parametrize("payload", ["[]", '"text"', "42", "null"])
def test_non_object_json_is_400(tenant, payload):
    response = tenant.client().post("/api/v1/assistants", data=payload, content_type="application/json")
    assert response.status_code == 400
    assert "error" in response.json()


@pytest.mark.django_db
def test_wrong_content_type_is_415(tenant):
    response = tenant.client().post("/api/v1/assistants", data="name=x", content_type="text/plain")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


@pytest.mark.django_db
def test_unknown_path_and_bad_uuid_are_json_404(tenant):
    api = tenant.client()
    for path in ["/api/v1/nope", "/api/v1/assistants/not-a-uuid"]:
        response = api.get(path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
def test_invalid_cursor_is_a_clean_error(tenant):
    response = tenant.client().get("/api/v1/assistants?cursor=%%%garbage")
    assert 400 <= response.status_code < 500
    assert "error" in response.json()


DEEP = '{"name": ' + "[" * 1000 + "]" * 1000 + "}"  # 2 KB, a thousand levels


@pytest.mark.django_db(transaction=True)  # the async views read the database from other threads
def test_json_nested_a_thousand_levels_is_400_on_every_parser(tenant):
    api = tenant.client()
    conversation = api.post(f"/api/v1/assistants/{tenant.assistant.pk}/conversations", {}, format="json").json()
    for method, path in [("patch", f"/api/v1/assistants/{tenant.assistant.pk}"),
                         ("post", f"/api/v1/assistants/{tenant.assistant.pk}/sources"),
                         ("post", f"/api/v1/conversations/{conversation['id']}/messages"),
                         ("post", "/v1/chat/completions")]:
        response = getattr(api, method)(path, data=DEEP, content_type="application/json")
        assert response.status_code == 400, (path, response.content)
        assert response.json()["error"]["code"] == "malformed_request", path
        assert "nested more than 32 levels" in response.json()["error"]["message"], path


@pytest.mark.django_db
def test_json_nested_past_the_limit_but_parseable_is_400(tenant):
    body = '{"name": ' + "[" * 40 + "]" * 40 + "}"
    response = tenant.client().patch(f"/api/v1/assistants/{tenant.assistant.pk}", data=body,
                                     content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["state=", "grounding=", "state=nope"])
def test_an_empty_or_unknown_inbox_filter_is_400(tenant, query):
    response = tenant.client().get(f"/api/v1/conversations?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


@pytest.mark.django_db
def test_a_900_kilobyte_persona_is_refused_with_its_limit(tenant):
    api = tenant.client()
    response = api.patch(f"/api/v1/assistants/{tenant.assistant.pk}", {"persona": "x" * 900_000}, format="json")
    assert response.status_code == 400
    assert "persona" in response.json()["error"]["details"]["fields"]
    assert api.patch(f"/api/v1/assistants/{tenant.assistant.pk}", {"persona": "x" * 2000},
                     format="json").status_code == 200
