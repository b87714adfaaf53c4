"""Unanswered questions: the current assistant's open topics (most asked first), with example
questions and why each was collected; answering one adds an FAQ and closes the topic."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from assistants.models import UnansweredQuestion, UnansweredTopic
from assistants.unanswered.selectors import topic_examples_attach, topic_list, topic_question
from assistants.unanswered.services import MAX_ANSWER_CHARS, topic_answer
from businesses.audit import Actor
from businesses.roles import Capability
from config.errors import ApplicationError
from dashboard.access import member_page

PAGE_SIZE = 50


@member_page(Capability.KNOWLEDGE)
def unanswered(request):
    topics = list(topic_list(assistant=request.assistant, status=UnansweredTopic.Status.OPEN)
                  .order_by("-count", "-last_seen", "-id")[:PAGE_SIZE])
    for topic in topic_examples_attach(topics):
        topic.question = topic_question(topic=topic)  # what its FAQ will ask: the most asked wording
        counts = [(reason, getattr(topic, f"reason_{reason}")) for reason in UnansweredQuestion.Reason.values]
        topic.reason_counts = [(reason, n) for reason, n in counts if n]
    return render(request, "dashboard/unanswered.html", {"topics": topics, "max_answer": MAX_ANSWER_CHARS})


@require_POST
@member_page(Capability.KNOWLEDGE)
def unanswered_answer(request, pk):
    topic = get_object_or_404(UnansweredTopic.objects.for_business(request.business), pk=pk)
    answer = request.POST.get("answer", "").strip()
    if not answer:
        messages.error(request, _("Write the answer first."))
    elif len(answer) > MAX_ANSWER_CHARS:
        messages.error(request, _("An answer has at most %(n)s characters.") % {"n": f"{MAX_ANSWER_CHARS:,}"})
    else:
        try:
            source = topic_answer(actor=Actor.from_request(request), topic=topic, answer=answer, by_user=request.user)
        except ApplicationError as exc:  # answered meanwhile, or the plan's knowledge is full
            messages.error(request, _("This question has been answered already.") if exc.code == "topic_answered"
                           else exc.message)
        else:
            question = source.faq_pairs[0]["question"]
            messages.success(request, _("Answered: “%(question)s” is now in the knowledge; the assistant uses "
                                        "it once it is read.") % {"question": question})
    return redirect("dashboard:unanswered")
