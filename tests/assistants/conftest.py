from __future__ import annotations

import time

import pytest
from rest_framework.test import APIClient

from assistants.ingestion import pipeline
from tests.assistants import kb
from tests.conftest import Tenant, make_tenant


def add_source(tenant: Tenant, *, run: bool = True, assistant_id=None, **body) -> dict:
    """Add a source through the API, then run the ingestion service in-process."""
    api = tenant.client()
    path = f"/api/v1/assistants/{assistant_id or tenant.assistant.pk}/sources"
    if "file" in body:
        response = api.post(path, body, format="multipart")
    else:
        response = api.post(path, body, format="json")
    assert response.status_code == 202, response.content
    source = response.json()
    assert source["status"] == "pending"
    if run:
        return ingest(tenant, source["id"])
    return api.get(f"/api/v1/sources/{source['id']}").json()


def ingest(tenant: Tenant, source_id, timeout: float = 120.0) -> dict:
    """Run the ingestion service in-process and answer the settled source. A Celery worker left
    running by an earlier test may have taken the queued task first (the advisory lock then makes
    this call skip): wait for that worker to finish instead."""
    pipeline.source_ingest(business_id=tenant.business.pk, source_id=source_id)
    deadline = time.monotonic() + timeout
    while True:
        body = tenant.client().get(f"/api/v1/sources/{source_id}").json()
        if body["status"] not in ("pending", "processing") or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def upload(name: str, data: bytes, content_type: str = "application/octet-stream"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type=content_type)


def search(client: APIClient, assistant_id, query: str, k: int = 3) -> list[dict]:
    response = client.post(f"/api/v1/assistants/{assistant_id}/search", {"query": query, "k": k}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["results"]


@pytest.fixture
def restaurant(db) -> Tenant:
    tenant = make_tenant("Golden Dragon")
    add_source(tenant, kind="file", title="Menu", file=upload("menu.csv", kb.MENU_CSV.encode(), "text/csv"))
    add_source(tenant, kind="faq", title="FAQ", pairs=kb.RESTAURANT_FAQ)
    add_source(tenant, kind="text", title="About us", text=kb.RESTAURANT_TEXT)
    return tenant


@pytest.fixture
def shop(db) -> Tenant:
    tenant = make_tenant("Bolt Bikes")
    add_source(tenant, kind="file", title="Returns", file=upload("returns.html", kb.SHOP_HTML.encode(), "text/html"))
    add_source(tenant, kind="file", title="Warranty", file=upload("warranty.docx", kb.shop_warranty_docx()))
    return tenant


@pytest.fixture
def clinic(db) -> Tenant:
    tenant = make_tenant("Harbour Dental")
    add_source(tenant, kind="file", title="Patient information",
               file=upload("patients.pdf", kb.clinic_pdf(), "application/pdf"))
    return tenant
