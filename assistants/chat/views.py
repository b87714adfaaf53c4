"""Conversation endpoints. Sending a message (and streaming its answer) and the
OpenAI-compatible endpoint are async views (many conversations in flight, each waiting
on the model server, none holding a thread); the rest are ordinary DRF views."""

from __future__ import annotations

import json
import time
import uuid

from django.db import transaction
from django.http import JsonResponse, StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response

from assistants.chat import fairness, feedback, services
from assistants.chat.serializers import (
    ConversationSerializer,
    ConversationStartSerializer,
    MessageFeedbackSerializer,
    MessageSendSerializer,
    MessageSerializer,
    message_dict,
)
from assistants.chat.services import Done, Failed, db
from assistants.models import Assistant, Conversation, Message
from assistants.privacy import services as privacy
from assistants.privacy.views import ErasedSerializer
from assistants.selectors import conversation_list
from businesses.api.ratelimit import client_ip
from businesses.api.views import TenantAPIView, async_api_view, json_body
from businesses.audit import Actor
from businesses.permissions import IsAnyKey
from config.errors import ApplicationError
from inference.types import ChatDelta, ChatMessage

CUSTOMER_TOKEN_HEADER = "X-Customer-Token"  # noqa: S105 - a header name


class ConversationStartView(TenantAPIView):
    permission_classes = [IsAnyKey]

    @extend_schema(request=ConversationStartSerializer, responses={201: ConversationSerializer},
                   summary="Start a conversation (secret or publishable key)")
    def post(self, request, pk):
        assistant = self.get_scoped(Assistant, pk, what="assistant")
        serializer = ConversationStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        conversation, token = services.conversation_start(assistant=assistant, key=request.auth,
                                                          **serializer.validated_data)
        body = {"id": str(conversation.pk), "assistant_id": str(assistant.pk), "state": conversation.state,
                "channel": conversation.channel}
        if token:
            body["customer_token"] = token
        return Response(body, status=status.HTTP_201_CREATED)


class ConversationListView(TenantAPIView):
    @extend_schema(parameters=[
        OpenApiParameter("state", str, enum=Conversation.State.values),
        OpenApiParameter("grounding", str, enum=Message.Grounding.values,
                         description="Only conversations with an answer of this grounding (none: the "
                                     "assistant handed the question to a person)."),
    ], responses=ConversationSerializer(many=True), summary="The inbox")
    def get(self, request):
        state = request.query_params.get("state")
        grounding = request.query_params.get("grounding")
        # An empty ?state= is a mistake (a form sent unfilled), not "any state".
        if state is not None and state not in Conversation.State.values:
            raise ApplicationError("validation_error", "state must be bot, handoff or closed.",
                                   details={"fields": {"state": ["Unknown state."]}})
        if grounding is not None and grounding not in Message.Grounding.values:
            raise ApplicationError("validation_error", "grounding must be catalog, hours, passages or none.",
                                   details={"fields": {"grounding": ["Unknown grounding."]}})
        queryset = conversation_list(business=self.business, state=state, grounding=grounding)
        return self.paginate(queryset, ConversationSerializer)


class ConversationDetailView(TenantAPIView):
    def get_permissions(self):
        # Erasure is also the customer's own right: the widget asks with its X-Customer-Token.
        if self.request.method == "DELETE":
            return [IsAnyKey()]
        return super().get_permissions()

    @extend_schema(responses=ConversationSerializer, summary="A conversation")
    def get(self, request, pk):
        return Response(ConversationSerializer(self.get_scoped(Conversation, pk, what="conversation")).data)

    @extend_schema(
        request=None, responses={200: ErasedSerializer, 404: OpenApiResponse(description="No such conversation")},
        parameters=[OpenApiParameter(CUSTOMER_TOKEN_HEADER, str, OpenApiParameter.HEADER, description=(
            "With a publishable key: the conversation's customer token (the widget's \"delete my data\")."))],
        summary="Erase a conversation: its messages and everything that holds them (hard delete)")
    def delete(self, request, pk):
        conversation = services.conversation_for_caller(
            business=self.business, conversation_id=pk, key=request.auth,
            customer_token=request.headers.get(CUSTOMER_TOKEN_HEADER))
        actor = Actor.from_request(request) if request.auth.is_secret else Actor.customer(ip=client_ip(request))
        counts = privacy.conversation_erase(conversation=conversation, actor=actor)
        return Response({"deleted": counts})


class _StateView(TenantAPIView):
    target = ""

    @extend_schema(request=None, responses=ConversationSerializer)
    def post(self, request, pk):
        conversation = self.get_scoped(Conversation, pk, what="conversation")
        conversation = services.conversation_set_state(conversation=conversation, state=self.target)
        return Response(ConversationSerializer(conversation).data)


class HandoffView(_StateView):
    """Staff take over: the assistant stays silent until released. A customer may ask for it
    too (the web widget's "talk to a person"): a publishable key, on its own conversation only,
    with its X-Customer-Token; release and close stay with the business (secret key)."""

    target = Conversation.State.HANDOFF
    permission_classes = [IsAnyKey]

    @extend_schema(request=None, responses=ConversationSerializer,
                   summary="Hand the conversation to a person (sk; or pk with its X-Customer-Token)")
    def post(self, request, pk):
        # Why, for the inbox and the handoff email: the business took over, or the customer asked.
        if request.auth.is_secret:
            conversation = self.get_scoped(Conversation, pk, what="conversation")
            conversation = services.conversation_handoff(conversation=conversation, reason="staff_takeover")
            return Response(ConversationSerializer(conversation).data)
        token = request.headers.get(CUSTOMER_TOKEN_HEADER)
        if not token:  # decided from the headers alone: says nothing about the conversation
            raise ApplicationError("permission_denied", "A publishable key can ask for a person only on its own "
                                   f"conversation: send its {CUSTOMER_TOKEN_HEADER}.", status=403)
        conversation = services.conversation_for_caller(business=self.business, conversation_id=pk,
                                                        key=request.auth, customer_token=token)
        conversation = services.conversation_handoff(conversation=conversation, reason="customer_request")
        return Response(ConversationSerializer(conversation).data)


class ReleaseView(_StateView):
    """Give the conversation back to the assistant."""

    target = Conversation.State.BOT


class CloseView(_StateView):
    target = Conversation.State.CLOSED


class MessageFeedbackView(TenantAPIView):
    """Rate an assistant answer: its customer (publishable key + the conversation's
    X-Customer-Token) or the business (secret key). ``{"rating": null}`` removes the rating."""

    permission_classes = [IsAnyKey]

    @extend_schema(
        request=MessageFeedbackSerializer,
        responses={200: MessageSerializer,
                   400: OpenApiResponse(description="validation_error, or not_an_answer (only a complete "
                                                    "assistant answer can be rated)"),
                   404: OpenApiResponse(description="No such message for this caller")},
        parameters=[OpenApiParameter(CUSTOMER_TOKEN_HEADER, str, OpenApiParameter.HEADER, description=(
            "Required with a publishable key: the token returned when the conversation started."))],
        summary="Rate an answer up or down (sk; or pk with its X-Customer-Token)")
    def post(self, request, pk):
        message = feedback.message_for_caller(business=self.business, message_id=pk, key=request.auth,
                                              customer_token=request.headers.get(CUSTOMER_TOKEN_HEADER))
        serializer = MessageFeedbackSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        message = feedback.message_rate(message=message, rating=serializer.validated_data["rating"],
                                        comment=serializer.validated_data["comment"])
        return Response(message_dict(message))


# --------------------------------------------------------------------------- async


def _sse(event: str, data: dict) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def _failed_body(customer: Message, failed: Failed) -> dict:
    return {"error": {
        "code": "inference_unavailable",
        "message": "The assistant could not answer right now. Your message is saved; retry with the same "
                   "Idempotency-Key.",
        "details": {"message_id": str(customer.pk), "answer_id": str(failed.answer.pk), "reason": failed.error.code},
    }}


@async_api_view(methods=("GET", "POST"))
async def conversation_messages(request, key, pk):
    """GET: the conversation's messages. POST: send a message and get the answer (JSON, or
    server-sent events with ``Accept: text/event-stream``)."""
    token = request.headers.get(CUSTOMER_TOKEN_HEADER)
    conversation = await db(services.conversation_for_caller)(business=request.business, conversation_id=pk,
                                                              key=key, customer_token=token)
    if request.method == "GET":
        messages = await db(_message_list)(conversation)
        return JsonResponse({"results": messages, "next": None})

    data = json_body(request)
    serializer = MessageSendSerializer(data=data)
    if not serializer.is_valid():  # two plain fields: CPU only, no thread hop
        raise ApplicationError("validation_error", "The request has invalid fields; see details.",
                               details={"fields": serializer.errors})
    content, role = serializer.validated_data["content"], serializer.validated_data["role"]
    if role == Message.Role.STAFF:
        if not key.is_secret:
            raise ApplicationError("permission_denied", "Only secret keys can send staff messages.", status=403)
        staff = await db(services.staff_message_send)(conversation=conversation, content=content)
        return JsonResponse({"message": message_dict(staff), "answer": None}, status=201)

    # Per-minute limits (429) and the plan's quota (402) refuse a message before it is kept, so a
    # retry adds no duplicate. Checked, saved, reserved and prepared in one database call
    # (services.message_answer_begin).
    sent, prepared = await db(services.message_answer_begin)(
        conversation=conversation, content=content, idempotency_key=request.headers.get("Idempotency-Key") or None)
    streaming = "text/event-stream" in request.headers.get("Accept", "")
    if prepared is None:
        # Handoff (a person answers), or the replay of an answered message.
        body = {"message": message_dict(sent.customer), "answer": message_dict(sent.answer)}
        if streaming:
            return _stream_static(body, sent.answer)
        return JsonResponse(body, status=200 if sent.replayed else 201)

    events = services.answer_events(prepared)
    if streaming:
        return _stream(sent.customer, events)
    async for item in events:
        if isinstance(item, Done):
            return JsonResponse({"message": message_dict(sent.customer), "answer": message_dict(item.answer)},
                                status=200 if sent.replayed else 201)
        if isinstance(item, Failed):
            response = JsonResponse(_failed_body(sent.customer, item), status=503)
            response["Retry-After"] = "5"
            return response
    raise ApplicationError("internal_error", "The answer ended without a result.", status=500)


def _message_list(conversation: Conversation) -> list[dict]:
    messages = Message.objects.for_business(conversation.business_id).filter(
        conversation=conversation).order_by("created_at", "id")
    return [message_dict(m) for m in messages]


def _sse_response(generator) -> StreamingHttpResponse:
    response = StreamingHttpResponse(generator, content_type="text/event-stream; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event through at once
    return response


def _stream_static(body: dict, answer: Message | None) -> StreamingHttpResponse:
    async def gen():
        if answer is not None and answer.content:
            yield _sse("delta", {"text": answer.content})
        yield _sse("done", body)

    return _sse_response(gen())


def _stream(customer: Message, events) -> StreamingHttpResponse:
    async def gen():
        async for item in events:
            if isinstance(item, ChatDelta):
                yield _sse("delta", {"text": item.text})
            elif isinstance(item, fairness.Queued):  # at once, then every few seconds while it waits
                yield _sse("queued", {"position": item.position})
            elif isinstance(item, Done):
                yield _sse("done", {"message": message_dict(customer), "answer": message_dict(item.answer)})
            elif isinstance(item, Failed):
                yield _sse("error", _failed_body(customer, item))

    return _sse_response(gen())


# --------------------------------------------------------------------------- OpenAI-compatible


def _assistant_by_model(business, model: str) -> Assistant:
    queryset = Assistant.objects.for_business(business)
    assistant = queryset.filter(slug=model).first()
    if assistant is None:
        try:
            assistant = queryset.filter(pk=uuid.UUID(model)).first()
        except ValueError:  # neither a slug of theirs nor a UUID
            assistant = None
    if assistant is None:
        raise ApplicationError("model_not_found", f"No assistant with id or slug '{model}'. The model is your "
                               "assistant's id or slug.", status=404)
    return assistant


def _openai_start(business, key, data: dict):
    """Validate an OpenAI chat request and save it as a conversation with the customer's question."""
    model, messages = data.get("model"), data.get("messages")
    if not isinstance(model, str) or not model:
        raise ApplicationError("validation_error", "'model' (your assistant's id or slug) is required.")
    if (not isinstance(messages, list) or not messages
            or not all(isinstance(m, dict) and isinstance(m.get("content"), str) and "\x00" not in m["content"]
                       and m.get("role") in ("system", "user", "assistant", "developer") for m in messages)):
        raise ApplicationError("validation_error", "'messages' must be a non-empty list of {role, content}.")
    if messages[-1]["role"] != "user":
        raise ApplicationError("validation_error", "The last message must be the user's.")
    assistant = _assistant_by_model(business, model)
    history = [ChatMessage(role=m["role"], content=m["content"]) for m in messages[:-1]
               if m["role"] in ("user", "assistant")]
    with transaction.atomic():  # refused for the quota (402): neither the conversation nor the message is kept
        conversation, _ = services.conversation_start(assistant=assistant, key=key,
                                                      channel=Conversation.Channel.OPENAI,
                                                      external_id=str(data.get("user") or "")[:200])
        conversation.assistant = assistant
        fairness.message_limits_check(conversation=conversation)
        sent = services.message_send(conversation=conversation, content=messages[-1]["content"][:8000],
                                     idempotency_key=None, reserve_quota=True)
    return assistant, services.answer_prepare(conversation=sent.conversation, customer=sent.customer,
                                              history=history, first_answer=True, sent=sent)


@async_api_view(methods=("POST",), secret_only=True)
async def openai_chat_completions(request, key):
    """OpenAI's chat completions API; ``model`` is the assistant's id or slug."""
    data = json_body(request)
    assistant, prepared = await db(_openai_start)(request.business, key, data)
    created, completion_id = int(time.time()), f"chatcmpl-{prepared.answer.pk}"
    events = services.answer_events(prepared)

    def chunk(delta: dict, finish_reason=None, usage=None) -> bytes:
        body = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": assistant.slug,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}
        if usage is not None:
            body["usage"] = usage
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n".encode()

    if data.get("stream"):
        async def gen():
            yield chunk({"role": "assistant", "content": ""})
            async for item in events:
                if isinstance(item, ChatDelta):
                    yield chunk({"content": item.text})
                elif isinstance(item, fairness.Queued):
                    yield b": queued\n\n"  # an SSE comment: OpenAI clients skip it, proxies see life
                elif isinstance(item, Done):
                    yield chunk({}, finish_reason=item.finish_reason, usage=_usage(item.answer))
                elif isinstance(item, Failed):
                    error = {"error": {"message": "The model server is unavailable; retry.",
                                       "type": "server_error", "code": "inference_unavailable"}}
                    yield f"data: {json.dumps(error)}\n\n".encode()
            yield b"data: [DONE]\n\n"

        return _sse_response(gen())

    async for item in events:
        if isinstance(item, Done):
            answer = item.answer
            return JsonResponse({
                "id": completion_id, "object": "chat.completion", "created": created, "model": assistant.slug,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.content},
                             "finish_reason": item.finish_reason}],
                "usage": _usage(answer),
                "citations": answer.citations,
            })
        if isinstance(item, Failed):
            return JsonResponse({"error": {"message": "The model server is unavailable; retry.",
                                           "type": "server_error", "code": "inference_unavailable"}}, status=503)
    raise ApplicationError("internal_error", "The answer ended without a result.", status=500)


def _usage(answer: Message) -> dict:
    return {"prompt_tokens": answer.tokens_in, "completion_tokens": answer.tokens_out,
            "total_tokens": answer.tokens_in + answer.tokens_out}
