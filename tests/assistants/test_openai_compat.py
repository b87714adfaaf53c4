"""POST /v1/chat/completions with the official openai package as the client."""

from __future__ import annotations

import openai
import pytest

from assistants.models import Conversation, Message
from tests.assistants import kb
from tests.assistants.conftest import add_source
from tests.conftest import make_tenant

pytestmark = pytest.mark.django_db(transaction=True)


def _client(live, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{live.url}/v1", api_key=key, max_retries=0, timeout=30)


def _tenant():
    tenant = make_tenant("Golden Dragon")
    add_source(tenant, kind="faq", title="FAQ", pairs=kb.RESTAURANT_FAQ)
    return tenant


def test_openai_client_non_streaming(live_api):
    tenant = _tenant()
    completion = _client(live_api, tenant.secret_key).chat.completions.create(
        model=tenant.assistant.slug,
        messages=[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"},
                  {"role": "user", "content": "Can I bring my dog?"}],
    )
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.role == "assistant"
    assert "terrace" in completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.completion_tokens > 0
    conversation = Conversation.objects.for_business(tenant.business).get(channel="openai")
    assert Message.objects.for_business(tenant.business).filter(conversation=conversation).count() == 2


def test_openai_client_streaming_by_assistant_id(live_api):
    tenant = _tenant()
    stream = _client(live_api, tenant.secret_key).chat.completions.create(
        model=str(tenant.assistant.pk), messages=[{"role": "user", "content": "Do you have parking?"}], stream=True)
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "parking" in text
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    saved = Message.objects.for_business(tenant.business).get(role="assistant")
    assert saved.content == text


def test_openai_errors(live_api):
    tenant = _tenant()
    other = make_tenant("Rival Noodles")
    with pytest.raises(openai.NotFoundError):
        _client(live_api, tenant.secret_key).chat.completions.create(
            model="no-such-assistant", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.NotFoundError):  # another business's assistant is not a model you can use
        _client(live_api, other.secret_key).chat.completions.create(
            model=tenant.assistant.slug, messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.AuthenticationError):
        _client(live_api, "sk_invalid-key-invalid-key").chat.completions.create(
            model=tenant.assistant.slug, messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.PermissionDeniedError):
        _client(live_api, tenant.publishable_key).chat.completions.create(
            model=tenant.assistant.slug, messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.BadRequestError):
        _client(live_api, tenant.secret_key).chat.completions.create(model=tenant.assistant.slug, messages=[])
    with pytest.raises(openai.BadRequestError):
        _client(live_api, tenant.secret_key).chat.completions.create(
            model=tenant.assistant.slug, messages=[{"role": "user", "content": "nul \x00 byte"}])
    assert not Message.objects.for_business(other.business).exists()
