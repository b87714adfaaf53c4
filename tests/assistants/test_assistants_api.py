from __future__ import annotations

import pytest

from assistants.models import Assistant


@pytest.mark.django_db
def test_create_read_update_delete_assistant(tenant):
    api = tenant.client()
    created = api.post("/api/v1/assistants", {
        "name": "Bookings", "persona": "Handles table bookings.", "language": "zh", "tone": "professional",
        "business_hours": {"mon": [["11:30", "14:30"], ["18:00", "22:00"]], "sat": [["18:00", "01:00"]]},
        "temperature": 0.2, "max_answer_tokens": 300,
    }, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["slug"] == "bookings" and body["language"] == "zh"
    pk = body["id"]
    assert api.get(f"/api/v1/assistants/{pk}").json()["business_hours"]["sat"] == [["18:00", "01:00"]]
    exceptions = [{"date": "2026-12-25", "closed": True, "note": "Christmas"},
                  {"date": "2026-12-31", "hours": [["12:00", "16:00"]], "note": "New Year's Eve"}]
    patched = api.patch(f"/api/v1/assistants/{pk}", {"hours_exceptions": exceptions}, format="json")
    assert patched.status_code == 200, patched.content
    assert api.get(f"/api/v1/assistants/{pk}").json()["hours_exceptions"] == exceptions

    patched = api.patch(f"/api/v1/assistants/{pk}", {"greeting": "欢迎光临!", "temperature": 0.5}, format="json")
    assert patched.status_code == 200
    assert patched.json()["greeting"] == "欢迎光临!"
    assert Assistant.objects.for_business(tenant.business).get(pk=pk).temperature == 0.5

    assert api.delete(f"/api/v1/assistants/{pk}").status_code == 204
    assert api.get(f"/api/v1/assistants/{pk}").status_code == 404


@pytest.mark.django_db
def test_duplicate_names_get_distinct_slugs(tenant):
    api = tenant.client()
    slugs = [api.post("/api/v1/assistants", {"name": "Help"}, format="json").json()["slug"] for _ in range(3)]
    assert slugs == ["help", "help-2", "help-3"]


@pytest.mark.django_db
@pytest.mark.parametrize("body", [
    {"name": 123},
    {"name": ""},
    {"name": "x", "temperature": "hot"},
    {"name": "x", "temperature": 9},
    {"name": "x", "max_answer_tokens": -5},
    {"name": "x", "max_answer_tokens": 10**9},
    {"name": "x", "tone": "sarcastic"},
    {"name": "x", "business_hours": "always open"},
    {"name": "x", "business_hours": {"someday": []}},
    {"name": "x", "business_hours": {"mon": [["25:00", "26:00"]]}},
    {"name": "x", "business_hours": {"mon": [["09:00"]]}},
    {"name": "x", "hours_exceptions": {"date": "2026-12-25"}},
    {"name": "x", "hours_exceptions": [{"date": "25/12/2026", "closed": True}]},
    {"name": "x", "hours_exceptions": [{"date": "2026-02-30", "closed": True}]},
    {"name": "x", "hours_exceptions": [{"date": "2026-12-25"}]},  # neither closed nor hours
    {"name": "x", "hours_exceptions": [{"date": "2026-12-25", "closed": True, "hours": [["10:00", "12:00"]]}]},
    {"name": "x", "hours_exceptions": [{"date": "2026-12-31", "hours": [["10:00"]]}]},
    {"name": "x", "hours_exceptions": [{"date": "2026-12-25", "closed": True}] * 2},
    {"name": "x", "hours_exceptions": [{"date": "2026-12-25", "closed": "yes"}]},
    {"name": "x", "hours_exceptions": [{"date": "2026-12-25", "closed": True, "colour": "red"}]},
    {"name": "x", "unknown_field": True},
    {"name": ["a", "list"]},
    {"name": None},
])
def test_invalid_assistant_bodies_are_400(tenant, body):
    response = tenant.client().post("/api/v1/assistants", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "validation_error"
    assert Assistant.objects.for_business(tenant.business).count() == 1


@pytest.mark.django_db
def test_list_is_cursor_paginated(tenant):
    api = tenant.client()
    for i in range(4):
        api.post("/api/v1/assistants", {"name": f"A{i}"}, format="json")
    first = api.get("/api/v1/assistants?limit=2").json()
    assert len(first["results"]) == 2 and first["next"]
    second = api.get(f"/api/v1/assistants?limit=2&cursor={first['next']}").json()
    third = api.get(f"/api/v1/assistants?limit=2&cursor={second['next']}").json()
    ids = [a["id"] for page in (first, second, third) for a in page["results"]]
    assert len(ids) == len(set(ids)) == 5
    assert third["next"] is None


@pytest.mark.django_db
def test_business_patch(tenant):
    api = tenant.client()
    response = api.patch("/api/v1/business", {"timezone": "Asia/Shanghai", "handoff_phone": "+8613800000000"},
                         format="json")
    assert response.status_code == 200
    assert response.json()["timezone"] == "Asia/Shanghai"
    bad = api.patch("/api/v1/business", {"timezone": "Nowhere/Land", "slug": "hijack"}, format="json")
    assert bad.status_code == 400
    assert api.get("/api/v1/business").json()["slug"] == tenant.business.slug
