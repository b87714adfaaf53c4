"""Lists: keyset pagination (config/pagination.py), and its page query against the ORM's."""

from __future__ import annotations

import base64
import datetime
import json
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from assistants.models import Assistant, Conversation, KnowledgeSource
from businesses.models import ApiKey, WebhookDelivery, WebhookEndpoint
from config.pagination import ORDERING, _is_plain, fetch
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
def test_the_page_query_gives_what_the_orm_gives(tenant):
    """fetch() builds plain single-table pages itself; every list's queryset shape, both ways."""
    business, assistant = tenant.business, tenant.assistant
    other = make_tenant("Noise Bistro")
    for owner in (tenant, other):
        KnowledgeSource.objects.unscoped().create(business=owner.business, assistant=owner.assistant, kind="text",
                                                  title="Menu")
        Conversation.objects.unscoped().create(business=owner.business, assistant=owner.assistant, channel="api",
                                               state="handoff", metadata={"k": [1, "ü"]})
    endpoint = WebhookEndpoint.objects.unscoped().create(business=business, url="https://hooks.example.com/x",
                                                         event_types=["message.created"], secret_encrypted="x")
    WebhookDelivery.objects.unscoped().create(business=business, endpoint=endpoint, event_id=uuid.uuid4(),
                                              event_type="message.created", payload={"a": 1})
    cutoff = timezone.now() + datetime.timedelta(days=1)
    from django.db.models import Q

    cases = [
        (True, Assistant.objects.for_business(business)),
        (True, KnowledgeSource.objects.for_business(business).filter(assistant=assistant)),
        (True, Conversation.objects.for_business(business).filter(state="handoff")),
        (True, ApiKey.objects.for_business(business)),
        (True, WebhookDelivery.objects.for_business(business).filter(endpoint=endpoint, status="pending")),
        (True, Assistant.objects.for_business(business).filter(
            Q(created_at__lt=cutoff) | Q(created_at=cutoff, pk__lt=uuid.uuid4()))),
        (True, Assistant.objects.for_business(business).filter(pk__in=[])),  # compiles to nothing
        (False, KnowledgeSource.objects.for_business(business).select_related("assistant")),
        (False, KnowledgeSource.objects.for_business(business).filter(assistant__name=assistant.name)),  # a join
        (False, Assistant.objects.for_business(business).only("name")),
        (False, Assistant.objects.for_business(business).distinct()),
    ]
    for expected, queryset in cases:
        assert _is_plain(queryset, ORDERING) is expected, str(queryset.query)
        ours, theirs = fetch(queryset, ORDERING, 50), list(queryset.order_by(*ORDERING)[:50])
        assert [type(o) for o in ours] == [type(o) for o in theirs]
        for a, b in zip(ours, theirs, strict=True):
            assert {k: v for k, v in a.__dict__.items() if k != "_state"} == \
                   {k: v for k, v in b.__dict__.items() if k != "_state"}
            assert a._state.db == b._state.db and a._state.adding is b._state.adding is False
    assert [a.pk for a in fetch(cases[0][1], ORDERING, 50)] == [assistant.pk]  # not the Noise Bistro's
    with CaptureQueriesContext(connection) as queries:
        assert fetch(cases[6][1], ORDERING, 50) == []
    assert len(queries) == 0
    assert not _is_plain(cases[0][1][:5], ORDERING)  # a sliced queryset goes through the ORM


@pytest.mark.django_db
def test_a_scoped_page_reuses_its_where_clause_for_every_business(tenant):
    """The text of ``for_business``'s WHERE clause is compiled once per model; every business's page
    still gets its own id as the parameter, and any other condition is compiled as usual."""
    from config import pagination

    other = make_tenant("Other Bistro")
    pagination._scope_sql.clear()
    for owner in (tenant, other, tenant):
        with CaptureQueriesContext(connection) as queries:
            rows = fetch(Assistant.objects.for_business(owner.business), ORDERING, 50)
        assert rows == list(Assistant.objects.for_business(owner.business).order_by(*ORDERING))
        assert (Assistant, "default") in pagination._scope_sql
        with CaptureQueriesContext(connection) as orm:
            list(Assistant.objects.for_business(owner.business).order_by(*ORDERING)[:50])
        assert queries[0]["sql"] == orm[0]["sql"]  # the same statement, this business's id in it
        assert owner.business.pk.hex in queries[0]["sql"]
    # Another condition on top of the scope, and the scope given as a string: compiled, not reused.
    named = Assistant.objects.for_business(tenant.business).filter(name=tenant.assistant.name)
    assert fetch(named, ORDERING, 50) == [tenant.assistant]
    assert fetch(Assistant.objects.for_business(str(other.business.pk)), ORDERING, 50) == \
        list(Assistant.objects.for_business(other.business).order_by(*ORDERING))
    assert fetch(Assistant.objects.for_business(tenant.business).exclude(pk=tenant.assistant.pk), ORDERING, 50) == []


@pytest.mark.django_db
def test_a_page_sends_the_init_signals_to_whoever_listens(tenant):
    """fetch() builds instances without Model.__init__ only while nobody listens for its signals."""
    from django.db.models.signals import post_init, pre_init

    page = Assistant.objects.for_business(tenant.business)
    seen = []

    def record(sender, instance=None, **kwargs):
        seen.append((sender, instance))

    for signal in (pre_init, post_init):
        signal.connect(record, sender=Assistant)
        try:
            rows = fetch(page, ORDERING, 50)
        finally:
            signal.disconnect(record, sender=Assistant)
        assert [sender for sender, _ in seen] == [Assistant] and rows == [tenant.assistant]
        seen.clear()
    rows = fetch(page, ORDERING, 50)
    assert seen == [] and rows[0].business == tenant.business  # related objects load as usual
    rows[0].name = "Renamed"
    rows[0].save(update_fields=["name"])
    assert Assistant.objects.for_business(tenant.business).get().name == "Renamed"


@pytest.mark.django_db
@pytest.mark.parametrize("selector_order", [ORDERING, ("name",), ("created_at", "id"), ()])
def test_a_page_is_in_keyset_order_whatever_order_the_selector_gave(tenant, selector_order):
    """The paginator re-orders only when the selector's order is not already the keyset's."""
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from config.pagination import CursorPagination

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


@pytest.mark.parametrize("text", [
    "{}", "[]", '{"mon": [["09:00", "17:00"]], "note": "Ünï ✓ \\u2028"}', "123456789012345678901234567890",
    "1e400", "NaN", "-0.0", '"text"', "null", "true", " {} ", "{", '"unterminated', '{"a": 1} trailing', "",
    '"\\ud800"', '{"a": 1, "a": 2}',
])
def test_json_columns_decode_as_django_decodes_them(text):
    """fetch()'s JSON converter gives what JSONField.from_db_value gives, for any text."""
    import math

    from django.db import models

    from config.pagination import _faster

    field = models.JSONField()
    django_value = field.from_db_value(text, None, connection)
    ours = _faster(field.from_db_value)(text, None, connection)
    assert type(ours) is type(django_value)
    assert ours == django_value or (isinstance(ours, float) and math.isnan(ours) and math.isnan(django_value))
    assert _faster(field.from_db_value)(None, None, connection) is None
    decoded = models.JSONField(decoder=type("Custom", (json.JSONDecoder,), {}))
    assert _faster(decoded.from_db_value) == decoded.from_db_value  # a custom decoder keeps Django's path
