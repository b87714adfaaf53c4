"""A WhatsApp customer erases their own data: "delete my data", confirmed by a reply, through
Meta's signed webhook and the Graph API on loopback (the helpers of test_whatsapp.py)."""

from __future__ import annotations

import time

import pytest

from assistants.channels.whatsapp import services as whatsapp
from assistants.models import Conversation, WhatsAppDelivery, WhatsAppInbound, WhatsAppOutbound
from billing.models import UsagePeriod
from businesses.models import AuditEvent
from tests.assistants.test_whatsapp import (  # noqa: F401 - fixtures (the tests below take them as arguments: F811)
    CUSTOMER,
    connect,
    delivery,
    graph,
    post_signed,
    queued,
    restaurant,
    run_queued,
    text_message,
)
from tests.privacy_helpers import rows_containing

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = "Can I bring my dog Bartholomew-Quince on Sunday?"


def _say(connection, text, queued) -> None:  # noqa: F811
    assert post_signed(delivery(connection["phone_number_id"], messages=[text_message(CUSTOMER, text)])
                       ).status_code == 200
    run_queued(queued)


def test_delete_my_data_confirmed_on_whatsapp_erases_every_trace_of_the_number(graph, queued):  # noqa: F811
    tenant = restaurant()
    connection = connect(tenant)
    _say(connection, QUESTION, queued)
    sent = WhatsAppOutbound.objects.for_business(tenant.business).get()
    status = {"id": sent.wa_message_id, "status": "delivered", "timestamp": str(int(time.time())),
              "recipient_id": CUSTOMER}
    post_signed(delivery(connection["phone_number_id"], statuses=[status]))
    assert rows_containing(QUESTION) and rows_containing(CUSTOMER)
    usage = list(UsagePeriod.objects.for_business(tenant.business).values("messages_used", "answers"))

    _say(connection, "Delete my data", queued)
    assert graph.to(CUSTOMER)[-1]["json"]["text"]["body"] == whatsapp.ERASE_ASK_TEXT
    assert Conversation.objects.for_business(tenant.business).exists()  # nothing goes without the YES

    _say(connection, "yes", queued)
    assert graph.to(CUSTOMER)[-1]["json"]["text"]["body"] == whatsapp.ERASED_TEXT
    assert not Conversation.objects.for_business(tenant.business).exists()
    assert not WhatsAppInbound.objects.for_business(tenant.business).exists()
    assert not WhatsAppOutbound.objects.for_business(tenant.business).exists()
    assert rows_containing(QUESTION) == {}
    assert rows_containing(CUSTOMER) == {}  # the raw deliveries and status callbacks too
    assert list(UsagePeriod.objects.for_business(tenant.business).values("messages_used", "answers")) == usage
    event = AuditEvent.objects.for_business(tenant.business).get(action="customer.erased")
    assert event.actor_kind == "customer" and event.details["deleted"]["raw_payloads"] >= 4


def test_anything_but_yes_keeps_the_data_and_is_answered(graph, queued):  # noqa: F811
    tenant = restaurant()
    connection = connect(tenant)
    _say(connection, "delete my data", queued)
    _say(connection, "Can I bring my dog?", queued)
    assert "terrace" in graph.to(CUSTOMER)[-1]["json"]["text"]["body"]
    _say(connection, "yes", queued)  # the question was withdrawn by the other reply
    assert graph.to(CUSTOMER)[-1]["json"]["text"]["body"] != whatsapp.ERASED_TEXT
    assert Conversation.objects.for_business(tenant.business).exists()
    assert WhatsAppDelivery.objects.count() >= 3
