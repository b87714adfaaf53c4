"""Knowledge: sources with live progress, resync and delete; the catalog table (sold out,
price); onboarding (website and/or menu file, progress, first question, widget snippet)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from rest_framework.exceptions import ValidationError

from assistants import selectors, services
from assistants.catalog import services as catalog_services
from assistants.catalog.selectors import catalog_item_list
from assistants.catalog.serializers import CatalogItemSerializer
from assistants.ingestion.pipeline import source_discard, source_publish
from assistants.models import CatalogItem, KnowledgeSource, SourceReview
from assistants.serializers import SourceCreateSerializer
from businesses.audit import Actor
from businesses.roles import Capability
from businesses.selectors import publishable_key_for_widget
from config.errors import ApplicationError
from dashboard.access import member_page
from dashboard.text import is_htmx, serializer_errors

BUSY = (KnowledgeSource.Status.PENDING, KnowledgeSource.Status.PROCESSING)


def _sources(request):
    return list(selectors.source_list(assistant=request.assistant).order_by("-created_at"))


def _sources_context(request) -> dict:
    sources = _sources(request)
    held = [source.pk for source in sources if source.status == KnowledgeSource.Status.NEEDS_REVIEW]
    reviews = {review.source_id: review for review in
               SourceReview.objects.for_business(request.business).filter(source_id__in=held)} if held else {}
    for source in sources:
        review = reviews.get(source.pk)
        source.review_failures = review.failures if review is not None else []
    return {"sources": sources, "busy": any(source.status in BUSY for source in sources)}


def _add_source(request, kind: str, post, upload=None) -> KnowledgeSource | None:
    """One source from a form (text, FAQ pair, website or file); errors become messages."""
    assistant = request.assistant
    try:
        if kind == "file":
            if upload is None:
                raise ApplicationError("validation_error", _("Choose a file to upload."))
            data = services.upload_read(upload)
            return services.source_create(actor=Actor.from_request(request),
                assistant=assistant, kind="file", title=(post.get("title") or upload.name)[:300],
                file_name=upload.name, content_type=upload.content_type or "", data=data)
        body: dict = {"kind": kind}
        if post.get("title"):
            body["title"] = post["title"]
        if kind == "text":
            body["text"] = post.get("text", "")
        elif kind == "faq":
            body["pairs"] = [{"question": post.get("question", ""), "answer": post.get("answer", "")}]
        elif kind == "url":
            body["url"] = post.get("url", "").strip()
            body["crawl"] = post.get("crawl") == "on"
        serializer = SourceCreateSerializer(data=body)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if kind == "url":
            services.source_url_check(data["url"])
        return services.source_create(actor=Actor.from_request(request),
            assistant=assistant, kind=data["kind"], title=data["title"], text=data.get("text", ""),
            pairs=[dict(p) for p in data.get("pairs", [])], url=data.get("url", ""), crawl=data["crawl"],
            max_pages=data["max_pages"] if data["crawl"] else 1)
    except ValidationError as exc:
        messages.error(request, serializer_errors(exc.detail))
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return None


@member_page(Capability.KNOWLEDGE)
def knowledge(request):
    if request.method == "POST":
        source = _add_source(request, request.POST.get("kind", ""), request.POST, request.FILES.get("file"))
        if source is not None:
            messages.success(request, _("“%(title)s” is being read.") % {"title": source.title})
        return redirect("dashboard:knowledge")
    return render(request, "dashboard/knowledge.html", _sources_context(request))


@member_page(Capability.KNOWLEDGE)
def sources_fragment(request):
    """The sources table alone, polled by htmx while any source is being processed."""
    return render(request, "dashboard/_sources.html", _sources_context(request))


def _source(request, pk) -> KnowledgeSource:
    return get_object_or_404(KnowledgeSource.objects.for_business(request.business), pk=pk)


@require_POST
@member_page(Capability.KNOWLEDGE)
def source_resync(request, pk):
    source = _source(request, pk)
    try:
        services.source_resync(actor=Actor.from_request(request), source=source)
        messages.success(request, _("“%(title)s” is being read again.") % {"title": source.title})
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("dashboard:knowledge")


@require_POST
@member_page(Capability.KNOWLEDGE)
def source_review(request, pk, decision):
    """The owner's decision on a version the knowledge tests held back: publish it anyway, or
    discard it and keep what serves."""
    source = _source(request, pk)
    try:
        if decision == "publish":
            source_publish(source=source, actor=Actor.from_request(request))
            messages.success(request, _("The new version of “%(title)s” is published.") % {"title": source.title})
        else:
            source_discard(source=source, actor=Actor.from_request(request))
            messages.success(request, _("The new version of “%(title)s” was discarded; the assistant keeps "
                                        "answering as before.") % {"title": source.title})
    except ApplicationError as exc:
        messages.error(request, _("This source has no version waiting for review.")
                       if exc.code == "nothing_to_review" else exc.message)
    return redirect("dashboard:knowledge")


@require_POST
@member_page(Capability.KNOWLEDGE)
def source_delete(request, pk):
    source = _source(request, pk)
    services.source_delete(actor=Actor.from_request(request), source=source)
    messages.success(request, _("“%(title)s” was deleted.") % {"title": source.title})
    return redirect("dashboard:knowledge")


# --------------------------------------------------------------------------- catalog


@member_page(Capability.KNOWLEDGE)
def catalog(request):
    items = list(catalog_item_list(assistant=request.assistant).order_by("category", "name")) \
        if request.assistant else []
    return render(request, "dashboard/catalog.html", {"items": items})


@require_POST
@member_page(Capability.KNOWLEDGE)
def catalog_item(request, pk):
    """Inline edits of one row: the sold-out switch and the price. Answers the row (htmx) or
    goes back to the table."""
    item = get_object_or_404(CatalogItem.objects.for_business(request.business), pk=pk)
    data: dict = {}
    if "available" in request.POST:
        data["available"] = request.POST["available"] == "true"
    if "price" in request.POST:
        data["price"] = request.POST["price"].strip() or None
    error = ""
    serializer = CatalogItemSerializer(item, data=data, partial=True)
    if serializer.is_valid():
        try:
            item = catalog_services.catalog_item_update(item=item, data=serializer.validated_data)
        except ApplicationError as exc:
            error = exc.message
    else:
        error = serializer_errors(serializer.errors)
    if is_htmx(request):
        return render(request, "dashboard/_catalog_row.html", {"item": item, "error": error},
                      status=400 if error else 200)
    if error:
        messages.error(request, error)
    return redirect("dashboard:catalog")


# --------------------------------------------------------------------------- onboarding


SUGGESTED = {"catalog": gettext_lazy("How much is the %(item)s?"),
             "default": gettext_lazy("What are your opening hours?")}


@member_page(Capability.KNOWLEDGE)
def onboarding(request):
    """One page: the website and/or the menu file, then progress, then the first question and
    the widget snippet."""
    if request.method == "POST":
        url = request.POST.get("url", "").strip()
        upload = request.FILES.get("file")
        if url:
            _add_source(request, "url", {"url": url, "crawl": "on"})
        if upload is not None:
            _add_source(request, "file", {}, upload)
        if not url and upload is None:
            messages.error(request, _("Give your website's address or choose a menu file (or both)."))
        return redirect("dashboard:onboarding")
    return render(request, "dashboard/onboarding.html", _onboarding_context(request))


@member_page(Capability.KNOWLEDGE)
def onboarding_progress(request):
    return render(request, "dashboard/_onboarding_progress.html", _onboarding_context(request))


def _onboarding_context(request) -> dict:
    sources = _sources(request)
    busy = any(source.status in BUSY for source in sources)
    ready = [source for source in sources if source.status == KnowledgeSource.Status.READY]
    item = catalog_item_list(assistant=request.assistant).order_by("created_at").first() \
        if request.assistant else None
    question = SUGGESTED["catalog"] % {"item": item.name} if item else str(SUGGESTED["default"])
    return {"sources": sources, "busy": busy, "ready": bool(ready) and not busy, "question": question,
            "publishable_key": publishable_key_for_widget(business=request.business)}
