"""Handoff emails: when a conversation goes to ``handoff``, every member of the business (owner,
admin, staff) and the business's ``handoff_email`` get one mail saying a customer is waiting,
with the customer's last messages and a link to the conversation in the dashboard's inbox.

The mail server is the edge of the process: a connection that cannot be made, is dropped or
times out is a ``TransientEmailError`` (the task retries it); a refusal (a bad address, a login
the server rejects) is logged and not retried, since sending again would be refused again.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from datetime import datetime
from uuid import UUID

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.utils import translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from assistants.models import Conversation, HandoffEmail, Message
from businesses.models import Business, Membership

logger = logging.getLogger(__name__)

SUBJECT_SNIPPET_CHARS = 60
LAST_MESSAGES = 3  # the customer's messages quoted in the mail, oldest first


class TransientEmailError(Exception):
    """The mail server could not be reached, dropped the connection or timed out."""


def handoff_email_recipients(*, business: Business) -> list[str]:
    """Every active member with an address, then the business's handoff address: each address
    once, compared without case (the first spelling is the one written to)."""
    addresses = list(Membership.objects.filter(business=business, user__is_active=True).exclude(user__email="")
                     .order_by("created_at", "pk").values_list("user__email", flat=True))
    if business.handoff_email:
        addresses.append(business.handoff_email)
    seen: set[str] = set()
    recipients = []
    for address in (a.strip() for a in addresses):
        if address and address.lower() not in seen:
            seen.add(address.lower())
            recipients.append(address)
    return recipients


def handoff_email_send(*, business_id: UUID | str, conversation_id: UUID | str, handoff_at: str) -> list[str]:
    """Tell everyone who should hear of this handoff and has not yet (the task's body).

    ``handoff_at`` names the handoff (the receiver's stamp of it): each address that the mail
    server accepted is recorded against it at once, so a retry after a dropped connection writes
    only to the rest. Nothing is sent once the conversation left ``handoff`` (a person already
    gave it back or closed it). Returns the addresses written to by this call."""
    conversation = (Conversation.objects.for_business(business_id).select_related("business")
                    .filter(pk=conversation_id).first())
    if conversation is None or conversation.state != Conversation.State.HANDOFF:
        return []
    at = parse_datetime(handoff_at)
    if at is None:
        raise ValueError(f"handoff_at is not a timestamp: {handoff_at!r}")
    done = set(HandoffEmail.objects.for_business(business_id).filter(conversation=conversation, handoff_at=at)
               .values_list("recipient", flat=True))
    pending = [a for a in handoff_email_recipients(business=conversation.business) if a.lower() not in done]
    if not pending:
        return []
    subject, body = _handoff_email_text(conversation)
    sent: list[str] = []
    connection = get_connection(fail_silently=False)
    try:
        connection.open()
        for address in pending:
            mail = EmailMessage(subject, body, to=[address], connection=connection,
                                headers={"Auto-Submitted": "auto-generated"})  # RFC 3834: no auto-replies
            try:
                mail.send()
            except smtplib.SMTPRecipientsRefused as exc:
                if _transient(exc):
                    raise
                logger.warning("handoff email for conversation %s: the mail server refused %s (%s)",
                               conversation.pk, address, _reason(exc))
                continue
            _record(conversation, at, address)
            sent.append(address)
    except OSError as exc:  # smtplib's errors are OSErrors too
        if _transient(exc):
            raise TransientEmailError(f"{_reason(exc)}; sent to {len(sent)} of {len(pending)}") from exc
        logger.error("handoff email for conversation %s not sent to %d of %d addresses: the mail server "
                     "refused it (%s)", conversation.pk, len(pending) - len(sent), len(pending), _reason(exc))
    finally:
        _close(connection)
    return sent


def _transient(exc: OSError) -> bool:
    """Errors that can pass: the connection, not the mail. Code 421 is the server saying it is
    closing the channel (overloaded, restarting)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return any(code == 421 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError):
        return True
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code == 421
    if isinstance(exc, smtplib.SMTPException | ssl.SSLError):
        return False  # a refusal, or a TLS setting that will not work the next time either
    return True  # refused, reset, unreachable, timed out, name not resolved


def _reason(exc: OSError) -> str:
    return f"{type(exc).__name__}: {exc}"


def _record(conversation: Conversation, at: datetime, address: str) -> None:
    try:
        with transaction.atomic():  # a savepoint: a duplicate leaves an outer transaction usable
            HandoffEmail.objects.unscoped().create(business_id=conversation.business_id, conversation=conversation,
                                                   handoff_at=at, recipient=address.lower())
    except IntegrityError:
        pass  # another run of the task recorded it first


def _close(connection) -> None:
    try:
        connection.close()
    except OSError as exc:  # the mails went out; a failed QUIT changes nothing
        logger.info("closing the SMTP connection failed: %s", _reason(exc))


def _one_line(text: str) -> str:
    return " ".join(text.split())


CHANNELS = {
    Conversation.Channel.WIDGET: gettext_lazy("web chat"),
    Conversation.Channel.API: gettext_lazy("API"),
    Conversation.Channel.WHATSAPP: gettext_lazy("WhatsApp"),
    Conversation.Channel.OPENAI: gettext_lazy("OpenAI-compatible API"),
}


def _reason_text(reason: str) -> str:
    return {
        "customer_request": _("The customer asked for a person."),
        "no_answer": _("The assistant could not answer from its knowledge."),
        "quota_exceeded": _("The plan's messages for this month are used up, so the assistant could not answer."),
        "inference_unavailable": _("The assistant's model server was unavailable."),
        "rate_limited": _("The customer sent more messages a minute than the limits allow, so the assistant did "
                          "not answer."),
    }.get(reason) or (reason or _("Handed over with the widget's “Talk to a person” button or through the API."))


def _handoff_email_text(conversation: Conversation) -> tuple[str, str]:
    """The subject and plain-text body, in the business's language."""
    business = conversation.business
    asked = list(Message.objects.for_business(conversation.business_id)
                 .filter(conversation=conversation, role=Message.Role.CUSTOMER)
                 .order_by("-created_at")[:LAST_MESSAGES])[::-1]
    link = f"{settings.FRONTDESK_PUBLIC_URL}/app/inbox/{conversation.pk}/"
    name = _one_line(business.name)
    with translation.override(business.locale or settings.LANGUAGE_CODE):
        if asked:
            last = _one_line(asked[-1].content)
            snippet = last if len(last) <= SUBJECT_SNIPPET_CHARS else last[:SUBJECT_SNIPPET_CHARS].rstrip() + "…"
            subject = _("[%(business)s] A customer is waiting: %(message)s") % {"business": name,
                                                                               "message": snippet}
            quoted = "\n\n".join("\n".join(f"> {line}" for line in m.content.splitlines() or [""]) for m in asked)
        else:
            subject = _("[%(business)s] A customer is waiting") % {"business": name}
            quoted = _("(No message yet: they pressed “Talk to a person”.)")
        customer = _one_line(str(conversation.metadata.get("customer_name") or ""))
        lines = [
            _("A customer is waiting for a person at %(business)s.") % {"business": name},
            "",
            _("Channel: %(channel)s") % {"channel": CHANNELS.get(conversation.channel, conversation.channel)},
            _("Reason: %(reason)s") % {"reason": _reason_text(str(conversation.metadata.get("handoff_reason") or ""))},
        ]
        if customer:
            lines.append(_("Customer: %(name)s") % {"name": customer})
        lines += [
            "",
            _("Their last messages:") if len(asked) > 1 else _("Their last message:"),
            "",
            quoted,
            "",
            _("Answer them in the inbox:"),
            link,
            "",
            "-- ",
            _("You get this email as a member of %(business)s on Frontdesk, or because it is the business's "
              "handoff address.") % {"business": name},
        ]
    return subject, "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- the owner's weekly digest


def owner_email_recipients(*, business: Business) -> list[str]:
    """The business's active owners with an address, each address once (compared without case)."""
    addresses = (Membership.objects.filter(business=business, role=Membership.Role.OWNER, user__is_active=True)
                 .exclude(user__email="").order_by("created_at", "pk").values_list("user__email", flat=True))
    seen: set[str] = set()
    recipients = []
    for address in (a.strip() for a in addresses):
        if address and address.lower() not in seen:
            seen.add(address.lower())
            recipients.append(address)
    return recipients


def digest_email_send(*, business: Business, subject: str, body: str) -> list[str]:
    """Mail the weekly digest to the business's owners, one mail each; returns the addresses the
    mail server accepted. Not retried: the digest is sent at most once (OwnerDigest), and a mail
    server that is down this Monday is logged, with the digest still on WhatsApp and the
    Unanswered page."""
    recipients = owner_email_recipients(business=business)
    sent: list[str] = []
    if not recipients:
        return sent
    connection = get_connection(fail_silently=False)
    try:
        connection.open()
        for address in recipients:
            mail = EmailMessage(subject, body, to=[address], connection=connection,
                                headers={"Auto-Submitted": "auto-generated"})
            try:
                mail.send()
            except smtplib.SMTPRecipientsRefused as exc:
                logger.warning("digest email of business %s: the mail server refused %s (%s)", business.pk,
                               address, _reason(exc))
                continue
            sent.append(address)
    except OSError as exc:
        logger.error("digest email of business %s not sent to %d of %d owners: %s", business.pk,
                     len(recipients) - len(sent), len(recipients), _reason(exc))
    finally:
        _close(connection)
    return sent
