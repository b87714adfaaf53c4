"""Knowledge tests (assistants/regression/, docs/knowledge-tests.md): questions whose answers must
keep their facts, run on demand and before every new version of a source is published."""

from __future__ import annotations

import time

import pytest
from django.db import transaction

from assistants.ingestion import pipeline
from assistants.models import KnowledgeSource, KnowledgeTest, SourceReview
from assistants.regression import services
from assistants.regression.tasks import knowledge_run_task
from tests.assistants.conftest import add_source, ingest, upload
from tests.conftest import free_port, make_tenant

pytestmark = pytest.mark.django_db(transaction=True)

LUNCH = "The lunch menu costs €14.50 from Monday to Friday."
DINNER = "Dinner is served from 18:00 to 22:30."
PRICE_QUESTION = "How much is the lunch menu?"
MENU_CSV = "dish,price,allergens\nMapo tofu,12.50,soy\nKung Pao chicken,14.00,peanuts\n"


def ask(tenant, content: str) -> dict:
    api = tenant.client()
    conversation = api.post(f"/api/v1/assistants/{tenant.assistant.pk}/conversations", {}, format="json").json()
    response = api.post(f"/api/v1/conversations/{conversation['id']}/messages", {"content": content}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["answer"]


def test_create(tenant, body: dict, assistant_id=None):
    return tenant.client().post(f"/api/v1/assistants/{assistant_id or tenant.assistant.pk}/tests", body,
                                format="json")


test_create.__test__ = False  # a helper, not a test


def resync(tenant, source_id: str, **body) -> dict:
    response = tenant.client().post(f"/api/v1/sources/{source_id}/resync", body,
                                    format="multipart" if "file" in body else "json")
    assert response.status_code == 202, response.content
    return ingest(tenant, source_id)


def lunch_restaurant():
    tenant = make_tenant("Golden Dragon")
    source = add_source(tenant, kind="text", title="Prices", text=f"{LUNCH}\n\n{DINNER}")
    assert source["status"] == "ready"
    return tenant, source


def test_tests_are_added_listed_and_deleted_over_the_api():
    tenant, _source = lunch_restaurant()
    response = test_create(tenant, {"question": "  How much is   the lunch menu? ", "must_contain": ["€14.50"],
                                    "must_not_contain": ["€12"]})
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["question"] == PRICE_QUESTION and created["must_contain"] == ["€14.50"]
    assert created["origin"] == "owner" and created["last_result"] == "" and created["must_hand_off"] is False
    handoff = test_create(tenant, {"question": "Can I pay with bitcoin?", "must_hand_off": True}).json()
    listed = tenant.client().get(f"/api/v1/assistants/{tenant.assistant.pk}/tests").json()
    assert {t["id"] for t in listed["results"]} == {created["id"], handoff["id"]}
    assert tenant.client().get(f"/api/v1/tests/{created['id']}").json()["must_not_contain"] == ["€12"]
    assert tenant.client().delete(f"/api/v1/tests/{created['id']}").status_code == 204
    assert tenant.client().get(f"/api/v1/tests/{created['id']}").status_code == 404


@pytest.mark.parametrize("body, field", [
    ({"question": ""}, "question"),
    ({"question": "   "}, "question"),
    ({"question": "Price?", "must_contain": "€14.50"}, "must_contain"),
    ({"question": "Price?", "must_contain": [14.5]}, "must_contain"),
    ({"question": "Price?", "must_contain": ["x" * 201]}, "must_contain"),
    ({"question": "Price?", "must_contain": ["€1"], "must_hand_off": True}, "must_contain"),
    ({"question": "Price?", "must_contain": ["€1"], "must_not_contain": ["€1"]}, "must_not_contain"),
    ({"question": "Price?", "expect": ["€1"]}, "expect"),
    ({"question": "x" * 1001}, "question"),
])
def test_a_malformed_test_is_refused_with_the_field_named(tenant, body, field):
    response = test_create(tenant, body)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error" and field in error["details"]["fields"]
    assert KnowledgeTest.objects.for_business(tenant.business).count() == 0


def test_a_run_reports_each_test_with_the_answer_given():
    tenant, _source = lunch_restaurant()
    passing = test_create(tenant, {"question": PRICE_QUESTION, "must_contain": ["€14.50"]}).json()
    failing = test_create(tenant, {"question": "When is dinner served?", "must_contain": ["19:00"]}).json()
    handoff = test_create(tenant, {"question": "Can I pay with bitcoin?", "must_hand_off": True}).json()
    api = tenant.client()
    queued: list = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(services, "enqueue_on_commit", lambda task, *args: transaction.on_commit(
            lambda: queued.append(args)))
        response = api.post(f"/api/v1/assistants/{tenant.assistant.pk}/tests/run")
    assert response.status_code == 202 and response.json()["status"] == "queued"
    knowledge_run_task.apply(args=queued.pop()).get()
    run = api.get(f"/api/v1/test-runs/{response.json()['id']}").json()
    assert run["status"] == "done" and (run["total"], run["passed"], run["failed"]) == (3, 2, 1)
    by_id = {r["test_id"]: r for r in run["results"]}
    assert by_id[passing["id"]]["passed"] and "€14.50" in by_id[passing["id"]]["answer"]
    assert not by_id[failing["id"]]["passed"] and "“19:00”" in by_id[failing["id"]]["reason"]
    assert "22:30" in by_id[failing["id"]]["answer"]
    assert by_id[handoff["id"]]["passed"] and by_id[handoff["id"]]["grounding"] == "none"
    stored = api.get(f"/api/v1/tests/{failing['id']}").json()
    assert stored["last_result"] == "failed" and stored["last_run_at"] and "22:30" in stored["last_answer"]


def test_a_run_without_tests_is_refused(tenant):
    response = tenant.client().post(f"/api/v1/assistants/{tenant.assistant.pk}/tests/run")
    assert response.status_code == 409 and response.json()["error"]["code"] == "no_tests"


def test_a_resync_that_drops_a_tested_fact_waits_for_review_and_the_old_version_keeps_answering():
    tenant, source = lunch_restaurant()
    test = test_create(tenant, {"question": PRICE_QUESTION, "must_contain": ["€14.50"]}).json()
    held = resync(tenant, source["id"], text=f"Lunch is served from noon.\n\n{DINNER}")
    assert held["status"] == "needs_review", held
    [failure] = held["review"]["failures"]
    assert failure["test_id"] == test["id"] and failure["question"] == PRICE_QUESTION
    assert "€14.50" in failure["answer_before"] and "€14.50" not in failure["answer_after"]
    # With no price left in the knowledge the honest answer is the handoff.
    assert failure["reason"] == "It handed the question to a person instead of answering."
    # Customers still get the version that serves.
    answer = ask(tenant, PRICE_QUESTION)
    assert "€14.50" in answer["content"] and answer["grounding"] == "passages"

    published = tenant.client().post(f"/api/v1/sources/{source['id']}/publish")
    assert published.status_code == 200, published.content
    assert published.json()["status"] == "ready" and published.json()["review"] is None
    assert "€14.50" not in ask(tenant, PRICE_QUESTION)["content"]
    assert SourceReview.objects.for_business(tenant.business).count() == 0
    assert KnowledgeSource.objects.for_business(tenant.business).get(pk=source["id"]).previous_input is None
    again = tenant.client().post(f"/api/v1/sources/{source['id']}/publish")
    assert again.status_code == 409 and again.json()["error"]["code"] == "nothing_to_review"


def test_discarding_a_held_version_puts_the_serving_content_back():
    tenant, source = lunch_restaurant()
    test_create(tenant, {"question": PRICE_QUESTION, "must_contain": ["€14.50"]})
    assert resync(tenant, source["id"], text="We are a family restaurant.")["status"] == "needs_review"
    discarded = tenant.client().post(f"/api/v1/sources/{source['id']}/discard")
    assert discarded.status_code == 200, discarded.content
    assert discarded.json()["status"] == "ready" and discarded.json()["review"] is None
    stored = KnowledgeSource.objects.for_business(tenant.business).get(pk=source["id"])
    assert stored.text == f"{LUNCH}\n\n{DINNER}" and stored.previous_input is None
    assert "€14.50" in ask(tenant, PRICE_QUESTION)["content"]
    # A change that keeps the fact goes straight through, and the test's verdict is kept.
    kept = resync(tenant, source["id"], text=f"{LUNCH}\n\nWe are a family restaurant.")
    assert kept["status"] == "ready"
    [test] = KnowledgeTest.objects.for_business(tenant.business)
    assert test.last_result == "passed" and "€14.50" in test.last_answer


def test_a_new_source_that_answers_a_question_meant_for_a_person_is_held():
    tenant, _source = lunch_restaurant()
    test_create(tenant, {"question": "Can I pay with bitcoin?", "must_hand_off": True})
    held = add_source(tenant, kind="faq", title="Payments",
                      pairs=[{"question": "Can I pay with bitcoin?", "answer": "Yes, we accept bitcoin at the till."}])
    assert held["status"] == "needs_review" and held["chunk_count"] == 0
    assert "bitcoin" in held["review"]["failures"][0]["answer_after"]
    assert ask(tenant, "Can I pay with bitcoin?")["grounding"] == "none"  # nothing of it serves
    discarded = tenant.client().post(f"/api/v1/sources/{held['id']}/discard").json()
    assert discarded["status"] == "failed" and discarded["error_code"] == "discarded"


def test_a_menu_upload_that_changes_a_tested_price_keeps_the_old_items_until_published():
    tenant = make_tenant("Golden Dragon")
    menu = add_source(tenant, kind="file", title="Menu", file=upload("menu.csv", MENU_CSV.encode(), "text/csv"))
    assert menu["status"] == "ready" and menu["items_count"] == 2
    test_create(tenant, {"question": "How much is the mapo tofu?", "must_contain": ["12.50"]})
    new_menu = MENU_CSV.replace("12.50", "13.80")
    held = resync(tenant, menu["id"], file=upload("menu.csv", new_menu.encode(), "text/csv"))
    assert held["status"] == "needs_review"
    items = tenant.client().get(f"/api/v1/assistants/{tenant.assistant.pk}/catalog/items").json()["results"]
    assert {i["name"]: i["price"] for i in items}["Mapo tofu"] == "12.50"
    assert "12.50" in ask(tenant, "How much is the mapo tofu?")["content"]
    assert tenant.client().post(f"/api/v1/sources/{menu['id']}/publish").json()["status"] == "ready"
    items = tenant.client().get(f"/api/v1/assistants/{tenant.assistant.pk}/catalog/items").json()["results"]
    assert {i["name"]: i["price"] for i in items}["Mapo tofu"] == "13.80"
    assert "13.80" in ask(tenant, "How much is the mapo tofu?")["content"]


def test_a_discarded_menu_upload_puts_the_old_file_back():
    tenant = make_tenant("Golden Dragon")
    menu = add_source(tenant, kind="file", title="Menu", file=upload("menu.csv", MENU_CSV.encode(), "text/csv"))
    test_create(tenant, {"question": "How much is the mapo tofu?", "must_contain": ["12.50"]})
    resync(tenant, menu["id"], file=upload("new-menu.csv", MENU_CSV.replace("12.50", "13.80").encode(), "text/csv"))
    discarded = tenant.client().post(f"/api/v1/sources/{menu['id']}/discard").json()
    assert discarded["status"] == "ready" and discarded["file_name"] == "menu.csv"
    # A plain resync now processes the file that serves, not the discarded one.
    assert resync(tenant, menu["id"])["status"] == "ready"
    assert "12.50" in ask(tenant, "How much is the mapo tofu?")["content"]


def test_the_tests_cannot_run_when_the_model_server_is_down_so_nothing_is_published(settings):
    tenant, source = lunch_restaurant()
    test_create(tenant, {"question": PRICE_QUESTION, "must_contain": ["€14.50"]})
    settings.INFERENCE_BASE_URL = [f"http://127.0.0.1:{free_port()}/v1"]  # nothing listens there
    settings.INFERENCE_MODEL = "tiny"
    settings.INFERENCE_MAX_RETRIES = 0
    tenant.client().post(f"/api/v1/sources/{source['id']}/resync", {"text": "Lunch is served from noon."},
                         format="json")
    with pytest.raises(pipeline.TransientIngestionError):
        pipeline.source_ingest(business_id=tenant.business.pk, source_id=source["id"], final_attempt=False)
    assert KnowledgeSource.objects.for_business(tenant.business).get(pk=source["id"]).status == "pending"
    pipeline.source_ingest(business_id=tenant.business.pk, source_id=source["id"])
    failed = tenant.client().get(f"/api/v1/sources/{source['id']}").json()
    assert failed["status"] == "failed" and failed["error_code"] == "tests_unavailable"
    settings.INFERENCE_BASE_URL = []
    assert "€14.50" in ask(tenant, PRICE_QUESTION)["content"]  # the old version still serves


def test_an_answered_topic_becomes_tests_with_the_answers_numbers():
    from assistants.unanswered import services as unanswered

    tenant, _source = lunch_restaurant()
    for question in ("Is there a kids menu?", "Do you have a menu for children?"):
        ask(tenant, question)
    with pytest.MonkeyPatch.context() as patch:  # collect the questions now
        patch.setattr(unanswered, "enqueue_on_commit", lambda task, *args: transaction.on_commit(
            lambda: task.apply(args=args).get()))
        ask(tenant, "Is there a kids menu?")
    topic = tenant.client().get(f"/api/v1/assistants/{tenant.assistant.pk}/unanswered").json()["results"][0]
    response = tenant.client().post(f"/api/v1/assistants/{tenant.assistant.pk}/unanswered/{topic['id']}/answer",
                                    {"answer": "Yes, the kids menu costs €7.90 and comes with a drink."},
                                    format="json")
    assert response.status_code == 201, response.content
    tests = list(KnowledgeTest.objects.for_business(tenant.business))
    assert tests and {t.origin for t in tests} == {"topic"} and all(t.must_contain == ["€7.90"] for t in tests)
    assert {str(t.topic_id) for t in tests} == {topic["id"]}
    assert "Is there a kids menu?" in {t.question for t in tests}


@pytest.mark.parametrize("text, facts", [
    ("The kids menu costs €7.90 and comes with a drink.", ["€7.90"]),
    ("We open at 11:30 and close at 22:00; call 020 7946 0958.", ["11:30", "22:00", "020 7946 0958"]),
    ("Yes, dogs are welcome.", []),
    ("套餐价格是88元。", ["88元"]),
])
def test_the_facts_of_an_answer_are_its_numbers_as_written(text, facts):
    assert services.answer_facts(text) == facts


def test_another_business_cannot_see_or_touch_the_tests(other_tenant):
    tenant, source = lunch_restaurant()
    test = test_create(tenant, {"question": PRICE_QUESTION, "must_contain": ["€14.50"]}).json()
    resync(tenant, source["id"], text="We are a family restaurant.")
    run = services.knowledge_run_start(assistant=tenant.assistant)
    other = other_tenant.client()
    base = f"/api/v1/assistants/{tenant.assistant.pk}"
    for response in (other.get(f"{base}/tests"), test_create(other_tenant, {"question": "x?"}, tenant.assistant.pk),
                     other.post(f"{base}/tests/run"), other.get(f"/api/v1/tests/{test['id']}"),
                     other.delete(f"/api/v1/tests/{test['id']}"), other.get(f"/api/v1/test-runs/{run.pk}"),
                     other.post(f"/api/v1/sources/{source['id']}/publish"),
                     other.post(f"/api/v1/sources/{source['id']}/discard")):
        assert response.status_code == 404, response.content
    assert KnowledgeTest.objects.for_business(tenant.business).count() == 1
    assert KnowledgeSource.objects.for_business(tenant.business).get(pk=source["id"]).status == "needs_review"


def test_a_run_through_the_api_and_a_real_worker(celery_worker_process):
    tenant, _source = lunch_restaurant()
    test_create(tenant, {"question": PRICE_QUESTION, "must_contain": ["€14.50"]})
    api = tenant.client()
    run = api.post(f"/api/v1/assistants/{tenant.assistant.pk}/tests/run").json()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        body = api.get(f"/api/v1/test-runs/{run['id']}").json()
        if body["status"] in ("done", "failed"):
            break
        time.sleep(0.2)
    assert body["status"] == "done" and body["passed"] == 1, body


@pytest.mark.parametrize("fair", [True, False])
def test_a_test_run_holds_no_more_answers_in_flight_than_the_plan_allows(settings, fair):
    """The tests' answers queue at the model servers with the business's share (fair sharing):
    four at once by KNOWLEDGE_TESTS_CONCURRENCY, one by a plan's cap of one. Without fair sharing
    (the control) the four overlap."""
    import uuid

    from billing.models import Plan, Subscription
    from tests.inference.misbehaving_server import misbehaving_server

    tenant, _source = lunch_restaurant()
    plan = Plan.objects.create(code=f"test-{uuid.uuid4().hex[:8]}", name="One at a time", messages_per_month=1000,
                               max_assistants=5, max_sources=50, max_knowledge_bytes=10**8, answers_in_flight=1)
    Subscription.objects.for_business(tenant.business).update(plan=plan)
    questions = [PRICE_QUESTION, "What does lunch cost?", "Price of the lunch menu?", "How much is lunch?"]
    for question in questions:
        assert test_create(tenant, {"question": question}).status_code == 201
    settings.KNOWLEDGE_TESTS_CONCURRENCY = 4
    settings.INFERENCE_FAIR_SHARING = fair
    with misbehaving_server(reply="The lunch menu costs €14.50 [1].", tokens_per_second=20) as srv:
        settings.INFERENCE_BASE_URL, settings.INFERENCE_MODEL = [srv.base_url], "stand-in"
        outcomes = services.knowledge_tests_answer(
            assistant=tenant.assistant, tests=list(KnowledgeTest.objects.for_business(tenant.business)))
    assert len(outcomes) == 4 and srv.requests == 4
    assert (srv.max_in_flight == 1) if fair else (srv.max_in_flight > 1)
