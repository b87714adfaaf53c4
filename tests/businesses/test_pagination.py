"""Lists: keyset pagination (businesses/api/pagination.py)."""

from __future__ import annotations

import base64
import uuid

import pytest
from django.utils import timezone

from assistants.models import Assistant, Conversation, KnowledgeSource
from businesses.api.pagination import ORDERING
from businesses.models import ApiKey, WebhookDelivery, WebhookEndpoint
from tests.conftest import make_tenant


def _pages(api, path: str, limit: int) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        url = f"{path}?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        body = api.get(url).json()
        pages.append([row["id"] for row in body["results"]])
        cursor = body["next"]
        if cursor is None:
            return pages


@pytest.mark.django_db
def test_rows_that_share_a_timestamp_are_neither_repeated_nor_skipped(tenant):
    """DRF's position + offset cursors misbehave when many rows share created_at; keyset does not."""
    moment = timezone.now()
    made = [Assistant.objects.unscoped().create(business=tenant.business, name=f"Twin {i}", slug=f"twin-{i}")
            for i in range(7)]
    Assistant.objects.unscoped().filter(pk__in=[a.pk for a in made]).update(created_at=moment)
    pages = _pages(tenant.client(), "/api/v1/assistants", limit=3)
    ids = [i for page in pages for i in page]
    assert [len(page) for page in pages] == [3, 3, 2]
    assert len(ids) == len(set(ids)) == 8
    expected = list(Assistant.objects.for_business(tenant.business).order_by(*ORDERING).values_list("id", flat=True))
    assert ids == [str(i) for i in expected]


@pytest.mark.django_db
@pytest.mark.parametrize("limit, size", [("2", 2), ("0", 50), ("-3", 50), ("abc", 50), ("100000", 200)])
def test_limit_is_clamped_like_before(tenant, limit, size):
    for i in range(2):
        Assistant.objects.unscoped().create(business=tenant.business, name=f"Extra {i}", slug=f"extra-{i}")
    body = tenant.client().get(f"/api/v1/assistants?limit={limit}").json()
    assert len(body["results"]) == min(size, 3)


@pytest.mark.django_db
@pytest.mark.parametrize("cursor", [
    "%%%garbage",
    base64.urlsafe_b64encode(b"2026-11-29T10:00:00|not-a-uuid").decode(),
    base64.urlsafe_b64encode(f"2026-11-29T10:00:00|{uuid.uuid4()}".encode()).decode(),  # naive time
    base64.urlsafe_b64encode(b"just text").decode(),
    "",
])
def test_a_bad_cursor_is_a_clean_4xx(tenant, cursor):
    response = tenant.client().get(f"/api/v1/assistants?cursor={cursor}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
def test_another_business_cursor_shows_only_its_own_rows(tenant):
    other = make_tenant("Other Bistro")
    for i in range(3):
        Assistant.objects.unscoped().create(business=tenant.business, name=f"Mine {i}", slug=f"mine-{i}")
    first = tenant.client().get("/api/v1/assistants?limit=1").json()
    theirs = other.client().get(f"/api/v1/assistants?cursor={first['next']}").json()
    own = {str(i) for i in Assistant.objects.for_business(other.business).values_list("id", flat=True)}
    assert {row["id"] for row in theirs["results"]} <= own


@pytest.mark.django_db
def test_every_list_endpoint_pages_through_its_rows_once_each(tenant):
    """Each list of the API, walked a row per page: every row once, newest first, and another
    business's rows never appear."""
    other = make_tenant("Noise Bistro")
    for owner in (tenant, other):
        for n in range(2):
            KnowledgeSource.objects.unscoped().create(business=owner.business, assistant=owner.assistant,
                                                      kind="text", title=f"Menu {n}")
            Conversation.objects.unscoped().create(business=owner.business, assistant=owner.assistant,
                                                   channel="api", state="handoff")
    endpoint = WebhookEndpoint.objects.unscoped().create(business=tenant.business, url="https://hooks.example.com/x",
                                                         event_types=["message.created"], secret_encrypted="x")
    for _ in range(2):
        WebhookDelivery.objects.unscoped().create(business=tenant.business, endpoint=endpoint,
                                                  event_id=uuid.uuid4(), event_type="message.created",
                                                  payload={"a": 1})
    lists = {
        f"/api/v1/assistants/{tenant.assistant.pk}/sources":
            KnowledgeSource.objects.for_business(tenant.business),
        "/api/v1/conversations": Conversation.objects.for_business(tenant.business),
        "/api/v1/api-keys": ApiKey.objects.for_business(tenant.business),
        f"/api/v1/webhooks/{endpoint.pk}/deliveries": WebhookDelivery.objects.for_business(tenant.business),
    }
    for path, rows in lists.items():
        pages = _pages(tenant.client(), path, limit=1)
        expected = [str(pk) for pk in rows.order_by(*ORDERING).values_list("id", flat=True)]
        assert [i for page in pages for i in page] == expected, path
        assert all(len(page) <= 1 for page in pages)


@pytest.mark.django_db
@pytest.mark.parametrize("selector_order", [ORDERING, ("name",), ("created_at", "id"), ()])
def test_a_page_is_in_keyset_order_whatever_order_the_selector_gave(tenant, selector_order):
    """The paginator orders every page by the keyset, whatever order the selector gave."""
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from businesses.api.pagination import CursorPagination

    for name in ("Zed", "Alpha", "Mid"):
        Assistant.objects.unscoped().create(business=tenant.business, name=name, slug=name.lower())
    queryset = Assistant.objects.for_business(tenant.business)
    if selector_order:
        queryset = queryset.order_by(*selector_order)
    request = Request(APIRequestFactory().get("/api/v1/assistants", {"limit": 2}))
    paginator = CursorPagination()
    first = paginator.paginate_queryset(queryset, request)
    expected = list(Assistant.objects.for_business(tenant.business).order_by(*ORDERING))
    assert first == expected[:2]
    request = Request(APIRequestFactory().get("/api/v1/assistants", {"limit": 2, "cursor": paginator.next_cursor}))
    assert paginator.paginate_queryset(queryset, request) == expected[2:4]
