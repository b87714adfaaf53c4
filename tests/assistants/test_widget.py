"""The web widget's server side: its script, its config endpoint, CORS per assistant, the
customer-initiated handoff and the /demo/ page. The browser itself: test_widget_browser.py."""

from __future__ import annotations

import io
import json
import re

import httpx
from django.core.management import call_command
from django.test import Client

from assistants.channels.widget import WIDGET_JS, WIDGET_TEXTS, demo_widget_save
from assistants.models import Assistant, Conversation, Message
from businesses.authentication import key_cache
from businesses.models import ApiKey, Business
from tests.assistants import kb
from tests.assistants.conftest import add_source
from tests.conftest import make_tenant

SITE = "https://golden-dragon.example"
ELSEWHERE = "https://evil.example"
WIDGET_HEADERS = {"Authorization", "Content-Type", "X-Customer-Token", "Idempotency-Key", "Accept"}


def _allow(tenant, origins: list[str]) -> None:
    response = tenant.client().patch(f"/api/v1/assistants/{tenant.assistant.pk}", {"allowed_origins": origins},
                                     format="json")
    assert response.status_code == 200, response.content


def _preflight(client: Client, path: str, origin: str, method: str = "POST"):
    return client.options(path, HTTP_ORIGIN=origin, HTTP_ACCESS_CONTROL_REQUEST_METHOD=method,
                          HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization,content-type,x-customer-token")


def _start_pk(tenant, client: Client | None = None, **headers) -> dict:
    client = client or Client()
    response = client.post(f"/api/v1/assistants/{tenant.assistant.pk}/conversations", {},
                           content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {tenant.publishable_key}",
                           **headers)
    assert response.status_code == 201, response.content
    return response.json()


# --------------------------------------------------------------------------- widget.js


def test_widget_script_is_small_and_cached_with_an_etag(db):
    client = Client()
    response = client.get("/widget.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Cache-Control"] == "public, max-age=300"
    etag = response["ETag"]
    assert etag.startswith('"') and len(etag) > 10
    assert response.content == WIDGET_JS.read_bytes()
    assert len(response.content) < 30 * 1024, "the widget must stay under 30 KB unminified"
    # The browser revalidates with the ETag and gets an empty 304.
    again = client.get("/widget.js", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again.content == b""
    assert client.get("/widget.js", HTTP_IF_NONE_MATCH='"stale"').status_code == 200


# --------------------------------------------------------------------------- config endpoint


def test_widget_config_with_the_publishable_key(tenant):
    Assistant.objects.for_business(tenant.business).filter(pk=tenant.assistant.pk).update(
        name="Mei", greeting="Hi, I'm Mei!", language="en", handoff_message="Li Wei will reply.")
    response = tenant.client(tenant.publishable_key).get(f"/api/v1/assistants/{tenant.assistant.pk}/widget")
    assert response.status_code == 200
    body = response.json()
    texts = body.pop("texts")
    assert body == {"id": str(tenant.assistant.pk), "name": "Mei", "greeting": "Hi, I'm Mei!",
                    "language": "en", "handoff_message": "Li Wei will reply.", "business_name": "Golden Dragon",
                    "color": "#1d4ed8", "position": "right", "launcher_text": ""}
    assert texts == WIDGET_TEXTS
    assert texts["open"] == "Chat with %(name)s" and texts["send"] == "Send" and texts["team"] == "%(name)s team"
    assert response["Cache-Control"] == "private, max-age=60"
    # Nothing an owner keeps to themselves (instructions, persona, model) is in it.
    assert "instructions" not in body and "persona" not in body and "allowed_origins" not in body


def test_widget_scripts_english_texts_are_the_ones_the_server_translates():
    """widget.js falls back to its own English texts for a key the config lacks: the same ones."""
    script = WIDGET_JS.read_text()
    defaults = re.search(r"var TEXTS = (\{.*?\n  \});", script, re.DOTALL)
    assert defaults is not None, "widget.js lost its `var TEXTS = {...};` object"
    assert json.loads(defaults.group(1)) == WIDGET_TEXTS
    rest = script.replace(defaults.group(0), "")
    for key in WIDGET_TEXTS:
        assert f'"{key}"' in rest, f"widget.js never shows the text {key!r}"


PLACEHOLDER = re.compile(r"%\(\w+\)s")


def test_chinese_assistant_gets_the_widget_in_simplified_chinese(tenant):
    api = tenant.client()
    path = f"/api/v1/assistants/{tenant.assistant.pk}"
    for language in ("zh", "zh-CN", "zh-Hans", "zh_TW"):
        assert api.patch(path, {"language": language}, format="json").status_code == 200
        body = tenant.client(tenant.publishable_key).get(f"{path}/widget").json()
        assert body["language"] == language
        texts = body["texts"]
        assert texts["open"] == "与%(name)s聊天", language
        assert texts["close"] == "关闭聊天" and texts["talk_to_person"] == "联系人工客服"
        assert texts["your_message"] == "您的消息" and texts["send"] == "发送" and texts["try_again"] == "重试"
        assert texts["team"] == "%(name)s团队" and texts["source"] == "来源"
        assert texts["person_will_reply"] == "工作人员会在这里回复您" and texts["conversation"] == "对话"
        assert set(texts) == set(WIDGET_TEXTS)
        for key, english in WIDGET_TEXTS.items():
            # Every text is translated, and keeps the placeholders widget.js fills in.
            assert texts[key] != english and re.search(r"[\u4e00-\u9fff]", texts[key]), key
            assert PLACEHOLDER.findall(texts[key]) == PLACEHOLDER.findall(english), key
    for language in ("en", "fr", "en-GB", "zhx"):
        assert api.patch(path, {"language": language}, format="json").status_code == 200, language
        texts = tenant.client(tenant.publishable_key).get(f"{path}/widget").json()["texts"]
        assert texts == WIDGET_TEXTS, language


def test_widget_appearance_is_saved_and_reaches_the_widget(tenant):
    api = tenant.client()
    path = f"/api/v1/assistants/{tenant.assistant.pk}"
    assert {k: v for k, v in api.get(path).json().items() if k.startswith("widget_")} == {
        "widget_color": "#1d4ed8", "widget_position": "right", "widget_launcher_text": ""}
    response = api.patch(path, {"widget_color": "#9F1D20", "widget_position": "left",
                                "widget_launcher_text": "Ask Mei about the menu"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["widget_color"] == "#9f1d20"
    config = tenant.client(tenant.publishable_key).get(f"{path}/widget").json()
    assert (config["color"], config["position"], config["launcher_text"]) == ("#9f1d20", "left",
                                                                              "Ask Mei about the menu")
    # An empty launcher text is the round bubble again.
    assert api.patch(path, {"widget_launcher_text": ""}, format="json").status_code == 200
    assert tenant.client(tenant.publishable_key).get(f"{path}/widget").json()["launcher_text"] == ""


def test_bad_widget_appearance_is_a_validation_error(tenant):
    api = tenant.client()
    path = f"/api/v1/assistants/{tenant.assistant.pk}"
    for field, bad in (("widget_color", "red"), ("widget_color", "#12345"), ("widget_color", "#1d4ed8ff"),
                       ("widget_color", "1d4ed8"), ("widget_color", "#1d4eg8"), ("widget_color", "#fff"),
                       ("widget_color", 0x1D4ED8), ("widget_color", None), ("widget_position", "top"),
                       ("widget_position", "LEFT"), ("widget_position", ""), ("widget_launcher_text", "x" * 41),
                       ("widget_launcher_text", 42)):
        response = api.patch(path, {field: bad}, format="json")
        assert response.status_code == 400, (field, bad)
        error = response.json()["error"]
        assert error["code"] == "validation_error" and error["message"]
        assert list(error["details"]["fields"]) == [field], (field, bad)
    assert "red" in api.patch(path, {"widget_color": "red"}, format="json").json()["error"]["details"]["fields"][
        "widget_color"][0]
    saved = Assistant.objects.for_business(tenant.business).get(pk=tenant.assistant.pk)
    assert (saved.widget_color, saved.widget_position, saved.widget_launcher_text) == ("#1d4ed8", "right", "")


def test_other_business_cannot_change_my_widget_appearance(tenant, other_tenant):
    response = other_tenant.client().patch(f"/api/v1/assistants/{tenant.assistant.pk}",
                                           {"widget_color": "#000000", "widget_position": "left"}, format="json")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    saved = Assistant.objects.for_business(tenant.business).get(pk=tenant.assistant.pk)
    assert (saved.widget_color, saved.widget_position) == ("#1d4ed8", "right")


def test_widget_config_needs_a_key_and_stays_in_its_tenant(tenant, other_tenant, anon):
    path = f"/api/v1/assistants/{tenant.assistant.pk}/widget"
    assert anon.get(path).status_code == 401
    for key in (other_tenant.publishable_key, other_tenant.secret_key):
        response = other_tenant.client(key).get(path)
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


# --------------------------------------------------------------------------- allowed_origins


def test_allowed_origins_are_validated_and_normalised(tenant):
    api = tenant.client()
    path = f"/api/v1/assistants/{tenant.assistant.pk}"
    assert api.get(path).json()["allowed_origins"] == []
    response = api.patch(path, {"allowed_origins": ["https://Golden-Dragon.example/", "https://golden-dragon.example:443",
                                                    "http://localhost:8000"]}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["allowed_origins"] == ["https://golden-dragon.example", "http://localhost:8000"]
    for bad in (["golden-dragon.example"], ["https://golden-dragon.example/menu"], ["ftp://golden-dragon.example"],
                ["*"], ["https://*.example.com"], [42], "https://golden-dragon.example",
                [f"https://site{i}.example" for i in range(51)]):
        response = api.patch(path, {"allowed_origins": bad}, format="json")
        assert response.status_code == 400, bad
        assert "allowed_origins" in response.json()["error"]["details"]["fields"]
    assert Assistant.objects.for_business(tenant.business).get(pk=tenant.assistant.pk).allowed_origins == [
        "https://golden-dragon.example", "http://localhost:8000"]


def test_other_business_cannot_change_my_allowed_origins(tenant, other_tenant):
    response = other_tenant.client().patch(f"/api/v1/assistants/{tenant.assistant.pk}",
                                           {"allowed_origins": [ELSEWHERE]}, format="json")
    assert response.status_code == 404
    assert Assistant.objects.for_business(tenant.business).get(pk=tenant.assistant.pk).allowed_origins == []


# --------------------------------------------------------------------------- CORS


def test_empty_allowed_origins_lets_any_site_embed_the_widget(tenant):
    client = Client()
    path = f"/api/v1/assistants/{tenant.assistant.pk}/conversations"
    response = _preflight(client, path, ELSEWHERE)
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == ELSEWHERE
    assert {h.strip() for h in response["Access-Control-Allow-Headers"].split(",")} == WIDGET_HEADERS
    assert set(response["Access-Control-Allow-Methods"].replace(" ", "").split(",")) >= {"GET", "POST"}
    assert "Origin" in response["Vary"] and int(response["Access-Control-Max-Age"]) > 0
    assert "Access-Control-Allow-Credentials" not in response
    response = client.post(path, {}, content_type="application/json", HTTP_ORIGIN=ELSEWHERE,
                           HTTP_AUTHORIZATION=f"Bearer {tenant.publishable_key}")
    assert response.status_code == 201
    assert response["Access-Control-Allow-Origin"] == ELSEWHERE and "Origin" in response["Vary"]


def test_listed_origin_is_allowed_on_every_widget_endpoint(tenant):
    _allow(tenant, [SITE, "http://localhost:3000"])
    client = Client()
    conversation = _start_pk(tenant, client, HTTP_ORIGIN=SITE)
    cid = conversation["id"]
    base = f"/api/v1/assistants/{tenant.assistant.pk}"
    paths = [f"{base}/widget", f"{base}/conversations", f"/api/v1/conversations/{cid}/messages",
             f"/api/v1/conversations/{cid}/handoff"]
    for path in paths:
        response = _preflight(client, path, SITE)
        assert response.status_code == 204, path
        assert response["Access-Control-Allow-Origin"] == SITE
    auth = {"HTTP_AUTHORIZATION": f"Bearer {tenant.publishable_key}", "HTTP_ORIGIN": SITE}
    config = client.get(paths[0], **auth)
    assert config.status_code == 200 and config["Access-Control-Allow-Origin"] == SITE
    # Errors are readable by the page too (a wrong token is a 404 the widget must see).
    missing = client.get(paths[2], **auth, HTTP_X_CUSTOMER_TOKEN="ct_wrong")
    assert missing.status_code == 404 and missing["Access-Control-Allow-Origin"] == SITE
    assert "Retry-After" in missing["Access-Control-Expose-Headers"]


def test_unlisted_origin_gets_no_cors_and_is_refused(tenant):
    _allow(tenant, [SITE])
    client = Client()
    cid = _start_pk(tenant)["id"]  # no Origin: a server-side caller is not affected
    auth = {"HTTP_AUTHORIZATION": f"Bearer {tenant.publishable_key}", "HTTP_ORIGIN": ELSEWHERE}
    for path in (f"/api/v1/assistants/{tenant.assistant.pk}/widget",
                 f"/api/v1/assistants/{tenant.assistant.pk}/conversations",
                 f"/api/v1/conversations/{cid}/messages", f"/api/v1/conversations/{cid}/handoff"):
        response = _preflight(client, path, ELSEWHERE)
        assert response.status_code == 403, path
        assert "Access-Control-Allow-Origin" not in response
        assert response.json()["error"]["code"] == "origin_not_allowed"
    refused = client.post(f"/api/v1/assistants/{tenant.assistant.pk}/conversations", {},
                          content_type="application/json", **auth)
    assert refused.status_code == 403 and "Access-Control-Allow-Origin" not in refused
    assert Conversation.objects.for_business(tenant.business).count() == 1
    handoff = client.post(f"/api/v1/conversations/{cid}/handoff", **auth)
    assert handoff.status_code == 403
    assert Conversation.objects.for_business(tenant.business).get(pk=cid).state == "bot"


def test_same_origin_and_non_widget_paths_are_left_alone(tenant):
    _allow(tenant, [SITE])
    client = Client()
    # The /demo/ page on the API's own host (Origin = the host) is not a cross-origin call.
    same = client.get(f"/api/v1/assistants/{tenant.assistant.pk}/widget", HTTP_ORIGIN="http://testserver",
                      HTTP_AUTHORIZATION=f"Bearer {tenant.publishable_key}")
    assert same.status_code == 200 and "Access-Control-Allow-Origin" not in same
    # The rest of the API (secret-key endpoints) never answers browsers on other sites.
    for origin in (SITE, ELSEWHERE):
        response = _preflight(client, "/api/v1/assistants", origin, method="GET")
        assert "Access-Control-Allow-Origin" not in response
        listed = client.get("/api/v1/assistants", HTTP_ORIGIN=origin, HTTP_AUTHORIZATION=f"Bearer {tenant.secret_key}")
        assert listed.status_code == 200 and "Access-Control-Allow-Origin" not in listed


def test_preflight_for_an_unknown_conversation_does_not_reveal_anything(tenant):
    _allow(tenant, [SITE])
    client = Client()
    unknown = "00000000-0000-4000-8000-000000000000"
    for origin in (SITE, ELSEWHERE):
        assert _preflight(client, f"/api/v1/conversations/{unknown}/messages", origin).status_code == 204


def test_cors_on_the_async_streaming_endpoint(live_api):
    """The messages endpoint is an async view: the middleware's async path, with SSE."""
    tenant = make_tenant("Golden Dragon")
    add_source(tenant, kind="faq", title="FAQ", pairs=kb.RESTAURANT_FAQ)
    _allow(tenant, [SITE])
    start = httpx.post(f"{live_api.url}/api/v1/assistants/{tenant.assistant.pk}/conversations", json={},
                       headers={"Authorization": f"Bearer {tenant.publishable_key}", "Origin": SITE})
    assert start.status_code == 201 and start.headers["access-control-allow-origin"] == SITE
    cid, token = start.json()["id"], start.json()["customer_token"]
    url = f"{live_api.url}/api/v1/conversations/{cid}/messages"
    preflight = httpx.options(url, headers={"Origin": SITE, "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 204 and preflight.headers["access-control-allow-origin"] == SITE
    headers = {"Authorization": f"Bearer {tenant.publishable_key}", "X-Customer-Token": token,
               "Accept": "text/event-stream", "Origin": SITE}
    with httpx.stream("POST", url, json={"content": "Can I bring my dog?"}, headers=headers, timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["access-control-allow-origin"] == SITE
        body = "".join(response.iter_text())
    assert "event: done" in body and "terrace" in body
    denied = httpx.options(url, headers={"Origin": ELSEWHERE, "Access-Control-Request-Method": "POST"})
    assert denied.status_code == 403 and "access-control-allow-origin" not in denied.headers
    refused = httpx.post(url, json={"content": "hello?"}, headers={**headers, "Origin": ELSEWHERE})
    assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers
    assert Message.objects.for_business(tenant.business).filter(role="customer").count() == 1


# --------------------------------------------------------------------------- customer handoff


def test_customer_can_ask_for_a_person_on_their_own_conversation(tenant, other_tenant):
    client = Client()
    mine = _start_pk(tenant, client)
    theirs = _start_pk(tenant, client)
    path = f"/api/v1/conversations/{mine['id']}/handoff"
    pk = {"HTTP_AUTHORIZATION": f"Bearer {tenant.publishable_key}"}
    # No token, someone else's token, another business's key: nothing happens.
    assert client.post(path, **pk).status_code == 403
    assert client.post(path, **pk, HTTP_X_CUSTOMER_TOKEN=theirs["customer_token"]).status_code == 404
    other = {"HTTP_AUTHORIZATION": f"Bearer {other_tenant.publishable_key}"}
    assert client.post(path, **other, HTTP_X_CUSTOMER_TOKEN=mine["customer_token"]).status_code == 404
    assert Conversation.objects.for_business(tenant.business).get(pk=mine["id"]).state == "bot"

    response = client.post(path, **pk, HTTP_X_CUSTOMER_TOKEN=mine["customer_token"])
    assert response.status_code == 200 and response.json()["state"] == "handoff"
    assert client.post(path, **pk, HTTP_X_CUSTOMER_TOKEN=mine["customer_token"]).status_code == 200  # idempotent
    inbox = tenant.client().get("/api/v1/conversations?state=handoff").json()["results"]
    assert [c["id"] for c in inbox] == [mine["id"]]
    # Giving it back or closing stays with the business.
    for action in ("release", "close"):
        assert client.post(f"/api/v1/conversations/{mine['id']}/{action}", **pk,
                           HTTP_X_CUSTOMER_TOKEN=mine["customer_token"]).status_code == 403
    assert Conversation.objects.for_business(tenant.business).get(pk=mine["id"]).state == "handoff"


def test_customer_cannot_reopen_a_closed_conversation_by_asking_for_a_person(tenant):
    client = Client()
    mine = _start_pk(tenant, client)
    assert tenant.client().post(f"/api/v1/conversations/{mine['id']}/close").status_code == 200
    response = client.post(f"/api/v1/conversations/{mine['id']}/handoff",
                           HTTP_AUTHORIZATION=f"Bearer {tenant.publishable_key}",
                           HTTP_X_CUSTOMER_TOKEN=mine["customer_token"])
    assert response.status_code == 409 and response.json()["error"]["code"] == "conversation_closed"


# --------------------------------------------------------------------------- /demo/


def test_demo_page_uses_the_key_demo_seed_stored(db, settings, tmp_path):
    settings.CACHE_DIR = tmp_path
    client = Client()
    page = client.get("/demo/")
    assert page.status_code == 200 and b"<script src=\"/widget.js\"" not in page.content
    assert b"make demo" in page.content
    # What `make demo` does: demo_seed rotates the keys and stores the publishable one for the page.
    # (In this rolled-back test transaction the knowledge's ingestion is never queued: not the subject here.)
    call_command("demo_seed", base_url="http://testserver", stdout=io.StringIO())
    stored = json.loads((tmp_path / "demo-widget.json").read_text())
    demo = Business.objects.get(slug="golden-dragon-demo")
    assert Assistant.objects.for_business(demo).filter(pk=stored["assistant_id"]).exists()
    page = client.get("/demo/").content.decode()
    assert 'src="/widget.js"' in page and f'data-key="{stored["publishable_key"]}"' in page
    assert f'data-assistant="{stored["assistant_id"]}"' in page and "Golden Dragon" in page
    config = client.get(f"/api/v1/assistants/{stored['assistant_id']}/widget",
                        HTTP_AUTHORIZATION=f"Bearer {stored['publishable_key']}")
    assert config.status_code == 200 and config.json()["name"] == "Mei"
    # A revoked key (another seed run elsewhere) is not put on the page.
    ApiKey.objects.for_business(demo).update(revoked_at="2020-01-01T00:00:00Z")
    key_cache.clear()
    assert 'src="/widget.js"' not in client.get("/demo/").content.decode()


def test_demo_page_refuses_another_businesss_key_from_the_file(tenant, settings, tmp_path):
    settings.CACHE_DIR = tmp_path
    demo_widget_save(assistant=tenant.assistant, publishable_key=tenant.publishable_key)  # not the demo business
    assert b"/widget.js" not in Client().get("/demo/").content


def test_demo_page_takes_any_assistant_from_the_query(tenant):
    page = Client().get(f"/demo/?assistant={tenant.assistant.pk}&key={tenant.publishable_key}").content.decode()
    assert f'data-key="{tenant.publishable_key}"' in page
    hostile = Client().get('/demo/?assistant=x&key=pk_"><script>alert(1)</script>').content.decode()
    assert "alert(1)" not in hostile and "/widget.js" not in hostile

