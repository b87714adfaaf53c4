"""The typed catalog: menu files become items as part of ingestion, and the items API
(``/api/v1/assistants/{id}/catalog/items``, ``/api/v1/catalog/items/{id}``)."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import openpyxl
import pytest

from assistants.models import CatalogItem, Chunk, KnowledgeSource
from tests.assistants.conftest import add_source, search, upload

pytestmark = pytest.mark.django_db

MENU = """菜名,价格,过敏原,素食,中文名,规格
Dan dan noodles,€11.50,"wheat, peanuts, soy",否,担担面,small +0; large +2.50
Mapo tofu,12.50,soy; sesame,no,麻婆豆腐,
Steamed rice,3,,是,米饭,
Mystery stew,twelve,none,no,,
,9.00,,,,
"""


def _items(tenant) -> list[CatalogItem]:
    return list(CatalogItem.objects.for_business(tenant.business).order_by("ordinal"))


def test_a_menu_file_becomes_typed_items_and_bad_rows_are_named(tenant):
    source = add_source(tenant, kind="file", title="Menu", file=upload("menu.csv", MENU.encode(), "text/csv"))
    assert source["status"] == "ready" and source["items_count"] == 3 and source["chunk_count"] == 3
    assert any("Row 5 (Mystery stew)" in w and "twelve" in w for w in source["warnings"]), source["warnings"]
    assert any(w.startswith("Row 6: no name") for w in source["warnings"])
    noodles, tofu, rice = _items(tenant)
    assert (noodles.name, noodles.price, noodles.currency) == ("Dan dan noodles", Decimal("11.50"), "EUR")
    assert noodles.allergens == ["gluten", "peanuts", "soybeans"] and noodles.dietary == {"vegetarian": False}
    assert noodles.options == [{"name": "small", "price_delta": "0.00"}, {"name": "large", "price_delta": "2.50"}]
    assert noodles.extra == {"中文名": "担担面"}
    assert rice.allergens is None and rice.dietary == {"vegetarian": True}  # a blank cell: not stated
    assert tofu.allergens == ["soybeans", "sesame"]
    # Each item is one passage, a sentence, and free questions find it.
    hit = search(tenant.client(), tenant.assistant.pk, "spicy noodles with peanuts", k=1)[0]
    assert hit["text"].startswith("Dan dan noodles costs 11.50 EUR.")
    assert Chunk.objects.for_business(tenant.business).get(pk=hit["chunk_id"]).catalog_item_id == noodles.pk


def test_a_resync_replaces_the_items_atomically_and_a_failed_one_keeps_them(tenant):
    source = add_source(tenant, kind="file", title="Menu", file=upload("menu.csv", MENU.encode(), "text/csv"))
    api = tenant.client()
    new_menu = "name,price\nKung Pao chicken,14.00\n"
    response = api.post(f"/api/v1/sources/{source['id']}/resync",
                        {"file": upload("menu.csv", new_menu.encode(), "text/csv")}, format="multipart")
    assert response.status_code == 202
    from assistants.ingestion import pipeline

    pipeline.source_ingest(business_id=tenant.business.pk, source_id=source["id"])
    assert [i.name for i in _items(tenant)] == ["Kung Pao chicken"]
    assert api.get(f"/api/v1/sources/{source['id']}").json()["items_count"] == 1
    # A file whose rows are all unreadable fails, and the items before it keep serving.
    api.post(f"/api/v1/sources/{source['id']}/resync",
             {"file": upload("menu.csv", b"name,price\nDuck,cheap\n", "text/csv")}, format="multipart")
    pipeline.source_ingest(business_id=tenant.business.pk, source_id=source["id"])
    failed = api.get(f"/api/v1/sources/{source['id']}").json()
    assert failed["status"] == "failed" and failed["error_code"] == "no_items" and "cheap" in failed["error"]
    assert [i.name for i in _items(tenant)] == ["Kung Pao chicken"]


def test_xlsx_and_json_menus(tenant):
    workbook = openpyxl.Workbook()
    notes = workbook.active
    notes.title = "Notes"
    notes.append(["Prices include VAT"])
    menu = workbook.create_sheet("Menu")
    menu.append(["Dish", "Price (EUR)", "Allergens", "Vegan"])
    menu.append(["Smashed cucumber", 6.5, "sesame", "yes"])
    menu.append(["Twice-cooked pork", 15, "soy, celery", "no"])
    data = io.BytesIO()
    workbook.save(data)
    add_source(tenant, kind="file", title="Menu", file=upload("menu.xlsx", data.getvalue()))
    body = json.dumps({"menu": [{"name": "Sesame balls", "price": 5, "allergens": ["sesame", "wheat"],
                                 "dietary": ["vegan"], "options": [{"name": "6 pieces", "price_delta": 3}]}]})
    add_source(tenant, kind="file", title="Desserts", file=upload("desserts.json", body.encode()))
    items = {i.name: i for i in _items(tenant)}
    assert items["Smashed cucumber"].price == Decimal("6.50") and items["Smashed cucumber"].currency == "EUR"
    assert items["Smashed cucumber"].dietary == {"vegan": True}
    assert items["Twice-cooked pork"].allergens == ["soybeans", "celery"]
    assert items["Sesame balls"].allergens == ["gluten", "sesame"] and items["Sesame balls"].dietary == {"vegan": True}
    assert items["Sesame balls"].options == [{"name": "6 pieces", "price_delta": "3.00"}]


def test_a_json_file_that_is_not_a_list_is_text(tenant):
    body = json.dumps({"shop": {"name": "Bolt Bikes", "hours": "9-18"}}).encode()
    source = add_source(tenant, kind="file", title="Info", file=upload("info.json", body, "application/json"))
    assert source["status"] == "ready" and source["items_count"] == 0
    assert "shop.hours: 9-18" in Chunk.objects.for_business(tenant.business).get().text


# --------------------------------------------------------------------------- the items API


def _create(tenant, **body):
    payload = {"name": "Mango pudding", "price": "6.00", "allergens": ["milk"], "dietary": {"vegetarian": True},
               **body}
    return tenant.client().post(f"/api/v1/assistants/{tenant.assistant.pk}/catalog/items", payload, format="json")


def test_create_read_list_patch_delete(tenant):
    api = tenant.client()
    created = _create(tenant, allergens=["Milk", "coconut"], options=[{"name": "large", "price_delta": "1.5"}])
    assert created.status_code == 201, created.content
    item = created.json()
    assert item["price"] == "6.00" and item["allergens"] == ["milk"] and item["allergens_other"] == ["coconut"]
    assert item["options"] == [{"name": "large", "price_delta": "1.50"}] and item["available"] is True
    source = KnowledgeSource.objects.for_business(tenant.business).get(pk=item["source_id"])
    assert source.kind == "catalog" and source.items_count == source.chunk_count == 1
    assert search(api, tenant.assistant.pk, "mango dessert", k=1)[0]["text"].startswith("Mango pudding costs 6.00.")

    assert api.get(f"/api/v1/catalog/items/{item['id']}").json()["name"] == "Mango pudding"
    listed = api.get(f"/api/v1/assistants/{tenant.assistant.pk}/catalog/items").json()
    assert [i["id"] for i in listed["results"]] == [item["id"]] and listed["next"] is None

    sold_out = api.patch(f"/api/v1/catalog/items/{item['id']}", {"available": False}, format="json")
    assert sold_out.status_code == 200 and sold_out.json()["available"] is False
    assert sold_out.json()["price"] == "6.00"  # a partial change keeps the rest
    passage = Chunk.objects.for_business(tenant.business).get(catalog_item_id=item["id"])
    assert "Currently sold out." in passage.text  # the passage follows the item

    assert api.delete(f"/api/v1/catalog/items/{item['id']}").status_code == 204
    assert api.get(f"/api/v1/catalog/items/{item['id']}").status_code == 404
    assert not Chunk.objects.for_business(tenant.business).filter(source_id=item["source_id"]).exists()
    source.refresh_from_db()
    assert source.items_count == source.chunk_count == 0


def test_an_item_from_a_file_can_be_marked_sold_out(tenant):
    add_source(tenant, kind="file", title="Menu", file=upload("menu.csv", MENU.encode(), "text/csv"))
    rice = CatalogItem.objects.for_business(tenant.business).get(name="Steamed rice")
    response = tenant.client().patch(f"/api/v1/catalog/items/{rice.pk}", {"available": False}, format="json")
    assert response.status_code == 200
    rice.refresh_from_db()
    assert rice.available is False and rice.source.kind == "file" and rice.source.items_count == 3


@pytest.mark.parametrize("body", [
    {"name": ""},
    {"name": 12},
    {"name": "x" * 201},
    {"price": "-1"},
    {"price": "twelve"},
    {"price": "1234567890123"},
    {"currency": "euro"},
    {"allergens": "milk"},
    {"allergens": [1, 2]},
    {"dietary": {"keto": True}},
    {"dietary": {"vegan": "maybe"}},
    {"spice_level": 9},
    {"options": [{"name": ""}]},
    {"options": [{"name": "large", "price_delta": "a lot"}]},
    {"colour": "red"},
    {"available": "perhaps"},
    {"price": True},
])
def test_invalid_items_are_400_with_the_error_shape(tenant, body):
    response = _create(tenant, **body)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "validation_error"
    assert not CatalogItem.objects.for_business(tenant.business).exists()


def test_bodies_that_are_not_objects_or_too_large(tenant, settings):
    api = tenant.client()
    path = f"/api/v1/assistants/{tenant.assistant.pk}/catalog/items"
    assert api.post(path, "[1, 2]", content_type="application/json").status_code == 400
    assert api.post(path, "{not json", content_type="application/json").status_code == 400
    huge = json.dumps({"name": "x", "description": "y" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)})
    assert api.post(path, huge, content_type="application/json").status_code == 413
    item = _create(tenant).json()
    assert api.patch(f"/api/v1/catalog/items/{item['id']}", {"price": None}, format="json").json()["price"] is None


def test_unknown_ids_are_404(tenant):
    api = tenant.client()
    missing = "00000000-0000-0000-0000-000000000000"
    assert api.get(f"/api/v1/assistants/{missing}/catalog/items").status_code == 404
    assert api.post(f"/api/v1/assistants/{missing}/catalog/items", {"name": "x"}, format="json").status_code == 404
    for method in ("get", "patch", "delete"):
        response = getattr(api, method)(f"/api/v1/catalog/items/{missing}", {}, format="json")
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_another_business_gets_404_on_every_catalog_endpoint(tenant, other_tenant):
    item = _create(tenant).json()
    intruder = other_tenant.client()
    assert intruder.get(f"/api/v1/assistants/{tenant.assistant.pk}/catalog/items").status_code == 404
    assert intruder.post(f"/api/v1/assistants/{tenant.assistant.pk}/catalog/items", {"name": "Spam"},
                         format="json").status_code == 404
    assert intruder.get(f"/api/v1/catalog/items/{item['id']}").status_code == 404
    assert intruder.patch(f"/api/v1/catalog/items/{item['id']}", {"price": "0.01"},
                          format="json").status_code == 404
    assert intruder.delete(f"/api/v1/catalog/items/{item['id']}").status_code == 404
    kept = CatalogItem.objects.for_business(tenant.business).get(pk=item["id"])
    assert kept.price == Decimal("6.00") and CatalogItem.objects.for_business(tenant.business).count() == 1
    assert intruder.get(f"/api/v1/assistants/{other_tenant.assistant.pk}/catalog/items").json()["results"] == []


def test_a_publishable_key_cannot_touch_the_catalog(tenant):
    item = _create(tenant).json()
    public = tenant.client(tenant.publishable_key)
    assert public.get(f"/api/v1/assistants/{tenant.assistant.pk}/catalog/items").status_code == 403
    assert public.patch(f"/api/v1/catalog/items/{item['id']}", {"available": False},
                        format="json").status_code == 403


def test_the_demo_restaurants_menu_is_a_catalog(settings, tmp_path):
    from django.core.management import call_command

    from assistants.catalog.answers import catalog_answer
    from assistants.ingestion import pipeline
    from businesses.models import Business

    settings.CACHE_DIR = tmp_path
    call_command("demo_seed", base_url="http://testserver", stdout=io.StringIO())
    demo = Business.objects.get(slug="golden-dragon-demo")
    for source in KnowledgeSource.objects.for_business(demo):
        pipeline.source_ingest(business_id=demo.pk, source_id=source.pk)
    menu = KnowledgeSource.objects.for_business(demo).get(title="Menu")
    assert menu.status == "ready" and menu.items_count == 12 and menu.warnings == []
    items = list(CatalogItem.objects.for_business(demo))
    by_name = {i.name: i for i in items}
    assert by_name["Steamed jasmine rice"].allergens == []  # "none"
    assert by_name["Stir-fried seasonal greens"].allergens is None  # blank: unknown, not "none"
    assert by_name["Pork and chive dumplings"].options[1] == {"name": "12 pieces", "price_delta": "7.00"}
    assert by_name["Dan dan noodles"].extra == {"中文名": "担担面"} and by_name["Dan dan noodles"].spice_level == 3
    answer = catalog_answer("How much are 12 dumplings?", items=items, passages=[], language="en")
    assert answer.text == "The Pork and chive dumplings (12 pieces) cost 15.00 EUR, 7.00 EUR extra."


def test_a_dead_embedding_server_saves_nothing_and_says_so(tenant, settings):
    from tests.inference.misbehaving_server import closed_port_url

    item = _create(tenant).json()
    settings.EMBEDDINGS_BASE_URL = closed_port_url()
    settings.EMBEDDINGS_MODEL = "test-embedder"
    response = _create(tenant, name="Sesame balls")
    assert response.status_code == 503 and response.json()["error"]["code"] == "embeddings_unavailable"
    changed = tenant.client().patch(f"/api/v1/catalog/items/{item['id']}", {"price": "1.00"}, format="json")
    assert changed.status_code == 503
    assert [(i.name, i.price) for i in CatalogItem.objects.for_business(tenant.business)] == [
        ("Mango pudding", Decimal("6.00"))]
