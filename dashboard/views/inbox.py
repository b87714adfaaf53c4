"""The inbox: conversations by state and channel, updating live (htmx polls the list and the
open conversation); take over, reply as staff (the customer reads it in the widget or gets it
on WhatsApp), release, close; a staff reply becomes an FAQ."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from assistants.channels.whatsapp.services import faq_from_message
from assistants.chat import services as chat
from assistants.models import Conversation, Message
from assistants.selectors import conversation_inbox, conversation_list
from businesses.audit import Actor
from businesses.roles import Capability
from dashboard.access import member_page
from dashboard.text import is_htmx

PAGE_SIZE = 50
CHANNELS = [c for c in Conversation.Channel.values if c != Conversation.Channel.PLAYGROUND]


def _filters(request) -> tuple[str, str]:
    state = request.GET.get("state", "")
    channel = request.GET.get("channel", "")
    return (state if state in Conversation.State.values else "",
            channel if channel in CHANNELS else "")


def _conversations(request) -> list[Conversation]:
    state, channel = _filters(request)
    return conversation_inbox(business=request.business, state=state or None, channel=channel or None,
                              limit=PAGE_SIZE)


@member_page(Capability.INBOX)
def inbox(request):
    state, channel = _filters(request)
    context = {"conversations": _conversations(request), "state": state, "channel": channel,
               "states": Conversation.State.values, "channels": CHANNELS,
               "waiting": conversation_list(business=request.business,
                                            state=Conversation.State.HANDOFF).count()}
    template = "dashboard/_inbox_list.html" if is_htmx(request) else "dashboard/inbox.html"
    return render(request, template, context)


def _conversation(request, pk) -> Conversation:
    return get_object_or_404(
        Conversation.objects.for_business(request.business).exclude(channel=Conversation.Channel.PLAYGROUND)
        .select_related("assistant"), pk=pk)


def _messages(conversation: Conversation) -> list[Message]:
    return list(Message.objects.for_business(conversation.business_id).filter(conversation=conversation)
                .filter(~Q(status=Message.Status.PENDING) | ~Q(role=Message.Role.ASSISTANT))
                .order_by("created_at"))


@member_page(Capability.INBOX)
def conversation(request, pk):
    item = _conversation(request, pk)
    context = {"conversation": item, "messages_list": _messages(item)}
    template = "dashboard/_conversation_messages.html" if is_htmx(request) else "dashboard/conversation.html"
    return render(request, template, context)


@require_POST
@member_page(Capability.INBOX)
def conversation_action(request, pk, action: str):
    item = _conversation(request, pk)
    if action == "takeover":
        chat.conversation_handoff(conversation=item, reason="staff_takeover")
        messages.success(request, _("You have this conversation: the assistant stays quiet until you release it."))
    elif action == "release":
        chat.conversation_set_state(conversation=item, state=Conversation.State.BOT)
        messages.success(request, _("The assistant answers this customer again."))
    elif action == "close":
        chat.conversation_set_state(conversation=item, state=Conversation.State.CLOSED)
        messages.success(request, _("Conversation closed."))
    elif action == "reply":
        content = request.POST.get("content", "").strip()
        if not content:
            messages.error(request, _("Write a reply first."))
        elif len(content) > 4000:
            messages.error(request, _("A reply has at most 4,000 characters."))
        else:
            chat.staff_message_send(conversation=item, content=content)
    else:
        raise Http404
    return redirect("dashboard:conversation", pk=item.pk)


@require_POST
@member_page(Capability.KNOWLEDGE)
def reply_to_faq(request, pk, message_pk):
    """Teach the assistant a staff reply: an FAQ with the customer's question before it."""
    item = _conversation(request, pk)
    message = get_object_or_404(Message.objects.for_business(request.business).filter(conversation=item),
                                pk=message_pk)
    source = faq_from_message(message=message, actor=Actor.from_request(request))
    messages.success(request, _("Added to the knowledge as “%(title)s”.") % {"title": source.title})
    return redirect("dashboard:conversation", pk=item.pk)
