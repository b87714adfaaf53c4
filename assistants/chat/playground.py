"""The owner's playground: ask the assistant a question exactly as a customer would (the same
retrieval, catalog, hours and grounding checks) and see, beside the answer, every passage the
search found with its scores — hit testing. The exchange is a real conversation on the
``playground`` channel, which the inbox leaves out; it counts against the plan like any answer,
since it runs the same model."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from assistants.chat.services import answer_prepare, answer_run, message_send
from assistants.models import Assistant, Conversation, Message
from assistants.retrieval import Passage
from assistants.selectors import chunks_search


@dataclass
class PlaygroundAnswer:
    question: str
    answer: Message
    passages: list[Passage]
    floor: float


def playground_ask(*, assistant: Assistant, question: str) -> PlaygroundAnswer:
    """Answer ``question`` as a first message, in a new playground conversation."""
    conversation = Conversation.objects.unscoped().create(
        business_id=assistant.business_id, assistant=assistant, channel=Conversation.Channel.PLAYGROUND)
    sent = message_send(conversation=conversation, content=question, idempotency_key=None)
    prepared = answer_prepare(conversation=sent.conversation, customer=sent.customer, first_answer=True)
    answer = answer_run(prepared).answer
    passages = chunks_search(assistant=assistant, query=question, k=settings.CHAT_PASSAGES)
    return PlaygroundAnswer(question, answer, passages, settings.CHAT_RELEVANCE_FLOOR)
