"""Knowledge tests: write them, run them, and check a new version of a source against them.

Checking a new version: every test is answered twice, on the knowledge serving now and on the
knowledge as it would be with the new version. The new version's passages (and a menu's items)
are written inside a transaction that is rolled back, and every test question is retrieved and
composed in it: database work only. The questions are embedded before it and the model answers
after it, so no model server is called while the transaction is open (CONVENTIONS.md, "Data and
money"), and customers never see the new passages. A test that passes now and would fail with
the new version holds the version back (``needs_review``) until the owner publishes or discards it.
"""

from __future__ import annotations

import asyncio
import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from assistants.chat import fairness
from assistants.chat.services import Composed, answer_compose, answer_generate
from assistants.ingestion.errors import IngestionError
from assistants.models import Assistant, KnowledgeSource, KnowledgeTest, KnowledgeTestRun, Message, UnansweredTopic
from assistants.selectors import query_embed
from businesses.audit import Actor, audit_record
from config.errors import ApplicationError
from config.tasks import enqueue_on_commit
from inference.errors import InferenceError
from inference.types import ChatRequest

logger = logging.getLogger(__name__)

MAX_FACTS = 20  # facts per list of a test
MAX_FACT_CHARS = 200


@dataclass
class Outcome:
    test_id: str
    question: str
    passed: bool
    answer: str
    grounding: str
    reason: str

    def as_dict(self) -> dict:
        return {"test_id": self.test_id, "question": self.question, "passed": self.passed, "answer": self.answer,
                "grounding": self.grounding, "reason": self.reason}


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _quoted(facts: list[str]) -> str:
    return ", ".join(f"“{f}”" for f in facts)


def answer_check(*, test: KnowledgeTest, text: str, grounding: str) -> tuple[bool, str]:
    """Whether an answer passes ``test``, and if not, why, in the owner's words. A fact matches
    case- and width-insensitively as written ("€12.50" matches "€12.50", not "12.5 euros")."""
    answer = _norm(text)
    handed_off = grounding == Message.Grounding.NONE
    if test.must_hand_off and not handed_off:
        return False, "It answered instead of handing the question to a person."
    if not test.must_hand_off and handed_off:
        return False, "It handed the question to a person instead of answering."
    missing = [f for f in test.must_contain if _norm(f) not in answer]
    if missing:
        return False, f"The answer does not say {_quoted(missing)}."
    present = [f for f in test.must_not_contain if _norm(f) in answer]
    if present:
        return False, f"The answer says {_quoted(present)}."
    return True, ""


def _facts(values, field: str) -> list[str]:
    if values is None:
        return []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ApplicationError("validation_error", "Facts are a list of texts.",
                               details={"fields": {field: ["A list of texts."]}})
    facts = [v.strip() for v in values if v.strip()]
    if len(facts) > MAX_FACTS or any(len(f) > MAX_FACT_CHARS for f in facts):
        raise ApplicationError("validation_error", f"At most {MAX_FACTS} facts of {MAX_FACT_CHARS} characters each.",
                               details={"fields": {field: [f"At most {MAX_FACTS} facts of {MAX_FACT_CHARS} "
                                                           "characters each."]}})
    return list(dict.fromkeys(facts))


def knowledge_test_create(*, assistant: Assistant, question: str, must_contain: list[str] | None = None,
                          must_not_contain: list[str] | None = None, must_hand_off: bool = False,
                          origin: str = KnowledgeTest.Origin.OWNER,
                          topic: UnansweredTopic | None = None, source_message_id=None,
                          actor: Actor | None = None) -> KnowledgeTest:
    """A new test (409 ``too_many_tests`` past the plan-independent cap, KNOWLEDGE_TESTS_MAX).
    ``source_message_id``: the customer message whose words the question is (erased with it)."""
    question = " ".join((question or "").split())
    if not question:
        raise ApplicationError("validation_error", "Write the question.",
                               details={"fields": {"question": ["This field may not be blank."]}})
    contain = _facts(must_contain, "must_contain")
    avoid = _facts(must_not_contain, "must_not_contain")
    if must_hand_off and contain:
        raise ApplicationError("validation_error", "A question that must be handed to a person has no facts its "
                               "answer must contain.",
                               details={"fields": {"must_contain": ["Leave it empty when must_hand_off is true."]}})
    clash = {_norm(f) for f in contain} & {_norm(f) for f in avoid}
    if clash:
        also = f"Also in must_contain: {_quoted(sorted(clash))}."
        raise ApplicationError("validation_error", "A fact cannot be both required and forbidden.",
                               details={"fields": {"must_not_contain": [also]}})
    with transaction.atomic():
        Assistant.objects.for_business(assistant.business_id).select_for_update().filter(pk=assistant.pk).first()
        count = KnowledgeTest.objects.for_business(assistant.business_id).filter(assistant=assistant).count()
        if count >= settings.KNOWLEDGE_TESTS_MAX:
            raise ApplicationError("too_many_tests", f"An assistant has at most {settings.KNOWLEDGE_TESTS_MAX} "
                                   "knowledge tests; delete some first.", status=409)
        test = KnowledgeTest.objects.unscoped().create(
            business_id=assistant.business_id, assistant=assistant, question=question[:1000], must_contain=contain,
            must_not_contain=avoid, must_hand_off=bool(must_hand_off), origin=origin, topic=topic,
            source_message_id=source_message_id)
        # No question or facts in the log: a test's question may be a customer's words.
        audit_record(business_id=assistant.business_id, actor=actor, action="knowledge_test.created",
                     target_type="knowledge_test", target_id=test.pk, details=_test_details(test))
    return test


def _test_details(test: KnowledgeTest) -> dict:
    return {"assistant_id": str(test.assistant_id), "origin": test.origin, "must_contain": len(test.must_contain),
            "must_not_contain": len(test.must_not_contain), "must_hand_off": test.must_hand_off}


def knowledge_test_delete(*, test: KnowledgeTest, actor: Actor | None = None) -> None:
    with transaction.atomic():
        audit_record(business_id=test.business_id, actor=actor, action="knowledge_test.deleted",
                     target_type="knowledge_test", target_id=test.pk, details=_test_details(test))
        test.delete()


# Facts an owner's or a staff member's answer states that an automatic test can check: amounts,
# times, dates, phone numbers (runs of digits, with their currency or unit), as written.
_FACT = re.compile(r"(?:[€$£¥]\s?)?\d(?:[\d.,:/\-–]*\d)?(?: \d(?:[\d.,:/\-–]*\d)?)*"
                   r"(?:\s?(?:€|eur\b|euros?\b|usd\b|am\b|pm\b|元|块))?", re.IGNORECASE)


def answer_facts(text: str) -> list[str]:
    """The checkable facts of an answer: its numbers as written (prices, times, phone numbers)."""
    facts = [m.group(0).strip().rstrip(".,:-–/") for m in _FACT.finditer(text or "")]
    return list(dict.fromkeys(f for f in facts if any(c.isdigit() for c in f)))[:MAX_FACTS]


def _tested_questions(assistant: Assistant) -> set[str]:
    """The assistant's tested questions, normalised: an automatic test never repeats one."""
    return {_norm(q) for q in KnowledgeTest.objects.for_business(assistant.business_id)
            .filter(assistant=assistant).values_list("question", flat=True)}


def knowledge_tests_from_topic(*, topic: UnansweredTopic, answer: str, questions: list[tuple[str, Any]],
                               actor: Actor | None = None) -> list[KnowledgeTest]:
    """The answered topic's example questions as tests: each must be answered, with the numbers
    the owner's answer states. ``questions``: (text, the customer message it was asked in).
    Questions already tested are skipped."""
    assistant = Assistant.objects.for_business(topic.business_id).get(pk=topic.assistant_id)
    tested = _tested_questions(assistant)
    created = []
    for question, message_id in questions:
        if _norm(question) in tested:
            continue
        tested.add(_norm(question))
        try:
            created.append(knowledge_test_create(assistant=assistant, question=question,
                                                 must_contain=answer_facts(answer),
                                                 origin=KnowledgeTest.Origin.TOPIC, topic=topic,
                                                 source_message_id=message_id, actor=actor))
        except ApplicationError as exc:  # the cap, or a question too odd to test: the answer still lands
            logger.info("topic %s: no test for a question: %s", topic.pk, exc.code)
            break
    return created


def knowledge_test_from_reply(*, assistant: Assistant, question: str, answer: str, source_message_id=None,
                              actor: Actor | None = None) -> KnowledgeTest | None:
    """A staff member's reply taught to the assistant (an FAQ) becomes a test of its question,
    with the reply's numbers; None when that question is tested already or the cap is reached.
    ``source_message_id``: the customer's message, when the question is theirs (not staff's)."""
    if _norm(question) in _tested_questions(assistant):
        return None
    try:
        return knowledge_test_create(assistant=assistant, question=question[:1000], must_contain=answer_facts(answer),
                                     origin=KnowledgeTest.Origin.CORRECTION, source_message_id=source_message_id,
                                     actor=actor)
    except ApplicationError as exc:
        logger.info("no test for a staff reply: %s", exc.code)
        return None


# --------------------------------------------------------------------------- running them


def _tests_of(assistant_id, business_id) -> list[KnowledgeTest]:
    return list(KnowledgeTest.objects.for_business(business_id).filter(assistant_id=assistant_id)
                .order_by("created_at", "id")[: settings.KNOWLEDGE_TESTS_MAX])


def _compose_all(assistant: Assistant, tests: list[KnowledgeTest],
                 vectors: list) -> list[tuple[ChatRequest, Composed | None]]:
    return [answer_compose(assistant=assistant, question=t.question, history=[], vector=v)
            for t, v in zip(tests, vectors, strict=True)]


def _answer_all(tests: list[KnowledgeTest], composed: list[tuple[ChatRequest, Composed | None]]) -> list[Outcome]:
    """Each test's answer (the model asked a few at a time) and verdict. Raises InferenceError
    when the model server could not answer one: then nothing can be said about the knowledge."""
    # The business's place at the model servers: its test runs queue with its customers' answers.
    share = (fairness.share_for(business_id=tests[0].business_id)
             if tests and settings.INFERENCE_FAIR_SHARING else None)

    async def run() -> list[tuple[str, str]]:
        limit = asyncio.Semaphore(max(1, settings.KNOWLEDGE_TESTS_CONCURRENCY))

        async def one(request: ChatRequest, done: Composed | None) -> tuple[str, str]:
            if done is not None:
                return done.text, done.grounding
            async with limit:
                return await answer_generate(request, share=share)

        return await asyncio.gather(*(one(r, c) for r, c in composed))

    answers = async_to_sync(run)()
    outcomes = []
    for test, (text, grounding) in zip(tests, answers, strict=True):
        passed, reason = answer_check(test=test, text=text, grounding=grounding)
        outcomes.append(Outcome(str(test.pk), test.question, passed, text, grounding, reason))
    return outcomes


def _results_save(tests: list[KnowledgeTest], outcomes: list[Outcome]) -> None:
    """Each test's latest verdict (a test deleted meanwhile is simply not updated)."""
    if not tests:
        return
    now = timezone.now()
    for test, outcome in zip(tests, outcomes, strict=True):
        test.last_result = KnowledgeTest.Result.PASSED if outcome.passed else KnowledgeTest.Result.FAILED
        test.last_answer, test.last_grounding, test.last_reason = outcome.answer, outcome.grounding, outcome.reason
        test.last_run_at = now
    KnowledgeTest.objects.for_business(tests[0].business_id).bulk_update(
        tests, ["last_result", "last_answer", "last_grounding", "last_reason", "last_run_at"])


def knowledge_tests_answer(*, assistant: Assistant, tests: list[KnowledgeTest]) -> list[Outcome]:
    """The tests answered on the knowledge serving now."""
    vectors = [query_embed(t.question) for t in tests]
    return _answer_all(tests, _compose_all(assistant, tests, vectors))


def knowledge_run_start(*, assistant: Assistant, actor: Actor | None = None) -> KnowledgeTestRun:
    """Queue a run of all the assistant's tests (409 when it has none)."""
    from assistants.regression.tasks import knowledge_run_task

    if not KnowledgeTest.objects.for_business(assistant.business_id).filter(assistant=assistant).exists():
        raise ApplicationError("no_tests", "This assistant has no knowledge tests yet; add one first.", status=409)
    with transaction.atomic():
        run = KnowledgeTestRun.objects.unscoped().create(business_id=assistant.business_id, assistant=assistant)
        audit_record(business_id=assistant.business_id, actor=actor, action="knowledge_test_run.started",
                     target_type="knowledge_test_run", target_id=run.pk,
                     details={"assistant_id": str(assistant.pk)})
    enqueue_on_commit(knowledge_run_task, str(run.business_id), str(run.pk))
    return run


def knowledge_run(*, business_id, run_id) -> None:
    """Run every test of the run's assistant and store each verdict with its answer. Always ends
    ``done`` or ``failed`` (with a reason), never left running."""
    run = KnowledgeTestRun.objects.for_business(business_id).filter(pk=run_id).first()
    if run is None or run.status in (KnowledgeTestRun.Status.DONE, KnowledgeTestRun.Status.FAILED):
        return
    KnowledgeTestRun.objects.for_business(business_id).filter(pk=run.pk).update(
        status=KnowledgeTestRun.Status.RUNNING, updated_at=timezone.now())
    try:
        assistant = Assistant.objects.for_business(business_id).select_related("business").get(pk=run.assistant_id)
        tests = _tests_of(assistant.pk, business_id)
        outcomes = knowledge_tests_answer(assistant=assistant, tests=tests)
    except InferenceError as exc:
        _run_fail(run, "The answer model did not respond, so the tests could not run; try again in a few "
                  f"minutes ({exc.code}).")
        return
    except Exception:
        logger.exception("knowledge test run %s crashed", run.pk)
        _run_fail(run, "Something went wrong on our side while running the tests; it has been logged. Try again.")
        return
    _results_save(tests, outcomes)
    passed = sum(o.passed for o in outcomes)
    KnowledgeTestRun.objects.for_business(business_id).filter(pk=run.pk).update(
        status=KnowledgeTestRun.Status.DONE, total=len(outcomes), passed=passed, failed=len(outcomes) - passed,
        results=[o.as_dict() for o in outcomes], finished_at=timezone.now(), updated_at=timezone.now())


def _run_fail(run: KnowledgeTestRun, error: str) -> None:
    KnowledgeTestRun.objects.for_business(run.business_id).filter(pk=run.pk).update(
        status=KnowledgeTestRun.Status.FAILED, error=error[:500], finished_at=timezone.now(),
        updated_at=timezone.now())


# --------------------------------------------------------------------------- the ingestion gate


def source_version_check(*, source: KnowledgeSource, apply: Callable[[], None]) -> list[dict]:
    """The tests a new version of ``source`` would break: those that pass on the knowledge serving
    now and fail once ``apply()`` (which writes the new version's rows) has run. ``apply`` runs in
    a transaction that is always rolled back. Empty: nothing breaks (or there are no tests).

    Raises a transient IngestionError when the answer model is down (the task retries: a version
    is never published unchecked while tests exist)."""
    tests = _tests_of(source.assistant_id, source.business_id)
    if not tests:
        return []
    assistant = Assistant.objects.for_business(source.business_id).select_related("business").get(
        pk=source.assistant_id)
    vectors = [query_embed(t.question) for t in tests]
    try:
        before = _answer_all(tests, _compose_all(assistant, tests, vectors))
        with transaction.atomic():
            apply()
            composed = _compose_all(assistant, tests, vectors)
            transaction.set_rollback(True)
        after = _answer_all(tests, composed)
    except InferenceError as exc:
        raise IngestionError("tests_unavailable", "The knowledge tests could not run because the answer model "
                             "did not respond, so this version was not published; try “resync” in a few minutes.",
                             transient=True) from exc
    failures = [
        {"test_id": a.test_id, "question": a.question, "reason": a.reason, "answer_before": b.answer,
         "answer_after": a.answer}
        for b, a in zip(before, after, strict=True) if b.passed and not a.passed
    ]
    _results_save(tests, before if failures else after)  # the verdicts of what serves
    return failures
