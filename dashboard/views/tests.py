"""Knowledge tests: the current assistant's questions whose answers must keep their facts, each
with its latest verdict and answer; add one, delete one, run them all (live results by htmx)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from assistants.models import KnowledgeTest, KnowledgeTestRun
from assistants.regression.selectors import knowledge_run_latest, knowledge_test_list
from assistants.regression.services import knowledge_run_start, knowledge_test_create, knowledge_test_delete
from businesses.audit import Actor
from businesses.roles import Capability
from config.errors import ApplicationError
from dashboard.access import member_page

BUSY = (KnowledgeTestRun.Status.QUEUED, KnowledgeTestRun.Status.RUNNING)


def _facts(text: str) -> list[str]:
    """One fact per line (or separated by semicolons): a price may hold a comma ("€12,50")."""
    return [part.strip() for line in text.splitlines() for part in line.split(";") if part.strip()]


def _context(request) -> dict:
    tests = list(knowledge_test_list(assistant=request.assistant).order_by("created_at", "id"))
    run = knowledge_run_latest(assistant=request.assistant)
    return {"tests": tests, "run": run, "busy": run is not None and run.status in BUSY}


@member_page(Capability.KNOWLEDGE)
def tests(request):
    if request.method == "POST":
        try:
            knowledge_test_create(assistant=request.assistant, question=request.POST.get("question", ""),
                                  must_contain=_facts(request.POST.get("must_contain", "")),
                                  must_not_contain=_facts(request.POST.get("must_not_contain", "")),
                                  must_hand_off=request.POST.get("must_hand_off") == "on",
                                  actor=Actor.from_request(request))
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Test added. It runs before every change to the knowledge."))
        return redirect("dashboard:tests")
    return render(request, "dashboard/tests.html", _context(request))


@member_page(Capability.KNOWLEDGE)
def tests_fragment(request):
    """The results alone, polled by htmx while a run is queued or running."""
    return render(request, "dashboard/_tests.html", _context(request))


@require_POST
@member_page(Capability.KNOWLEDGE)
def tests_run(request):
    try:
        knowledge_run_start(assistant=request.assistant, actor=Actor.from_request(request))
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The tests are running; the results appear below."))
    return redirect("dashboard:tests")


@require_POST
@member_page(Capability.KNOWLEDGE)
def test_delete(request, pk):
    test = get_object_or_404(KnowledgeTest.objects.for_business(request.business).filter(
        assistant=request.assistant), pk=pk)
    knowledge_test_delete(test=test, actor=Actor.from_request(request))
    messages.success(request, _("Test deleted."))
    return redirect("dashboard:tests")
