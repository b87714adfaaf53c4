"""The owner's assistant on their own phone: commands sent from the owner number to the business
number (through Meta's signed webhook, answered on the loopback Graph server), and the weekly
digest on WhatsApp and by email (a real SMTP server on loopback).

Transactional for the same reason as test_whatsapp.py: the webhook's work must be committed
before the task (called directly here) reads it.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from assistants.channels.owner import services as owner
from assistants.channels.owner.commands import Command, CommandError, command_parse
from assistants.channels.owner.tasks import channel_owner_digest_sweep_task, channel_owner_digest_task
from assistants.models import (
    Conversation,
    KnowledgeSource,
    Message,
    OwnerDigest,
    UnansweredQuestion,
    UnansweredTopic,
    WhatsAppOutbound,
)
from assistants.unanswered import services as unanswered
from tests.assistants.test_whatsapp import (  # fixtures and helpers only (no test_ names: not re-collected)
    CUSTOMER,
    OWNER,
    connect,
    delivery,
    graph,  # noqa: F401  (a fixture)
    post_signed,
    queued,  # noqa: F401  (a fixture)
    run_queued,
    text_message,
)
from tests.conftest import make_tenant

pytestmark = pytest.mark.django_db(transaction=True)

OTHER_OWNER = "447700900123"


def menu_restaurant(name: str = "Golden Dragon"):
    tenant = make_tenant(name)
    for item in ({"name": "Mapo tofu", "price": "12.50", "currency": "EUR", "extra": {"chinese": "麻婆豆腐"}},
                 {"name": "Mapo tofu (vegetarian)", "price": "11.50", "currency": "EUR"},
                 {"name": "Dan dan noodles", "price": "11.00", "currency": "EUR"}):
        response = tenant.client().post(f"/api/v1/assistants/{tenant.assistant.pk}/catalog/items", item,
                                        format="json")
        assert response.status_code == 201, response.content
    return tenant


def items_by_name(tenant) -> dict[str, dict]:
    response = tenant.client().get(f"/api/v1/assistants/{tenant.assistant.pk}/catalog/items")
    assert response.status_code == 200
    return {item["name"]: item for item in response.json()["results"]}


def assistant_of(tenant) -> dict:
    return tenant.client().get(f"/api/v1/assistants/{tenant.assistant.pk}").json()


def owner_says(graph, queued, connection: dict, text: str, *, sender: str = OWNER,  # noqa: F811
               context_id: str | None = None) -> str:
    """The owner (or ``sender``) sends ``text`` to the business number; returns the reply sent back."""
    before = len(graph.to(sender))
    response = post_signed(delivery(connection["phone_number_id"],
                                    messages=[text_message(sender, text, context_id=context_id)]))
    assert response.status_code == 200, response.content
    run_queued(queued)
    replies = graph.to(sender)[before:]
    assert len(replies) == 1, replies
    return replies[0]["json"]["text"]["body"]


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(("text", "command"), [
    ("sold out mapo tofu", Command("sold_out", name="mapo tofu")),
    ("Sold out: Mapo tofu!", Command("sold_out", name="Mapo tofu")),
    ("售罄 麻婆豆腐", Command("sold_out", name="麻婆豆腐", zh=True)),
    ("麻婆豆腐卖完了", Command("sold_out", name="麻婆豆腐", zh=True)),
    ("back mapo tofu", Command("back", name="mapo tofu")),
    ("恢复 麻婆豆腐", Command("back", name="麻婆豆腐", zh=True)),
    ("closed today", Command("closed_today")),
    ("今天休息", Command("closed_today", zh=True)),
    ("open today", Command("open_today")),
    ("hours sat 12-22", Command("hours", day="sat", ranges=(("12:00", "22:00"),))),
    ("hours Saturday 11:30-14:30, 18-24", Command("hours", day="sat",
                                                  ranges=(("11:30", "14:30"), ("18:00", "00:00")))),
    ("hours sun closed", Command("hours", day="sun")),
    ("营业时间 周六 12-22", Command("hours", day="sat", ranges=(("12:00", "22:00"),), zh=True)),
    ("digest", Command("digest")),
    ("Weekly digest?", Command("digest")),
    ("周报", Command("digest", zh=True)),
    ("send me the digest of last month", None),
    ("Can you check the booking for tonight?", None),
    ("the mapo tofu is back on the menu, right?", None),
])
def test_commands_are_read_in_english_and_chinese(text, command):
    assert command_parse(text) == command


@pytest.mark.parametrize("text", ["hours someday 12-22", "hours sat 25-26", "hours sat noon till late"])
def test_an_hours_command_that_cannot_be_read_is_an_error(text):
    with pytest.raises(CommandError):
        command_parse(text)


# --------------------------------------------------------------------------- commands over WhatsApp


def test_sold_out_and_back_change_the_item_and_are_confirmed(graph, queued):  # noqa: F811
    tenant = menu_restaurant()
    connection = connect(tenant, owner=OWNER)
    reply = owner_says(graph, queued, connection, "sold out mapo tofu")
    assert "Mapo tofu is marked sold out" in reply
    items = items_by_name(tenant)
    assert items["Mapo tofu"]["available"] is False
    assert items["Mapo tofu (vegetarian)"]["available"] is True  # only the one named
    assert "Mapo tofu is available again" in owner_says(graph, queued, connection, "back mapo tofu")
    assert items_by_name(tenant)["Mapo tofu"]["available"] is True


def test_chinese_commands_find_the_chinese_name_and_answer_in_chinese(graph, queued):  # noqa: F811
    tenant = menu_restaurant()
    connection = connect(tenant, owner=OWNER)
    reply = owner_says(graph, queued, connection, "售罄 麻婆豆腐")
    assert "麻婆豆腐" in reply and "售罄" in reply
    assert items_by_name(tenant)["Mapo tofu"]["available"] is False
    assert "麻婆豆腐" in owner_says(graph, queued, connection, "恢复 麻婆豆腐")
    assert items_by_name(tenant)["Mapo tofu"]["available"] is True


def test_an_ambiguous_or_unknown_item_changes_nothing_and_names_the_candidates(graph, queued):  # noqa: F811
    tenant = menu_restaurant()
    connection = connect(tenant, owner=OWNER)
    reply = owner_says(graph, queued, connection, "sold out tofu")
    assert "nothing changed" in reply and "Mapo tofu, Mapo tofu (vegetarian)" in reply
    reply = owner_says(graph, queued, connection, "sold out pizza margherita")
    assert "I couldn't find “pizza margherita”" in reply and "Did you mean: " in reply and "Dan dan noodles" in reply
    assert all(item["available"] for item in items_by_name(tenant).values())
    # A typo is matched as the customers' questions are (fuzzily).
    assert "Dan dan noodles is marked sold out" in owner_says(graph, queued, connection, "sold out dan dan noodels")


def test_closed_today_open_today_and_weekly_hours_change_the_assistants_hours(graph, queued):  # noqa: F811
    tenant = menu_restaurant()
    connection = connect(tenant, owner=OWNER)
    today = timezone.now().astimezone(dt.UTC).date().isoformat()  # the business's time zone is UTC

    assert "Closed today" in owner_says(graph, queued, connection, "closed today")
    assert {"date": today, "closed": True, "note": "Closed today"} in assistant_of(tenant)["hours_exceptions"]
    assert "usual hours" in owner_says(graph, queued, connection, "open today")
    assert assistant_of(tenant)["hours_exceptions"] == []
    assert "休息" in owner_says(graph, queued, connection, "今天休息")  # confirmed in Chinese
    assert assistant_of(tenant)["hours_exceptions"][0]["date"] == today

    assert "12:00–22:00" in owner_says(graph, queued, connection, "hours sat 12-22")
    assert assistant_of(tenant)["business_hours"]["sat"] == [["12:00", "22:00"]]
    owner_says(graph, queued, connection, "营业时间 周日 11:30-14:30, 18-22")
    assert assistant_of(tenant)["business_hours"]["sun"] == [["11:30", "14:30"], ["18:00", "22:00"]]
    assert "closed" in owner_says(graph, queued, connection, "hours sun closed")
    assert "sun" not in assistant_of(tenant)["business_hours"]
    reply = owner_says(graph, queued, connection, "hours sat 25-26")
    assert "nothing changed" in reply
    assert assistant_of(tenant)["business_hours"]["sat"] == [["12:00", "22:00"]]


def test_a_message_from_the_owner_that_is_no_command_gets_the_help_and_reaches_no_one(graph, queued):  # noqa: F811
    tenant = menu_restaurant()
    connection = connect(tenant, owner=OWNER)
    reply = owner_says(graph, queued, connection, "how is business today?")
    assert "sold out mapo tofu" in reply and "hours sat 12-22" in reply and "digest" in reply
    assert not Conversation.objects.for_business(tenant.business).filter(external_id=OWNER).exists()
    assert WhatsAppOutbound.objects.for_business(tenant.business).get(to=OWNER).purpose == "owner_help"


def test_a_command_from_a_number_that_is_not_the_owners_is_refused_and_changes_nothing(graph, queued):  # noqa: F811
    tenant = menu_restaurant()
    connection = connect(tenant, owner=OWNER)
    rival = menu_restaurant("Rival Noodles")
    connect(rival, owner=OTHER_OWNER)  # another business's owner is a customer here
    hours_before = assistant_of(tenant)
    for sender in (CUSTOMER, OTHER_OWNER):
        for text in ("sold out mapo tofu", "closed today", "hours sat 12-22", "digest"):
            post_signed(delivery(connection["phone_number_id"], messages=[text_message(sender, text)]))
            run_queued(queued)
    assert all(item["available"] for item in items_by_name(tenant).values())
    after = assistant_of(tenant)
    assert (after["business_hours"], after["hours_exceptions"]) == (hours_before["business_hours"],
                                                                   hours_before["hours_exceptions"])
    sent = [r["json"].get("text", {}).get("body", "") for r in graph.requests]
    assert not any("marked sold out" in body or "Closed today" in body or "hours are now" in body for body in sent)
    assert not any("your week" in body for body in sent)
    assert not OwnerDigest.objects.for_business(tenant.business).exists()
    # They were customers: their messages are in customer conversations, answered by the assistant.
    customers = Conversation.objects.for_business(tenant.business).filter(external_id__in=[CUSTOMER, OTHER_OWNER])
    assert customers.count() == 2


# --------------------------------------------------------------------------- the weekly digest


def unanswered_question(tenant, text: str, *, days_ago: int = 2) -> Message:
    """A customer question the assistant could not answer, collected into a topic, ``days_ago``."""
    conversation = Conversation.objects.unscoped().create(business=tenant.business, assistant=tenant.assistant,
                                                          channel="widget")
    question = Message.objects.unscoped().create(business=tenant.business, conversation=conversation,
                                                 role=Message.Role.CUSTOMER, content=text)
    answer = Message.objects.unscoped().create(business=tenant.business, conversation=conversation,
                                               role=Message.Role.ASSISTANT, grounding="none", reply_to=question,
                                               content="I'm sorry, I don't have that information.")
    conversation.metadata = {"handoff_reason": "no_answer"}
    conversation.save()
    assert unanswered.unanswered_collect(business_id=tenant.business.pk, message_id=answer.pk, reason="no_answer")
    backdate(tenant, days_ago, conversation=conversation, messages=[question, answer])
    return question


def backdate(tenant, days: int, *, conversation, messages) -> None:
    when = timezone.now() - dt.timedelta(days=days)
    Conversation.objects.for_business(tenant.business).filter(pk=conversation.pk).update(created_at=when)
    Message.objects.for_business(tenant.business).filter(pk__in=[m.pk for m in messages]).update(
        created_at=when, rated_at=when)
    UnansweredQuestion.objects.for_business(tenant.business).filter(message__in=messages).update(asked_at=when)


def answered_and_rated(tenant, rating: str, *, days_ago: int = 2) -> None:
    conversation = Conversation.objects.unscoped().create(business=tenant.business, assistant=tenant.assistant,
                                                          channel="whatsapp")
    question = Message.objects.unscoped().create(business=tenant.business, conversation=conversation,
                                                 role=Message.Role.CUSTOMER, content="Do you have parking?")
    answer = Message.objects.unscoped().create(business=tenant.business, conversation=conversation,
                                               role=Message.Role.ASSISTANT, grounding="passages", reply_to=question,
                                               content="Yes, behind the restaurant.", rating=rating)
    backdate(tenant, days_ago, conversation=conversation, messages=[question, answer])


@pytest.fixture
def digest_now(settings):
    """Digests due right now: today is the send day, the hour has passed (00:00), and the
    questions of the test are dated inside the week before today."""
    settings.OWNER_DIGEST_WEEKDAY = timezone.now().astimezone(dt.UTC).weekday()
    settings.OWNER_DIGEST_HOUR = 0
    settings.FRONTDESK_PUBLIC_URL = "https://frontdesk.example"
    settings.WHATSAPP_DIGEST_TEMPLATE = ""


def test_the_digest_lists_the_weeks_numbers_and_top_topics_once_per_week(graph, queued, digest_now):  # noqa: F811
    tenant = menu_restaurant()
    connection = connect(tenant, owner=OWNER)
    owner_says(graph, queued, connection, "help")  # the owner wrote today: WhatsApp's 24-hour window is open
    for _ in range(3):
        unanswered_question(tenant, "Do you have gluten-free noodles?")
    unanswered_question(tenant, "Is there wifi for guests?")
    unanswered_question(tenant, "Do you sell gift cards?", days_ago=10)  # before the week: not listed
    answered_and_rated(tenant, "up")
    answered_and_rated(tenant, "down")
    before = len(graph.to(OWNER))

    digest = owner.owner_digest_send(business_id=tenant.business.pk)
    assert digest.numbers == {"conversations": 6, "handed_off": 4, "answered": 2, "not_answered": 4,
                              "thumbs_up": 1, "thumbs_down": 1}
    assert digest.whatsapp == "session"
    sent = [r["json"]["text"]["body"] for r in graph.to(OWNER)[before:]]
    assert len(sent) == 3  # the numbers, then one message per topic (most asked first)
    assert "Conversations: 6 (handed to a person: 4)" in sent[0] and "1 👍, 1 👎" in sent[0]
    assert "“Do you have gluten-free noodles?” (asked 3 times this week)" in sent[1]
    assert "wifi" in sent[2]
    assert not any("gift cards" in body for body in sent)

    # Never twice: the same week again (a second sweep, a redelivered task) sends nothing.
    assert owner.owner_digest_send(business_id=tenant.business.pk) is None
    channel_owner_digest_task(str(tenant.business.pk))
    assert tenant.business.pk not in owner.owner_digests_due()
    assert len(graph.to(OWNER)) == before + 3
    assert OwnerDigest.objects.for_business(tenant.business).count() == 1


def test_the_sweep_queues_only_the_digests_that_are_due(settings, monkeypatch):
    tenant = menu_restaurant()
    queued_ids: list[tuple] = []
    monkeypatch.setattr(channel_owner_digest_task, "delay", lambda *args: queued_ids.append(args))
    settings.OWNER_DIGEST_WEEKDAY = timezone.now().astimezone(dt.UTC).weekday()
    settings.OWNER_DIGEST_HOUR = 0
    assert channel_owner_digest_sweep_task() >= 1 and (str(tenant.business.pk),) in queued_ids
    # Tomorrow is the send day: nothing is due for this business today.
    settings.OWNER_DIGEST_WEEKDAY = (timezone.now().astimezone(dt.UTC).weekday() + 1) % 7
    assert tenant.business.pk not in owner.owner_digests_due()


def test_replying_to_a_digest_topic_answers_it_with_an_faq(graph, queued, digest_now):  # noqa: F811
    tenant = menu_restaurant()
    connection = connect(tenant, owner=OWNER)
    owner_says(graph, queued, connection, "help")
    unanswered_question(tenant, "Do you have gluten-free noodles?")
    owner.owner_digest_send(business_id=tenant.business.pk)
    shown = WhatsAppOutbound.objects.for_business(tenant.business).get(purpose="digest_topic")

    reply = owner_says(graph, queued, connection, "Yes: our dan dan noodles can be made with rice noodles.",
                       context_id=shown.wa_message_id)
    assert "Do you have gluten-free noodles?" in reply and "now get your answer" in reply
    topics = tenant.client().get(f"/api/v1/assistants/{tenant.assistant.pk}/unanswered",
                                 {"status": "answered"}).json()["results"]
    assert [t["id"] for t in topics] == [str(shown.topic_id)]
    faq = KnowledgeSource.objects.for_business(tenant.business).get(pk=UnansweredTopic.objects.for_business(
        tenant.business).get(pk=shown.topic_id).faq_source_id)
    assert faq.kind == "faq" and faq.faq_pairs == [{"question": "Do you have gluten-free noodles?",
                                                 "answer": "Yes: our dan dan noodles can be made with rice noodles."}]
    # A second reply to the same topic changes nothing.
    assert "answered already" in owner_says(graph, queued, connection, "Also buckwheat.",
                                            context_id=shown.wa_message_id)
    assert KnowledgeSource.objects.for_business(tenant.business).filter(kind="faq").count() == 1


def test_a_reply_to_another_businesss_digest_topic_does_not_answer_it(graph, queued, digest_now):  # noqa: F811
    tenant = menu_restaurant()
    connection = connect(tenant, owner=OWNER)
    owner_says(graph, queued, connection, "help")
    unanswered_question(tenant, "Do you have gluten-free noodles?")
    owner.owner_digest_send(business_id=tenant.business.pk)
    shown = WhatsAppOutbound.objects.for_business(tenant.business).get(purpose="digest_topic")
    rival = menu_restaurant("Rival Noodles")
    rival_connection = connect(rival, owner=OTHER_OWNER)
    reply = owner_says(graph, queued, rival_connection, "We do not.", sender=OTHER_OWNER,
                       context_id=shown.wa_message_id)
    assert "sold out mapo tofu" in reply  # the help: no topic of theirs has that id
    assert UnansweredTopic.objects.for_business(tenant.business).get(pk=shown.topic_id).status == "open"


def test_outside_the_24_hour_window_the_digest_is_a_template_or_email_only(graph, digest_now, settings):  # noqa: F811
    tenant = menu_restaurant()
    connect(tenant, owner=OWNER)  # the owner has not written to the business number
    unanswered_question(tenant, "Do you have gluten-free noodles?")
    digest = owner.owner_digest_send(business_id=tenant.business.pk)
    assert digest.whatsapp == "skipped" and graph.requests == []

    rival = menu_restaurant("Rival Noodles")
    connect(rival, owner=OTHER_OWNER)
    settings.WHATSAPP_DIGEST_TEMPLATE = "weekly_digest"
    digest = owner.owner_digest_send(business_id=rival.business.pk)
    assert digest.whatsapp == "template"
    [request] = graph.to(OTHER_OWNER)
    template = request["json"]["template"]
    assert request["json"]["type"] == "template" and template["name"] == "weekly_digest"
    assert [p["text"] for p in template["components"][0]["parameters"]] == ["Rival Noodles", "0", "0", "0", "0"]


def test_the_digest_is_emailed_to_the_owners(graph, digest_now, smtp_server):  # noqa: F811
    tenant = menu_restaurant()
    unanswered_question(tenant, "Do you have gluten-free noodles?")
    digest = owner.owner_digest_send(business_id=tenant.business.pk)
    assert digest.whatsapp == "skipped"  # no WhatsApp connection: email only
    [mail] = smtp_server.to(tenant.user.email)
    assert digest.emailed_to == [tenant.user.email]
    assert mail["Subject"] == "[Golden Dragon] Your week on Frontdesk"
    body = mail.get_content()
    assert "Conversations: 1 (handed to a person: 1)" in body
    assert "“Do you have gluten-free noodles?” (asked once this week)" in body
    assert "https://frontdesk.example/app/unanswered/" in body
    assert owner.owner_digest_send(business_id=tenant.business.pk) is None
    assert len(smtp_server.messages) == 1


def test_a_digest_for_a_business_that_does_not_exist_is_nothing(digest_now):
    assert owner.owner_digest_send(business_id=uuid.uuid4()) is None


def owner_asks(graph, queued, connection: dict, text: str) -> list[str]:  # noqa: F811
    """The owner sends ``text``; every message sent back to them (a digest is several)."""
    before = len(graph.to(OWNER))
    response = post_signed(delivery(connection["phone_number_id"], messages=[text_message(OWNER, text)]))
    assert response.status_code == 200, response.content
    run_queued(queued)
    return [r["json"]["text"]["body"] for r in graph.to(OWNER)[before:]]


def test_the_owner_texts_digest_and_gets_the_digest_of_the_last_7_days_now(graph, queued, smtp_server,  # noqa: F811
                                                                           settings):
    # Tomorrow is the weekly send day: the weekly job has nothing due, the command sends anyway.
    settings.OWNER_DIGEST_WEEKDAY = (timezone.now().astimezone(dt.UTC).weekday() + 1) % 7
    tenant = menu_restaurant()
    connection = connect(tenant, owner=OWNER)
    for _ in range(2):
        unanswered_question(tenant, "Do you have gluten-free noodles?", days_ago=1)
    unanswered_question(tenant, "Do you sell gift cards?", days_ago=9)  # before the 7 days: not listed
    answered_and_rated(tenant, "up", days_ago=0)

    sent = owner_asks(graph, queued, connection, "digest")
    assert len(sent) == 2  # the numbers, then the one topic, as the weekly job sends them
    today = timezone.now().astimezone(dt.UTC).date()
    assert f"your week, {(today - dt.timedelta(days=7)).isoformat()} to {today.isoformat()}" in sent[0]
    assert "Conversations: 3 (handed to a person: 2)" in sent[0] and "1 👍, 0 👎" in sent[0]
    assert "“Do you have gluten-free noodles?” (asked 2 times this week)" in sent[1]
    assert not any("gift cards" in body for body in sent)
    digest = OwnerDigest.objects.for_business(tenant.business).get()
    assert digest.requested and digest.whatsapp == "session" and digest.emailed_to == []
    assert smtp_server.messages == []  # asked on WhatsApp, answered on WhatsApp only
    assert tenant.business.pk not in owner.owner_digests_due()  # the weekly one is still to come

    # Its topic is answered by replying to it, as a weekly digest's.
    shown = WhatsAppOutbound.objects.for_business(tenant.business).get(purpose="digest_topic")
    reply = owner_says(graph, queued, connection, "Yes, rice noodles.", context_id=shown.wa_message_id)
    assert "now get your answer" in reply

    # In Chinese, asked again: a second digest, now with no open topic.
    [again] = owner_asks(graph, queued, connection, "周报")
    assert "本周摘要" in again
    assert OwnerDigest.objects.for_business(tenant.business).filter(requested=True).count() == 2


def test_a_requested_digest_does_not_take_the_place_of_the_weekly_one(graph, queued, digest_now,  # noqa: F811
                                                                       smtp_server):
    tenant = menu_restaurant()
    connection = connect(tenant, owner=OWNER)
    unanswered_question(tenant, "Do you have gluten-free noodles?")
    assert len(owner_asks(graph, queued, connection, "digest")) == 2
    assert tenant.business.pk in owner.owner_digests_due()
    weekly = owner.owner_digest_send(business_id=tenant.business.pk)
    assert weekly is not None and not weekly.requested and weekly.emailed_to == [tenant.user.email]
    assert len(smtp_server.messages) == 1


def test_a_redelivered_digest_command_sends_the_digest_once(graph, queued):  # noqa: F811
    tenant = menu_restaurant()
    connection = connect(tenant, owner=OWNER)
    unanswered_question(tenant, "Do you have gluten-free noodles?")
    message = text_message(OWNER, "digest")
    for _ in range(2):  # Meta delivers at least once
        assert post_signed(delivery(connection["phone_number_id"], messages=[message])).status_code == 200
        run_queued(queued)
    assert len(graph.to(OWNER)) == 2
    assert OwnerDigest.objects.for_business(tenant.business).count() == 1
