"""OpenAPI for the endpoints DRF does not serve.

The chat send/stream endpoint and the OpenAI-compatible endpoint are plain async Django views
(DRF has no async views), so drf-spectacular cannot see them; this post-processing hook adds
their description to the generated schema.
"""

from __future__ import annotations

ERROR = {"$ref": "#/components/schemas/Error"}
_JSON = "application/json"


def _error_responses(*codes: int) -> dict:
    return {str(code): {"description": "Error", "content": {_JSON: {"schema": ERROR}}} for code in codes}


MESSAGE = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "conversation_id": {"type": "string", "format": "uuid"},
        "role": {"type": "string", "enum": ["customer", "assistant", "staff", "system"]},
        "content": {"type": "string"},
        "citations": {"type": "array", "items": {"type": "object", "properties": {
            "source_id": {"type": "string", "format": "uuid"}, "source_title": {"type": "string"},
            "chunk_id": {"type": "string", "format": "uuid"}}}},
        "status": {"type": "string", "enum": ["pending", "complete", "failed"]},
        "error": {"type": "string", "nullable": True},
        "backend": {"type": "string", "nullable": True},
        "grounding": {"type": "string", "enum": ["catalog", "hours", "passages", "none"], "nullable": True},
        "usage": {"type": "object", "properties": {"prompt_tokens": {"type": "integer"},
                                                   "completion_tokens": {"type": "integer"}}},
        "rating": {"type": "string", "enum": ["up", "down"], "nullable": True},
        "rating_comment": {"type": "string", "nullable": True},
        "created_at": {"type": "string", "format": "date-time"},
    },
}

CONVERSATION_PARAMETERS = [
    {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}},
    {"name": "X-Customer-Token", "in": "header", "required": False, "schema": {"type": "string"},
     "description": "Required with a publishable key: the token returned when the conversation started."},
]

PATHS = {
    "/api/v1/conversations/{id}/messages": {
        "get": {
            "parameters": CONVERSATION_PARAMETERS,
            "operationId": "conversations_messages_list",
            "summary": "The conversation's messages (secret key, or publishable key + customer token)",
            "tags": ["conversations"],
            "responses": {"200": {"description": "Messages, oldest first", "content": {_JSON: {"schema": {
                "type": "object", "properties": {"results": {"type": "array", "items": MESSAGE},
                                                 "next": {"type": "string", "nullable": True}}}}}},
                          **_error_responses(401, 404)},
        },
        "post": {
            "operationId": "conversations_messages_send",
            "summary": "Send a message and get the answer; Accept: text/event-stream streams it",
            "description": "Events when streaming: `delta` {\"text\"}, then `done` (the JSON body) or `error`. "
                           "An Idempotency-Key header makes retries safe. Staff (secret key) send "
                           "{\"content\", \"role\": \"staff\"}.",
            "tags": ["conversations"],
            "parameters": [*CONVERSATION_PARAMETERS,
                           {"name": "Idempotency-Key", "in": "header", "required": False,
                            "schema": {"type": "string", "maxLength": 200}}],
            "requestBody": {"required": True, "content": {_JSON: {"schema": {
                "type": "object", "required": ["content"], "properties": {
                    "content": {"type": "string", "maxLength": 8000},
                    "role": {"type": "string", "enum": ["customer", "staff"], "default": "customer"}}}}}},
            "responses": {
                "201": {"description": "The message and its answer (null in handoff)", "content": {
                    _JSON: {"schema": {"type": "object", "properties": {
                        "message": MESSAGE, "answer": {**MESSAGE, "nullable": True}}}},
                    "text/event-stream": {"schema": {"type": "string"}}}},
                "200": {"description": "The replay of an Idempotency-Key"},
                **_error_responses(400, 401, 402, 403, 404, 409, 413, 415, 422, 429, 503),
            },
        },
    },
    "/v1/chat/completions": {
        "post": {
            "operationId": "openai_chat_completions",
            "summary": "OpenAI-compatible chat completions; model = the assistant's id or slug",
            "tags": ["openai"],
            "requestBody": {"required": True, "content": {_JSON: {"schema": {
                "type": "object", "required": ["model", "messages"], "properties": {
                    "model": {"type": "string"},
                    "messages": {"type": "array", "items": {"type": "object", "properties": {
                        "role": {"type": "string"}, "content": {"type": "string"}}}},
                    "stream": {"type": "boolean", "default": False},
                    "user": {"type": "string"}}}}}},
            "responses": {"200": {"description": "A chat.completion, or chat.completion.chunk events",
                                  "content": {_JSON: {"schema": {"type": "object"}},
                                              "text/event-stream": {"schema": {"type": "string"}}}},
                          **_error_responses(400, 401, 403, 404, 429, 503)},
        },
    },
}


def add_async_endpoints(result, generator, request, public):
    """drf-spectacular POSTPROCESSING_HOOKS entry."""
    result.setdefault("paths", {}).update(PATHS)
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Error", {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message", "details"], "properties": {
            "code": {"type": "string"}, "message": {"type": "string"}, "details": {"type": "object"}}}}})
    return result
