"""Schema fuzzing: schemathesis generates requests for every operation of the OpenAPI schema and
sends them to the real ASGI app, with a secret key and with a publishable key. No response may
be a server error or disagree with the schema (status code, content type, body). The example
budget is fixed (FUZZ_EXAMPLES per operation and key) so the run stays short."""

from __future__ import annotations

import os

import pytest
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import make_tenant

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "30"))
PAYMENTS = {"/api/v1/billing/checkout", "/api/v1/billing/portal"}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_whole_schema_fuzzed_with_both_kinds_of_key(live_api):
    from django.conf import settings as django_settings

    django_settings.RATELIMIT_ENABLED = False  # a fuzzer is faster than any plan's rate limit
    tenant = make_tenant("Fuzzed Bistro")
    schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
    failures: list[str] = []
    for key_name, key in [("secret", tenant.secret_key), ("publishable", tenant.publishable_key)]:
        for result in schema.get_all_operations():
            operation = result.ok()
            if operation.path in {"/api/v1/business"} and operation.method.upper() == "DELETE":
                continue

            @given(case=operation.as_strategy())
            @settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None,
                      phases=[Phase.explicit, Phase.generate],
                      suppress_health_check=list(HealthCheck))
            def run(case):
                response = case.call(base_url=live_api.url, headers={"Authorization": f"Bearer {key}"})  # noqa: B023
                if response.status_code == 503 and operation.path in PAYMENTS:  # noqa: B023 (run here)
                    # Payments are not set up in this run (no STRIPE_SECRET_KEY): the documented 503.
                    assert response.json()["error"]["code"] == "billing_not_configured"
                    return
                case.validate_response(response, checks=CHECKS)

            try:
                run()
            except (Exception, BaseExceptionGroup) as exc:  # collect every operation's failure, then fail once
                failures.append(f"[{key_name}] {operation.method.upper()} {operation.path}: {exc}"[:1500])
    assert not failures, "\n\n".join(failures)
