"""Handoff emails: a conversation handed to a person emails the business's members and its
handoff address, through a real SMTP server on loopback (``smtp_server``, tests/conftest.py).

Transactional: the chat endpoint's database work runs on other threads, so the data it reads
must be committed. The handoff receiver's task is captured after commit and run by hand, except
in the test of the in-process (no broker) path.
"""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import Client

from assistants.channels.email import receivers, services
from assistants.channels.email.tasks import MAX_RETRIES, channel_handoff_email_task
from assistants.chat import signals
from assistants.models import Conversation, HandoffEmail
from businesses.models import Business, Membership
from config.celery import app
from config.tasks import inline_tasks_wait
from tests.assistants import kb
from tests.assistants.conftest import add_source
from tests.conftest import free_port, make_tenant

pytestmark = pytest.mark.django_db(transaction=True)

PUBLIC_URL = "https://frontdesk.example"
ASK = "Can I talk to a person?"


@pytest.fixture
def queued(monkeypatch) -> list[tuple]:
    """The email tasks the handoff receiver queues (after commit), to run by hand."""
    calls: list[tuple] = []

    def record(task, *args):
        transaction.on_commit(lambda: calls.append((task, args)))

    monkeypatch.setattr(receivers, "enqueue_on_commit", record)
    return calls


@pytest.fixture(autouse=True)
def _public_url(settings):
    settings.FRONTDESK_PUBLIC_URL = PUBLIC_URL


def add_member(tenant, address: str, role: str, *, active: bool = True):
    user = get_user_model().objects.create_user(username=address, email=address, is_active=active)
    Membership.objects.create(user=user, business=tenant.business, role=role)
    return user


def staffed(name: str, *, handoff_email: str = ""):
    """A business with an owner (from sign-up), an admin, a staff member and a former one."""
    tenant = make_tenant(name)
    slug = name.lower().replace(" ", "")
    add_member(tenant, f"admin@{slug}.example", Membership.Role.ADMIN)
    add_member(tenant, f"Staff@{slug}.example", Membership.Role.STAFF)
    add_member(tenant, f"left@{slug}.example", Membership.Role.STAFF, active=False)
    Business.objects.filter(pk=tenant.business.pk).update(handoff_email=handoff_email)
    tenant.business.refresh_from_db()
    return tenant


def widget_start(tenant, client: Client) -> tuple[str, dict]:
    response = client.post(f"/api/v1/assistants/{tenant.assistant.pk}/conversations", {},
                           content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {tenant.publishable_key}")
    assert response.status_code == 201, response.content
    body = response.json()
    return body["id"], {"HTTP_AUTHORIZATION": f"Bearer {tenant.publishable_key}",
                        "HTTP_X_CUSTOMER_TOKEN": body["customer_token"]}


def widget_send(client: Client, cid: str, headers: dict, content: str) -> dict:
    response = client.post(f"/api/v1/conversations/{cid}/messages", {"content": content},
                           content_type="application/json", **headers)
    assert response.status_code == 201, response.content
    return response.json()


def run(queued: list[tuple]) -> None:
    while queued:
        task, args = queued.pop(0)
        assert task is channel_handoff_email_task and task.name == "assistants.tasks.channel_handoff_email_task"
        task(*args)


def test_every_member_and_the_handoff_address_get_one_email_with_the_link(smtp_server, queued):
    tenant = staffed("Golden Dragon", handoff_email="Bookings@GoldenDragon.example")
    # The handoff address is also a member's, in another case: one mail.
    add_member(tenant, "bookings@goldendragon.example", Membership.Role.STAFF)
    add_source(tenant, kind="faq", title="FAQ", pairs=kb.RESTAURANT_FAQ)
    rival = staffed("Rival Noodles", handoff_email="desk@rivalnoodles.example")
    client = Client()
    cid, headers = widget_start(tenant, client)
    assert "terrace" in widget_send(client, cid, headers, "Can I bring my dog?")["answer"]["content"]
    assert queued == []  # answered: nobody is needed yet
    sent = widget_send(client, cid, headers, ASK)
    assert sent["answer"] is None
    assert smtp_server.messages == []  # the customer's request never waits on the mail server
    [(task, args)] = queued
    assert args[:2] == (str(tenant.business.pk), cid)

    run(queued)
    expected = {tenant.user.email.lower(), "admin@goldendragon.example", "staff@goldendragon.example",
                "bookings@goldendragon.example"}
    mails = smtp_server.wait_for(len(expected))
    assert len(mails) == len(expected)
    assert sorted(a.lower() for m in mails for a in m.envelope_to) == sorted(expected)  # one each, one per mail
    link = f"{PUBLIC_URL}/app/inbox/{cid}/"
    for mail in mails:
        assert mail["To"] == mail.envelope_to[0]  # nobody sees the other recipients
        assert mail["From"] == "Frontdesk <no-reply@localhost>"
        assert mail["Subject"] == f"[Golden Dragon] A customer is waiting: {ASK}"
        assert mail["Auto-Submitted"] == "auto-generated"
        body = mail.get_content()
        assert link in body
        assert "Channel: web chat" in body and "Reason: The customer asked for a person." in body
        assert f"> {ASK}" in body and "> Can I bring my dog?" in body
    assert not any(smtp_server.to(a) for a in ("left@goldendragon.example", rival.user.email,
                                                "admin@rivalnoodles.example", "desk@rivalnoodles.example"))
    assert HandoffEmail.objects.for_business(tenant.business).count() == len(expected)

    # The task again (a retry, a redelivery), and the same handoff signalled a second time.
    task(*args)
    conversation = Conversation.objects.for_business(tenant.business).get(pk=cid)
    with transaction.atomic():
        signals.handoff_started.send(sender=Conversation, conversation=conversation, notice=None)
    assert [a for _, a in queued] == [args]
    run(queued)
    assert len(smtp_server.messages) == len(expected)


def test_retry_after_a_dropped_connection_writes_only_to_those_not_reached(smtp_server, queued):
    tenant = staffed("Golden Dragon")
    client = Client()
    cid, headers = widget_start(tenant, client)
    widget_send(client, cid, headers, ASK)
    [(task, args)] = queued
    # The server closes the channel at the second address, once (421: going down).
    refused: list[str] = []

    def going_down(address: str) -> str | None:
        if address.startswith("admin@") and not refused:
            refused.append(address)
            return "421 4.3.2 Service shutting down"
        return None

    smtp_server.rcpt_reply = going_down
    result = task.apply(args=args)  # as a worker runs it, retries included (without their countdown)
    assert result.successful() and refused == ["admin@goldendragon.example"]
    recipients = [m.envelope_to[0].lower() for m in smtp_server.messages]
    assert recipients == [tenant.user.email.lower(), "admin@goldendragon.example", "staff@goldendragon.example"]


def test_second_handoff_of_a_conversation_notifies_again_with_the_last_message(smtp_server, queued):
    tenant = staffed("Golden Dragon")
    client = Client()
    cid, headers = widget_start(tenant, client)
    widget_send(client, cid, headers, ASK)
    run(queued)
    first = len(smtp_server.messages)
    assert first == 3
    assert tenant.client().post(f"/api/v1/conversations/{cid}/release").status_code == 200
    long = "Can I speak to the manager about a birthday dinner for twelve people this Saturday evening?"
    widget_send(client, cid, headers, long)
    run(queued)
    again = smtp_server.messages[first:]
    assert len(again) == first
    # Non-ASCII (the ellipsis): Django folds the encoded subject onto the next line, which the
    # parser reads as one leading space.
    assert again[0]["Subject"].strip() == f"[Golden Dragon] A customer is waiting: {long[:60].rstrip()}…"
    assert f"> {long}" in again[0].get_content()


def test_the_button_without_a_message_and_a_task_of_another_business_send_nothing_wrong(smtp_server, queued):
    tenant = staffed("Golden Dragon")
    rival = staffed("Rival Noodles")
    client = Client()
    cid, headers = widget_start(tenant, client)
    assert client.post(f"/api/v1/conversations/{cid}/handoff", **headers).status_code == 200  # the widget's button
    [(_, args)] = queued
    # Another business's id with this conversation reaches nobody.
    assert services.handoff_email_send(business_id=rival.business.pk, conversation_id=cid,
                                       handoff_at=args[2]) == []
    assert smtp_server.messages == []
    run(queued)
    mail = smtp_server.wait_for(3)[0]
    assert mail["Subject"] == "[Golden Dragon] A customer is waiting"
    assert "they pressed “Talk to a person”" in mail.get_content()
    assert not any(smtp_server.to(a) for a in (rival.user.email, "admin@rivalnoodles.example"))


def test_dead_mail_server_is_retried_a_bounded_number_of_times_then_logged(settings, caplog):
    """No broker (the demo): the task runs in-process after the request's commit, against a
    closed port. The customer gets their answer; the task gives up after its retries."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()  # nobody listens there
    settings.EMAIL_TIMEOUT = 2
    tenant = staffed("Golden Dragon")
    client = Client()
    cid, headers = widget_start(tenant, client)
    caplog.set_level(logging.WARNING, logger="assistants.channels.email")
    assert widget_send(client, cid, headers, ASK)["answer"] is None  # 201: the answer of a handoff
    inline_tasks_wait()
    records = [r for r in caplog.records if r.name == "assistants.channels.email.tasks"]
    assert [r.levelno for r in records] == [logging.WARNING] * MAX_RETRIES + [logging.ERROR]
    assert all(cid in r.getMessage() and "ConnectionRefusedError" in r.getMessage() for r in records)
    assert f"given up after {MAX_RETRIES + 1} attempts" in records[-1].getMessage()
    assert not HandoffEmail.objects.for_business(tenant.business).exists()
    # The conversation is in the inbox all the same.
    assert Conversation.objects.for_business(tenant.business).get(pk=cid).state == "handoff"


def test_handoff_email_task_goes_to_the_channels_queue():
    app.loader.import_default_modules()  # what a worker does at start: autodiscovery
    name = "assistants.tasks.channel_handoff_email_task"
    assert name in app.tasks and channel_handoff_email_task.name == name
    assert app.amqp.router.route({}, name)["queue"].name == "channels"
