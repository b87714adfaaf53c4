"""Knowledge sources through the API, with the ingestion service run in-process.

The same flow through a real Celery worker is in test_ingestion_worker.py.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from assistants.ingestion import fetch, pipeline
from assistants.models import Chunk, KnowledgeSource
from inference.providers import embedder as configured_embedder
from tests.assistants import kb
from tests.assistants.conftest import add_source, search, upload
from tests.assistants.ingestion.helpers import html, loopback_server, make_pdf, make_zip_bomb_docx
from tests.conftest import make_tenant


@pytest.mark.django_db
@pytest.mark.parametrize(("who", "question", "phrase"), kb.QUESTIONS)
def test_questions_find_the_right_passage(request, who, question, phrase):
    tenant = request.getfixturevalue(who)
    results = search(tenant.client(), tenant.assistant.pk, question, k=3)
    assert results, question
    # PDF lines wrap anywhere: compare with whitespace folded.
    assert any(phrase in " ".join(r["text"].split()) for r in results), [r["text"][:80] for r in results]
    assert results[0]["score"] >= results[-1]["score"]
    assert {"chunk_id", "source_id", "source_title", "text", "score"} <= set(results[0])


@pytest.mark.django_db
def test_each_source_kind_reaches_ready_with_chunks(restaurant, shop, clinic):
    for tenant in (restaurant, shop, clinic):
        sources = tenant.client().get(f"/api/v1/assistants/{tenant.assistant.pk}/sources").json()["results"]
        assert sources and all(s["status"] == "ready" and s["progress"] == 100 and s["chunk_count"] > 0
                               for s in sources), sources


@pytest.mark.django_db
def test_a_menu_csv_becomes_catalog_items_with_one_sentence_passage_each(restaurant):
    chunk = Chunk.objects.for_business(restaurant.business).filter(text__contains="Mapo tofu").get()
    assert chunk.text.startswith("Mapo tofu costs 12.50.") and "Contains soy and sesame." in chunk.text
    assert chunk.embedding_dim == 384 and chunk.embedding_model == "all-MiniLM-L6-v2"
    assert chunk.catalog_item.name == "Mapo tofu" and chunk.catalog_item.price == Decimal("12.50")
    menu = KnowledgeSource.objects.for_business(restaurant.business).get(kind="file")
    assert menu.items_count == menu.chunk_count == 6


@pytest.mark.django_db
def test_a_table_without_a_price_column_keeps_its_column_names(tenant):
    table = "route,departs,arrives\nAmsterdam-Utrecht,09:10,09:38\nUtrecht-Gouda,10:05,10:29\n"
    source = add_source(tenant, kind="file", file=upload("timetable.csv", table.encode(), "text/csv"))
    assert source["status"] == "ready" and source["items_count"] == 0
    chunk = Chunk.objects.for_business(tenant.business).filter(text__contains="Utrecht-Gouda").get()
    assert chunk.text == "route: Utrecht-Gouda; departs: 10:05; arrives: 10:29" and chunk.catalog_item is None


@pytest.mark.django_db
def test_faq_gives_one_chunk_per_pair(restaurant):
    faq = KnowledgeSource.objects.for_business(restaurant.business).get(kind="faq")
    assert faq.chunk_count == len(kb.RESTAURANT_FAQ)


@pytest.mark.django_db
def test_markdown_and_txt_files(tenant):
    md = add_source(tenant, kind="file",
                    file=upload("hours.md", b"# Hours\nOpen daily 9-17.\n\n# Wifi\nPassword is dumpling88."))
    txt = add_source(tenant, kind="file", file=upload("note.txt", b"The chef's special this week is lobster noodles."))
    assert md["status"] == txt["status"] == "ready"
    assert "dumpling88" in search(tenant.client(), tenant.assistant.pk, "wifi password", k=1)[0]["text"]
    assert "lobster" in search(tenant.client(), tenant.assistant.pk, "chef special", k=1)[0]["text"]


@pytest.mark.django_db
def test_url_source_crawls_same_host_and_respects_robots(tenant, settings):
    settings.INGEST_ALLOW_PRIVATE_URLS = True
    with loopback_server() as site:
        site.routes.update({
            "/robots.txt": (200, {"Content-Type": "text/plain"}, b"User-agent: *\nDisallow: /private\n"),
            "/": html('<h1>Welcome</h1><p>Bolt Bikes sells city bikes.</p><a href="/repairs">Repairs</a>'
                      '<a href="/private/staff">Staff</a><a href="https://elsewhere.example/x">Elsewhere</a>'),
            "/repairs": html("<h1>Repairs</h1><p>A puncture repair costs 15 euros and takes one hour.</p>"),
            "/private/staff": html("<p>Staff rota: secret</p>"),
        })
        source = add_source(tenant, kind="url", url=site.base + "/", crawl=True, max_pages=10)
        assert "/private/staff" not in site.paths()
    assert source["status"] == "ready", source
    assert source["chunk_count"] >= 2
    assert "15 euros" in search(tenant.client(), tenant.assistant.pk, "how much is a puncture repair", k=1)[0]["text"]


@pytest.mark.django_db
def test_progress_moves_while_embedding(tenant, settings):
    settings.EMBEDDINGS_BATCH_SIZE = 2
    seen: list[int] = []
    real = configured_embedder()

    class Recording:
        """The real embedder, noting the source's progress each time it is called."""

        model_name, dimension, count_tokens = real.model_name, real.dimension, real.count_tokens

        def embed_documents(self, texts):
            seen.append(KnowledgeSource.objects.for_business(tenant.business).get(pk=source_id).progress)
            return real.embed_documents(texts)

    created = tenant.client().post(f"/api/v1/assistants/{tenant.assistant.pk}/sources",
                                   {"kind": "faq", "pairs": kb.RESTAURANT_FAQ}, format="json").json()
    source_id = created["id"]
    pipeline.source_ingest(business_id=tenant.business.pk, source_id=source_id, embedder_factory=Recording)
    assert len(seen) == 2 and seen[0] < seen[1] < 100
    assert KnowledgeSource.objects.for_business(tenant.business).get(pk=source_id).progress == 100


# --------------------------------------------------------------------------- bad input


def _failed(source: dict, code: str) -> None:
    assert source["status"] == "failed", source
    assert source["error_code"] == code, source
    assert len(source["error"]) > 20  # a sentence a shop owner can act on
    assert source["chunk_count"] == 0


@pytest.mark.django_db
def test_unsupported_type_is_refused_at_upload(tenant):
    response = tenant.client().post(f"/api/v1/assistants/{tenant.assistant.pk}/sources",
                                    {"kind": "file", "file": upload("photo.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64)},
                                    format="multipart")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unsupported_type"
    assert not KnowledgeSource.objects.for_business(tenant.business).exists()


@pytest.mark.django_db
def test_empty_file_is_refused_at_upload(tenant):
    response = tenant.client().post(f"/api/v1/assistants/{tenant.assistant.pk}/sources",
                                    {"kind": "file", "file": upload("menu.pdf", b"")}, format="multipart")
    assert response.status_code == 400 and response.json()["error"]["code"] == "empty_file"


@pytest.mark.django_db
def test_oversized_upload_is_413(tenant, settings):
    settings.INGEST_MAX_UPLOAD_BYTES = 1024
    response = tenant.client().post(f"/api/v1/assistants/{tenant.assistant.pk}/sources",
                                    {"kind": "file", "file": upload("big.txt", b"word " * 1000)}, format="multipart")
    assert response.status_code == 413 and response.json()["error"]["code"] == "file_too_large"


@pytest.mark.django_db
def test_corrupt_pdf_fails_with_a_reason(tenant):
    _failed(add_source(tenant, kind="file", file=upload("menu.pdf", b"%PDF-1.7\n" + b"garbage" * 200)),
            "corrupt_pdf")


@pytest.mark.django_db
def test_scanned_pdf_without_text_fails_with_a_reason(tenant):
    source = add_source(tenant, kind="file", file=upload("scan.pdf", make_pdf([None, None])))
    _failed(source, "scanned_pdf")
    assert "scan" in source["error"].lower() or "image" in source["error"].lower()


@pytest.mark.django_db
def test_binary_garbage_sent_as_text_fails(tenant):
    _failed(add_source(tenant, kind="file", file=upload("notes.txt", bytes(range(256)) * 40)), "binary_content")


@pytest.mark.django_db
def test_zip_bomb_docx_fails_without_expanding(tenant):
    _failed(add_source(tenant, kind="file", file=upload("bomb.docx", make_zip_bomb_docx(uncompressed_mb=200))),
            "zip_bomb")


@pytest.mark.django_db
def test_unreachable_url_fails_with_a_reason(tenant, settings):
    settings.INGEST_ALLOW_PRIVATE_URLS = True
    _failed(add_source(tenant, kind="url", url="http://127.0.0.1:9/menu"), "connection_failed")


@pytest.mark.django_db
def test_non_html_url_fails_with_a_reason(tenant, settings):
    settings.INGEST_ALLOW_PRIVATE_URLS = True
    with loopback_server() as site:
        site.routes["/logo.png"] = (200, {"Content-Type": "image/png"}, b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
        source = add_source(tenant, kind="url", url=site.base + "/logo.png")
    assert source["status"] == "failed" and source["error_code"] in {"unsupported_content", "unsupported_type"}


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["http://127.0.0.1/admin", "http://169.254.169.254/latest/meta-data",
                                 "http://[::1]:8000/", "http://10.0.0.5/"])
def test_private_urls_are_refused_at_upload(tenant, url):
    response = tenant.client().post(f"/api/v1/assistants/{tenant.assistant.pk}/sources",
                                    {"kind": "url", "url": url}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "blocked_address"


@pytest.mark.django_db
def test_non_http_url_is_refused(tenant):
    response = tenant.client().post(f"/api/v1/assistants/{tenant.assistant.pk}/sources",
                                    {"kind": "url", "url": "ftp://example.com/menu.txt"}, format="json")
    assert response.status_code == 400


@pytest.mark.django_db
def test_url_redirecting_to_a_private_address_fails(tenant, monkeypatch):
    """A public host (simulated: 'public.test' resolves to the loopback server) redirects to 127.0.0.1."""
    real_resolve = fetch.resolve_public_addresses
    with loopback_server() as site:
        site.routes["/menu"] = (302, {"Location": f"http://127.0.0.1:{site.port}/internal"}, b"")
        site.routes["/internal"] = html("<p>internal admin</p>")

        def resolve(*, host, port, allow_private):
            if host == "public.test":
                import ipaddress

                return [ipaddress.ip_address("127.0.0.1")]
            return real_resolve(host=host, port=port, allow_private=allow_private)

        monkeypatch.setattr(fetch, "resolve_public_addresses", resolve)
        source = add_source(tenant, kind="url", url=f"http://public.test:{site.port}/menu")
        assert "/internal" not in site.paths()
    _failed(source, "blocked_address")


@pytest.mark.django_db
@pytest.mark.parametrize("body", [
    {"kind": "text"},
    {"kind": "text", "text": ""},
    {"kind": "text", "text": 42},
    {"kind": "faq", "pairs": []},
    {"kind": "faq", "pairs": [{"question": "q"}]},
    {"kind": "faq", "pairs": "not a list"},
    {"kind": "url"},
    {"kind": "url", "url": "not a url"},
    {"kind": "pdf", "text": "x"},
    {"kind": "text", "text": "x", "url": "https://example.com"},
    {"kind": "text", "text": "x", "colour": "red"},
])
def test_invalid_source_bodies_are_400(tenant, body):
    response = tenant.client().post(f"/api/v1/assistants/{tenant.assistant.pk}/sources", body, format="json")
    assert response.status_code == 400, response.content
    assert "error" in response.json()


# --------------------------------------------------------------------------- resync and delete


@pytest.mark.django_db
def test_resync_with_an_edited_file_replaces_chunks_atomically(tenant):
    api = tenant.client()
    v1 = "# Specials\nThe special is duck.\n\n# Hours\nOpen from noon.\n"
    v2 = "# Specials\nThe special is lobster.\n\n# Hours\nOpen from noon.\n"
    source = add_source(tenant, kind="file", file=upload("specials.md", v1.encode()))
    old_ids = set(Chunk.objects.for_business(tenant.business).values_list("id", flat=True))

    response = api.post(f"/api/v1/sources/{source['id']}/resync", {"file": upload("specials.md", v2.encode())},
                        format="multipart")
    assert response.status_code == 202 and response.json()["status"] == "pending"
    # Until the new version is ready, the old passages keep serving.
    assert "duck" in search(api, tenant.assistant.pk, "what is the special", k=1)[0]["text"]

    embedded: list[str] = []
    real = configured_embedder()

    class Counting:
        model_name, dimension, count_tokens = real.model_name, real.dimension, real.count_tokens

        def embed_documents(self, texts):
            embedded.extend(texts)
            return real.embed_documents(texts)

    pipeline.source_ingest(business_id=tenant.business.pk, source_id=source["id"], embedder_factory=Counting)
    new_ids = set(Chunk.objects.for_business(tenant.business).values_list("id", flat=True))
    assert not old_ids & new_ids
    texts = [r["text"] for r in search(api, tenant.assistant.pk, "what is the special", k=5)]
    assert any("lobster" in t for t in texts) and not any("duck" in t for t in texts)
    # Only the changed passage was embedded again; "Hours" reused its vector.
    assert embedded and all("lobster" in t for t in embedded)


@pytest.mark.django_db
def test_failed_resync_leaves_old_chunks_serving(tenant):
    api = tenant.client()
    source = add_source(tenant, kind="file", file=upload("menu.md", b"# Soup\nHot and sour soup, 5 euros."))
    api.post(f"/api/v1/sources/{source['id']}/resync", {"file": upload("menu.md", b"\0\1\2\3" * 500)},
             format="multipart")
    pipeline.source_ingest(business_id=tenant.business.pk, source_id=source["id"])
    after = api.get(f"/api/v1/sources/{source['id']}").json()
    assert after["status"] == "failed" and after["error_code"] == "binary_content"
    assert "sour soup" in search(api, tenant.assistant.pk, "soup", k=1)[0]["text"]


@pytest.mark.django_db
def test_resync_of_a_busy_source_is_409(tenant):
    source = add_source(tenant, kind="text", text="Hello there.", run=False)
    response = tenant.client().post(f"/api/v1/sources/{source['id']}/resync")
    assert response.status_code == 409 and response.json()["error"]["code"] == "source_busy"


@pytest.mark.django_db
def test_deleting_a_source_removes_its_chunks(restaurant):
    api = restaurant.client()
    faq = KnowledgeSource.objects.for_business(restaurant.business).get(kind="faq")
    assert api.delete(f"/api/v1/sources/{faq.pk}").status_code == 204
    assert not Chunk.objects.for_business(restaurant.business).filter(source_id=faq.pk).exists()
    assert api.get(f"/api/v1/sources/{faq.pk}").status_code == 404
    assert not any("terrace" in r["text"] for r in search(api, restaurant.assistant.pk, "Can I bring my dog?"))


@pytest.mark.django_db
def test_source_deleted_while_processing_stores_nothing(tenant):
    source = add_source(tenant, kind="text", text="Delivery is free above 30 euros.", run=False)
    KnowledgeSource.objects.for_business(tenant.business).filter(pk=source["id"]).delete()
    pipeline.source_ingest(business_id=tenant.business.pk, source_id=source["id"])
    assert not Chunk.objects.for_business(tenant.business).exists()


# --------------------------------------------------------------------------- tenants


@pytest.mark.django_db
def test_other_business_never_gets_my_passages_even_with_the_same_words(restaurant):
    rival = make_tenant("Rival Noodles")
    add_source(rival, kind="text", text="Our mapo tofu costs 9 euros and our parking is on the roof.")
    for question in ("How much is the mapo tofu?", "parking", "你们有素食菜吗？"):
        theirs = search(rival.client(), rival.assistant.pk, question, k=10)
        assert theirs and all(r["source_id"] not in {str(s.pk) for s in
                              KnowledgeSource.objects.for_business(restaurant.business)} for r in theirs)
        assert all("12.50" not in r["text"] and "Mill Lane" not in r["text"] for r in theirs)


@pytest.mark.django_db
def test_other_business_cannot_touch_my_sources_or_search_my_assistant(restaurant):
    rival = make_tenant("Rival Noodles").client()
    source = KnowledgeSource.objects.for_business(restaurant.business).first()
    assistant = restaurant.assistant.pk
    assert rival.get(f"/api/v1/sources/{source.pk}").status_code == 404
    assert rival.delete(f"/api/v1/sources/{source.pk}").status_code == 404
    assert rival.post(f"/api/v1/sources/{source.pk}/resync").status_code == 404
    assert rival.get(f"/api/v1/assistants/{assistant}/sources").status_code == 404
    assert rival.post(f"/api/v1/assistants/{assistant}/sources", {"kind": "text", "text": "x"},
                      format="json").status_code == 404
    assert rival.post(f"/api/v1/assistants/{assistant}/search", {"query": "tofu"},
                      format="json").status_code == 404
    source.refresh_from_db()
    assert source.status == "ready"
