"""bench/chat.py's floor: what the stack costs per streamed message before any of Frontdesk's
own work. ``POST /bench/relay`` takes a prompt (the one the Frontdesk rows' tenant gets) and
relays the model's stream as SSE ``delta`` events and a ``done``, through everything a chat
message passes on its way in and out: gunicorn's uvicorn workers, config.asgi and its body
limit, Django's ASGI handler and the async views' middleware, the vLLM client
(inference/vllm.py) and a ``StreamingHttpResponse``. No key, no database, no embedding, no
grounding: the text is sent a sentence at a time, as the grounding gate sends it, so both rows
send the same number of events. Served only by the bench (bench/floor_settings.py)."""

from __future__ import annotations

import json

from django.http import JsonResponse, StreamingHttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from config.urls import urlpatterns as frontdesk_urls
from inference import providers
from inference.types import ChatDelta, ChatMessage, ChatRequest


def _sse(event: str, data: dict) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


@csrf_exempt
async def relay(request):
    try:
        body = json.loads(request.body)
        chat = ChatRequest(messages=[ChatMessage(role=m["role"], content=m["content"]) for m in body["messages"]],
                           max_tokens=int(body["max_tokens"]), temperature=float(body["temperature"]))
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"error": {"code": "validation_error", "message": "A prompt is required."}}, status=400)

    async def events():
        pending = ""
        async for item in providers.chat_backend().stream(chat):
            if isinstance(item, ChatDelta):
                pending += item.text
                end = max(pending.rfind(". "), pending.rfind("! "), pending.rfind("? "))
                if end >= 0:  # whole sentences out, the rest kept
                    yield _sse("delta", {"text": pending[:end + 2]})
                    pending = pending[end + 2:]
        if pending:
            yield _sse("delta", {"text": pending})
        yield _sse("done", {})

    response = StreamingHttpResponse(events(), content_type="text/event-stream; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    return response


urlpatterns = [path("bench/relay", relay), *frontdesk_urls]
