"""Chat's conversation signals: a channel follows conversations by subscribing, with no change
to chat (the WhatsApp channel's receivers are tested in test_whatsapp.py)."""

from __future__ import annotations

import pytest
from django.db import transaction

from assistants.chat import signals
from assistants.chat.services import conversation_handoff
from assistants.models import Conversation
from tests.conftest import make_tenant

# The API's async views read the database on other connections: the data must be committed.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def followed(request) -> list[dict]:
    """What a stand-in channel's receivers saw, connected for one test only."""
    seen: list[dict] = []

    def on_handoff(sender, *, conversation, notice, **kwargs):
        seen.append({"signal": "handoff_started", "conversation": conversation, "notice": notice,
                     "in_transaction": transaction.get_connection().in_atomic_block})

    def on_staff(sender, *, conversation, message, **kwargs):
        seen.append({"signal": "staff_message_sent", "conversation": conversation, "message": message})

    signals.handoff_started.connect(on_handoff, dispatch_uid="test-channel-handoff", weak=False)
    signals.staff_message_sent.connect(on_staff, dispatch_uid="test-channel-staff", weak=False)
    request.addfinalizer(lambda: signals.handoff_started.disconnect(dispatch_uid="test-channel-handoff"))
    request.addfinalizer(lambda: signals.staff_message_sent.disconnect(dispatch_uid="test-channel-staff"))
    return seen


def _start(tenant) -> str:
    response = tenant.client().post(f"/api/v1/assistants/{tenant.assistant.pk}/conversations", {}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def _send(tenant, cid: str, content: str, **extra) -> dict:
    response = tenant.client().post(f"/api/v1/conversations/{cid}/messages", {"content": content, **extra},
                                    format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_a_subscribed_channel_hears_each_handoff_once_with_its_notice(followed):
    tenant = make_tenant()
    cid = _start(tenant)
    _send(tenant, cid, "Can I talk to a person please?")
    [heard] = followed
    assert heard["signal"] == "handoff_started" and heard["in_transaction"]
    assert str(heard["conversation"].pk) == cid and heard["conversation"].state == Conversation.State.HANDOFF
    assert heard["notice"].role == "system" and "asked someone from Golden Dragon" in heard["notice"].content

    # Already handed off: no second handoff. Released and handed off again: a second one.
    assert tenant.client().post(f"/api/v1/conversations/{cid}/handoff").status_code == 200
    assert len(followed) == 1
    assert tenant.client().post(f"/api/v1/conversations/{cid}/release").status_code == 200
    assert tenant.client().post(f"/api/v1/conversations/{cid}/handoff").status_code == 200
    assert [h["signal"] for h in followed] == ["handoff_started", "handoff_started"]
    assert followed[1]["notice"].pk != heard["notice"].pk


def test_a_subscribed_channel_hears_staff_replies(followed):
    tenant = make_tenant()
    cid = _start(tenant)
    _send(tenant, cid, "Yes, a table for two at 8.", role="staff")
    [heard] = followed
    assert heard["signal"] == "staff_message_sent" and str(heard["conversation"].pk) == cid
    assert heard["message"].role == "staff" and heard["message"].content == "Yes, a table for two at 8."


def test_work_a_receiver_queues_on_commit_is_dropped_with_a_rolled_back_handoff(followed):
    tenant = make_tenant()
    queued: list[str] = []
    signals.handoff_started.connect(lambda sender, conversation, **kw: transaction.on_commit(
        lambda: queued.append(str(conversation.pk))), dispatch_uid="test-channel-queue", weak=False)
    try:
        conversation = Conversation.objects.for_business(tenant.business).get(pk=_start(tenant))
        with pytest.raises(RuntimeError), transaction.atomic():
            conversation_handoff(conversation=conversation, reason="test")
            raise RuntimeError("rolled back")
        assert len(followed) == 1 and queued == []
        conversation_handoff(conversation=conversation, reason="test")
        assert queued == [str(conversation.pk)]
    finally:
        signals.handoff_started.disconnect(dispatch_uid="test-channel-queue")
