from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema


def _api_routes(patterns=None, prefix: str = "") -> set[str]:
    routes = set()
    for p in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(p, URLResolver):
            routes |= _api_routes(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            route = prefix + str(p.pattern)
            if route.startswith("api/v1/") or route.startswith("v1/"):
                # drf-spectacular names a path's ``pk`` "id" and keeps other parameters' names.
                routes.add("/" + re.sub(r"<(?:\w+:)?(\w+)>",
                                        lambda m: "{id}" if m[1] == "pk" else f"{{{m[1]}}}", route))
    return routes


def test_openapi_schema_validates_and_lists_every_endpoint():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    validate_schema(schema)
    assert _api_routes() <= set(schema["paths"]), _api_routes() - set(schema["paths"])
    assert "/api/v1/signup" in schema["paths"]
    assert schema["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"


@pytest.mark.django_db
def test_schema_and_docs_are_served(anon):
    response = anon.get("/api/schema/?format=json")
    assert response.status_code == 200
    assert "/api/v1/assistants" in response.json()["paths"]
    assert anon.get("/api/docs/").status_code == 200


def test_list_endpoints_are_described_as_pages_with_a_cursor():
    """Every list answers {results, next}; the schema says so (not a bare array), with ?cursor= and ?limit=."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    lists = ["/api/v1/assistants", "/api/v1/api-keys", "/api/v1/conversations", "/api/v1/assistants/{id}/sources",
             "/api/v1/webhooks"]
    for path in lists:
        operation = schema["paths"][path]["get"]
        body = operation["responses"]["200"]["content"]["application/json"]["schema"]
        ref = body["$ref"].rsplit("/", 1)[-1]
        component = schema["components"]["schemas"][ref]
        assert component["type"] == "object" and set(component["required"]) == {"results", "next"}, path
        assert component["properties"]["results"]["type"] == "array", path
        assert {p["name"] for p in operation["parameters"]} >= {"cursor", "limit"}, path
