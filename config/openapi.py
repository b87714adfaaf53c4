"""OpenAPI post-processing: the error answers every operation can give, in the error shape.

Any request can be refused before its view runs (a bad key 401, a rate limit 429, an over-size
body 413, a wrong content type 415, malformed input 400, another business's object 404, a
role or key kind 403), so every operation documents those with the Error schema, besides the
answers its own view declares. A fuzzer (tests/config/test_fuzz.py) holds the schema to it.
"""

from __future__ import annotations

ALWAYS = (400, 401, 403, 404, 413, 415, 429)
# A POST can also meet the plan's limit (402 quota_exceeded) or a conflicting state (409).
POST = (402, 409)
# Operations with an answer of their own: Stripe not set up on this server, or not answering.
EXTRA = {"/api/v1/billing/checkout": (503,), "/api/v1/billing/portal": (503,)}
ERROR = {"$ref": "#/components/schemas/Error"}


def add_error_responses(result, generator, request, public):
    for path, path_item in result.get("paths", {}).items():
        for method, operation in path_item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            for code in ALWAYS + (POST if method == "post" else ()) + EXTRA.get(path, ()):
                responses.setdefault(str(code), {"description": "Error (the error shape; see docs/api.md)",
                                                 "content": {"application/json": {"schema": ERROR}}})
    return result
