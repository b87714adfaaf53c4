"""The owner's phone: commands sent to the business's WhatsApp number from the owner number,
and the weekly digest (WhatsApp and email). docs/whatsapp.md "The owner's phone".

Every command is the service call the dashboard makes: ``catalog_item_update`` (sold out /
back, as the menu page's toggle), ``assistant_update`` (hours and dated exceptions, as the
assistant settings page), ``topic_answer`` (a reply to a digest topic, as the Unanswered page),
``owner_digest_request`` (``digest``: the weekly job's digest, for the 7 days up to now).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
import zoneinfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from rapidfuzz import fuzz, process
from rest_framework import serializers

from assistants.catalog.answers import items_named
from assistants.catalog.services import catalog_item_update
from assistants.channels.owner.commands import DAYS, Command, CommandError, command_parse
from assistants.channels.owner.selectors import digest_topics, week_numbers
from assistants.channels.whatsapp.outbound import outbound_send
from assistants.models import (
    Assistant,
    CatalogItem,
    OwnerDigest,
    UnansweredTopic,
    WhatsAppConnection,
    WhatsAppInbound,
    WhatsAppOutbound,
)
from assistants.serializers import validate_business_hours, validate_hours_exceptions
from assistants.services import assistant_update
from assistants.unanswered.selectors import topic_question
from assistants.unanswered.services import topic_answer
from businesses.models import Business
from config.errors import ApplicationError

logger = logging.getLogger(__name__)

Purpose = WhatsAppOutbound.Purpose
WINDOW = dt.timedelta(hours=24)  # WhatsApp's customer-service window for free-form messages
CANDIDATES = 5  # items named back when a name is unknown or ambiguous


def _language(business: Business, zh: bool) -> str:
    """A command typed in Chinese is answered in Chinese; anything else in the business's language."""
    return "zh-hans" if zh else (business.locale or settings.LANGUAGE_CODE)


# --------------------------------------------------------------------------- commands


def owner_message_answer(*, connection: WhatsAppConnection,
                         inbound: WhatsAppInbound) -> tuple[str, str] | None:
    """What to send back to a message from the owner number that is not a reply to a customer:
    ``(purpose, text)``. A reply to a digest topic answers the topic; a command is carried out;
    anything else gets the help text (it never reaches the assistant as a customer question).
    None for ``digest``: the digest's messages are the answer, sent here already."""
    business = connection.assistant.business
    text = inbound.text.strip() if inbound.type in ("text", "button", "interactive") else ""
    if inbound.context_id and text:
        shown = (WhatsAppOutbound.objects.for_business(connection.business_id)
                 .filter(connection=connection, purpose=Purpose.DIGEST_TOPIC, wa_message_id=inbound.context_id)
                 .select_related("topic").first())
        if shown is not None:
            with translation.override(_language(business, _has_cjk(text))):
                return Purpose.COMMAND, _topic_reply(shown.topic, text)
    try:
        command = command_parse(text)
    except CommandError as exc:
        with translation.override(_language(business, _has_cjk(text))):
            return Purpose.COMMAND, (_("“%(part)s” is not a day or a time range I can read, so nothing changed. "
                                       "Write it like: hours sat 12-22, or hours sun closed.") % {"part": exc})
    if command is None or command.kind == "help":
        with translation.override(_language(business, _has_cjk(text))):
            return Purpose.OWNER_HELP, owner_help_text()
    if command.kind == "digest":
        owner_digest_request(connection=connection, inbound=inbound, language=_language(business, command.zh))
        return None
    with translation.override(_language(business, command.zh)):
        return Purpose.COMMAND, owner_command_run(assistant=connection.assistant, command=command)


def _has_cjk(text: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" for ch in text)


def owner_help_text() -> str:
    return _("I didn't understand that. From this number you can send:\n"
             "• sold out mapo tofu / back mapo tofu\n"
             "• closed today / open today\n"
             "• hours sat 12-22 (or: hours sun closed)\n"
             "• digest: your weekly digest again, for the last 7 days\n"
             "• a reply to a customer alert (or start with its code, like #K7Q2) to answer that customer\n"
             "• a reply to a question in your weekly digest to teach the assistant the answer")


def owner_command_run(*, assistant: Assistant, command: Command) -> str:
    """Carry out one command on ``assistant`` and return the confirmation for the owner. An
    unknown or ambiguous item changes nothing and names the candidates."""
    if command.kind in ("sold_out", "back"):
        return _availability(assistant, command)
    if command.kind in ("closed_today", "open_today"):
        return _today(assistant, closed=command.kind == "closed_today")
    if command.kind == "hours":
        return _hours(assistant, command)
    raise ValueError(f"unknown command {command.kind!r}")


def _item_label(item: CatalogItem, zh: bool) -> str:
    if zh:
        local = next((v for v in (item.extra or {}).values() if isinstance(v, str) and _has_cjk(v)), "")
        if local:
            return local
    return item.name


def _availability(assistant: Assistant, command: Command) -> str:
    items = list(CatalogItem.objects.for_business(assistant.business_id).filter(assistant=assistant)
                 .order_by("ordinal", "name"))
    found = items_named(command.name, items)
    if len(found) != 1:
        return _no_single_item(command, items, found)
    [item] = found
    label = _item_label(item, command.zh)
    available = command.kind == "back"
    if item.available == available and (not available or item.available_until is None):
        return (_("%(item)s was already marked sold out; nothing changed.") if not available
                else _("%(item)s was already available; nothing changed.")) % {"item": label}
    data = {"available": available} if not available else {"available": True, "available_until": None}
    try:
        catalog_item_update(item=item, data=data)
    except ApplicationError as exc:  # the embedding server is down: the item was not changed
        return _("Nothing changed: %(reason)s") % {"reason": exc.message}
    if not available:
        return _("✅ %(item)s is marked sold out: customers who ask are told so. Send “back %(item)s” when "
                 "it is available again.") % {"item": label}
    return _("✅ %(item)s is available again.") % {"item": label}


def _no_single_item(command: Command, items: list[CatalogItem], found: list[CatalogItem]) -> str:
    if found:
        names = ", ".join(_item_label(item, command.zh) for item in found[:CANDIDATES])
        return _("“%(name)s” matches more than one item, so nothing changed: %(items)s. Send the full name.") % {
            "name": command.name, "items": names}
    if not items:
        return _("The menu has no items yet, so nothing changed.")
    by_label = {_item_label(item, command.zh): item for item in items}
    close = [label for label, _score, _i in process.extract(command.name, list(by_label), scorer=fuzz.WRatio,
                                                            limit=CANDIDATES)]
    return _("I couldn't find “%(name)s” on the menu, so nothing changed. Did you mean: %(items)s?") % {
        "name": command.name, "items": ", ".join(close)}


def _local_today(assistant: Assistant) -> dt.date:
    return timezone.now().astimezone(zoneinfo.ZoneInfo(assistant.business.timezone or "UTC")).date()


def _weekday_name(day: dt.date | int) -> str:
    index = day.weekday() if isinstance(day, dt.date) else day
    return [_("Monday"), _("Tuesday"), _("Wednesday"), _("Thursday"), _("Friday"), _("Saturday"),
            _("Sunday")][index]


def _today(assistant: Assistant, *, closed: bool) -> str:
    today = _local_today(assistant)
    others = [e for e in assistant.hours_exceptions or [] if str(e.get("date")) != today.isoformat()]
    had = len(others) != len(assistant.hours_exceptions or [])
    when = f"{_weekday_name(today)} {today.isoformat()}"
    if closed:
        exceptions = [*others, {"date": today.isoformat(), "closed": True, "note": "Closed today"}]
    elif not had:
        return _("Today (%(day)s) had no change to its hours; nothing changed.") % {"day": when}
    else:
        exceptions = others
    validate_hours_exceptions(exceptions)
    assistant_update(assistant=assistant, data={"hours_exceptions": exceptions})
    if closed:
        return _("✅ Closed today (%(day)s): customers who ask are told you are closed. Send “open today” to "
                 "undo.") % {"day": when}
    return _("✅ Today (%(day)s) is back to your usual hours.") % {"day": when}


def _hours(assistant: Assistant, command: Command) -> str:
    hours = {day: ranges for day, ranges in (assistant.business_hours or {}).items()}
    if command.ranges:
        hours[command.day] = [list(pair) for pair in command.ranges]
    else:
        hours.pop(command.day, None)
    try:
        validate_business_hours(hours)
    except serializers.ValidationError as exc:
        return _("Nothing changed: %(reason)s") % {"reason": " ".join(str(e) for e in exc.detail)}
    assistant_update(assistant=assistant, data={"business_hours": hours})
    day = _weekday_name(DAYS.index(command.day))
    if not command.ranges:
        return _("✅ %(day)s is now closed every week.") % {"day": day}
    ranges = ", ".join(f"{a}–{b}" for a, b in command.ranges)
    return _("✅ %(day)s hours are now %(hours)s.") % {"day": day, "hours": ranges}


def _topic_reply(topic: UnansweredTopic | None, answer: str) -> str:
    if topic is None or topic.status != UnansweredTopic.Status.OPEN:
        return _("That question was answered already; nothing changed.")
    question = topic_question(topic=topic) or ""
    try:
        topic_answer(topic=topic, answer=answer)
    except ApplicationError as exc:
        if exc.code in ("topic_answered", "topic_empty"):
            return _("That question was answered already; nothing changed.")
        return _("Nothing changed: %(reason)s") % {"reason": exc.message}
    return _("✅ Thanks! Customers who ask “%(question)s” now get your answer.") % {"question": question[:200]}


# --------------------------------------------------------------------------- the weekly digest


def digest_week(*, business: Business, now: dt.datetime) -> tuple[dt.date, dt.datetime, dt.datetime] | None:
    """``(week, start, end)`` of the digest due at ``now``, or None before this week's send time
    (``OWNER_DIGEST_WEEKDAY`` at ``OWNER_DIGEST_HOUR``, in the business's time zone). ``week``
    is the local Monday; the digest covers the 7 days before the send day's midnight."""
    tz = zoneinfo.ZoneInfo(business.timezone or "UTC")
    local = now.astimezone(tz)
    monday = local.date() - dt.timedelta(days=local.weekday())
    send_day = monday + dt.timedelta(days=settings.OWNER_DIGEST_WEEKDAY)
    if local < dt.datetime.combine(send_day, dt.time(settings.OWNER_DIGEST_HOUR), tzinfo=tz):
        return None
    end = dt.datetime.combine(send_day, dt.time(), tzinfo=tz)
    start = dt.datetime.combine(send_day - dt.timedelta(days=7), dt.time(), tzinfo=tz)
    return monday, start, end


def owner_digests_due(*, now: dt.datetime | None = None) -> list[uuid.UUID]:
    """The businesses whose digest of this week is due and not yet written (the sweep's body)."""
    now = now or timezone.now()
    due: dict = {}
    for business in Business.objects.order_by("created_at").only("pk", "timezone"):
        week = digest_week(business=business, now=now)
        if week is not None:
            due[business.pk] = week[0]
    # Tenant rows of many businesses at once: the sweep is the one reader that crosses tenants.
    done = set(OwnerDigest.objects.unscoped().filter(business_id__in=list(due), week__in=set(due.values()),
                                                     requested=False)
               .values_list("business_id", "week"))
    return [pk for pk, week in due.items() if (pk, week) not in done]


def owner_digest_send(*, business_id: uuid.UUID | str, now: dt.datetime | None = None) -> OwnerDigest | None:
    """Write this week's digest of the business and send it, once: None when it is not due or
    was written already (a second run, a redelivered task)."""
    now = now or timezone.now()
    business = Business.objects.filter(pk=business_id).first()
    if business is None:
        return None
    week = digest_week(business=business, now=now)
    if week is None:
        return None
    monday, start, end = week
    return _digest_write_send(business, week=monday, start=start, end=end, now=now,
                              connection=owner_connection(business_id=business.pk),
                              language=business.locale or settings.LANGUAGE_CODE)


def owner_digest_request(*, connection: WhatsAppConnection, inbound: WhatsAppInbound, language: str,
                         now: dt.datetime | None = None) -> OwnerDigest | None:
    """The owner texted ``digest``: the weekly digest written and sent as the weekly job does
    (``_digest_write_send``), covering the 7 days up to ``now``, on this connection's WhatsApp
    only (not emailed). Once per inbound message: None when it was written already."""
    business = connection.assistant.business
    now = now or timezone.now()
    local = now.astimezone(zoneinfo.ZoneInfo(business.timezone or "UTC"))
    monday = local.date() - dt.timedelta(days=local.weekday())
    return _digest_write_send(business, week=monday, start=local - dt.timedelta(days=7), end=local, now=now,
                              connection=connection, language=language, requested_by=inbound)


def _digest_write_send(business: Business, *, week: dt.date, start: dt.datetime, end: dt.datetime,
                       now: dt.datetime, connection: WhatsAppConnection | None, language: str,
                       requested_by: WhatsAppInbound | None = None) -> OwnerDigest | None:
    """Write the digest row of ``[start, end)`` (None if it exists: never sent twice), then send
    it on WhatsApp and, for the weekly one, by email."""
    from assistants.channels.email.services import digest_email_send

    numbers = week_numbers(business_id=business.pk, start=start, end=end)
    topics = digest_topics(business_id=business.pk, start=start, end=end)
    try:
        with transaction.atomic():
            digest = OwnerDigest.objects.unscoped().create(
                business_id=business.pk, week=week, period_start=start, period_end=end, numbers=numbers,
                topic_ids=[str(t.pk) for t in topics], requested=requested_by is not None,
                requested_by=requested_by)
    except IntegrityError:
        return None
    with translation.override(language):
        summary = _digest_summary(business, digest, topics)
        topic_texts = [_digest_topic_text(index, topic) for index, topic in enumerate(topics, 1)]
        subject = _("[%(business)s] Your week on Frontdesk") % {"business": business.name}
        body = _digest_email_body(summary, topic_texts)
    digest.whatsapp = _digest_whatsapp(business, connection, digest, summary,
                                       list(zip(topics, topic_texts, strict=True)), now)
    if not digest.requested:
        digest.emailed_to = digest_email_send(business=business, subject=subject, body=body)
    digest.save(update_fields=["whatsapp", "emailed_to", "updated_at"])
    return digest


def _digest_summary(business: Business, digest: OwnerDigest, topics: list[UnansweredTopic]) -> str:
    n = digest.numbers
    # The last day covered: the day before the weekly digest's midnight, today for a requested one.
    last_day = (digest.period_end - dt.timedelta(microseconds=1)).astimezone(digest.period_start.tzinfo)
    lines = [
        _("%(business)s: your week, %(start)s to %(end)s") % {
            "business": business.name, "start": digest.period_start.date().isoformat(),
            "end": last_day.date().isoformat()},
        _("Conversations: %(n)d (handed to a person: %(handed)d)") % {"n": n["conversations"],
                                                                      "handed": n["handed_off"]},
        _("Answers: %(answered)d answered, %(not)d not answered") % {"answered": n["answered"],
                                                                      "not": n["not_answered"]},
        _("Ratings: %(up)d 👍, %(down)d 👎") % {"up": n["thumbs_up"], "down": n["thumbs_down"]},
    ]
    if topics:
        lines += ["", _("Top unanswered questions follow, one message each: reply to one with the answer and "
                        "the assistant learns it.")]
    else:
        lines += ["", _("No unanswered questions this week.")]
    return "\n".join(lines)


def _digest_topic_text(index: int, topic: UnansweredTopic) -> str:
    example = topic.examples[0] if topic.examples else ""
    asked = (ngettext("asked once this week", "asked %(count)d times this week", topic.week_count)
             % {"count": topic.week_count})
    return f"{index}. “{example[:500]}” ({asked})"


def _digest_email_body(summary: str, topic_texts: list[str]) -> str:
    lines = [summary.split("\n\n")[0], ""]
    if topic_texts:
        lines += [_("Top unanswered questions:"), *topic_texts, "",
                  _("Answer them on the Unanswered page, or reply to them on WhatsApp:"),
                  f"{settings.FRONTDESK_PUBLIC_URL}/app/unanswered/"]
    else:
        lines.append(_("No unanswered questions this week."))
    lines += ["", "-- ", _("You get this weekly email as an owner of the business on Frontdesk.")]
    return "\n".join(lines) + "\n"


def owner_connection(*, business_id: uuid.UUID | str) -> WhatsAppConnection | None:
    """The business's first WhatsApp connection that names an owner number."""
    return (WhatsAppConnection.objects.for_business(business_id).exclude(owner_whatsapp="")
            .select_related("assistant__business").order_by("created_at").first())


def _digest_whatsapp(business: Business, connection: WhatsAppConnection | None, digest: OwnerDigest, summary: str,
                     topics: list[tuple[UnansweredTopic, str]], now: dt.datetime) -> str:
    """Send the digest to the owner's WhatsApp on ``connection``; what happened (OwnerDigest.whatsapp)."""
    if connection is None or not connection.owner_whatsapp:
        return "skipped"
    window_open = WhatsAppInbound.objects.for_business(business.pk).filter(
        connection=connection, sender=connection.owner_whatsapp, created_at__gte=now - WINDOW).exists()

    def record(purpose: str, text: str, topic: UnansweredTopic | None = None) -> WhatsAppOutbound:
        return WhatsAppOutbound.objects.unscoped().create(
            business_id=business.pk, connection=connection, digest=digest, topic=topic, purpose=purpose,
            to=connection.owner_whatsapp, text=text)

    if not window_open:
        # Outside the 24-hour window Meta delivers only an approved template: the numbers go as
        # its parameters, the topics stay in the email (they cannot be replied to there).
        name = settings.WHATSAPP_DIGEST_TEMPLATE
        if not name:
            return "skipped"
        n = digest.numbers
        parameters = [business.name, n["conversations"], n["answered"], n["handed_off"], len(topics)]
        sent = outbound_send(connection=connection, outbound=record(Purpose.DIGEST, summary),
                             template=(name, settings.WHATSAPP_DIGEST_TEMPLATE_LANGUAGE, [str(p) for p in parameters]))
        return "template" if sent.status != WhatsAppOutbound.Status.FAILED else "failed"
    sent = outbound_send(connection=connection, outbound=record(Purpose.DIGEST, summary))
    if sent.status == WhatsAppOutbound.Status.FAILED:
        return "failed"
    for topic, text in topics:
        outbound_send(connection=connection, outbound=record(Purpose.DIGEST_TOPIC, text, topic))
    return "session"
