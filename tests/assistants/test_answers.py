"""Grounded answers or an honest handoff (issue 17), measured on the answers knowledge base
(tests/assistants/answers_kb.py): three businesses set up through the API, their knowledge
ingested by the real pipeline, every question asked through the real chat endpoint with the
extractive backend (the embedded default, no model server).

The same run is ``bench/answers.py``; this test holds it to the targets: correct >= 0.95,
honest = 1.0, no forbidden claim, no record dump.
"""

from __future__ import annotations

import pytest

from tests.assistants.answers_kb import QUESTIONS, counts
from tests.assistants.answers_runner import kb_run, table

# Committed data: the chat view reads through its own thread's connection.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def extractive(settings):
    from inference.chat import clear_chat_backend_cache

    settings.INFERENCE_BASE_URL = []
    settings.RATELIMIT_ENABLED = False  # 86 questions from one key in a few seconds
    clear_chat_backend_cache()
    yield
    clear_chat_backend_cache()


def test_knowledge_base_has_the_mix_the_issue_asks_for():
    c = counts()
    assert c["total"] >= 60 and c["handoff"] * 3 >= c["total"]
    assert c["zh"] >= 8 and c["list"] >= 5 and c["allergen"] >= 6 and c["hours"] >= 3 and c["sold_out"] >= 1
    assert len({q.business for q in QUESTIONS}) >= 3


def test_every_answer_is_grounded_or_an_honest_handoff(extractive):
    report = kb_run("extractive", latency=False)
    s = report.summary()
    message = (f"\n{table([report])}\n\nnotes: {report.notes}\n"
               f"grounding field reported on {s['grounding_reported']}/{s['questions']} answers\n"
               f"misses ({len(report.misses())}):\n{report.misses_text()}")
    assert len(report.outcomes) == len(QUESTIONS), message
    assert report.correct_rate >= 0.95, message
    assert report.honest_rate == 1.0, message
    assert report.forbidden == 0, message
    assert report.dumps == 0, message
