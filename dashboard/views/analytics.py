"""Analytics: the current assistant's report (assistants/analytics/), drawn with Chart.js; the
same numbers as GET /api/v1/analytics, from the daily rollup."""

from __future__ import annotations

from datetime import timedelta

from django.shortcuts import render
from django.utils.translation import gettext as _

from assistants.analytics.selectors import analytics_report
from assistants.analytics.serializers import DEFAULT_RANGE_DAYS, AnalyticsReportSerializer
from assistants.analytics.services import local_today
from businesses.roles import Capability
from dashboard.access import member_page
from dashboard.forms import AnalyticsRangeForm


def _chart_labels() -> dict[str, str]:
    """The charts' words, translated here: the script only draws."""
    return {"conversations": _("Conversations"), "customer_messages": _("Customer messages"),
            "catalog": _("Menu"), "hours": _("Opening hours"), "passages": _("Knowledge"),
            "none": _("Handed to a person"), "by_hour": _("Customer messages by hour"),
            "handoff_rate": _("Handoff rate")}


@member_page(Capability.ASSISTANT)
def analytics(request):
    today = local_today(request.business.timezone)
    form = AnalyticsRangeForm(request.GET or None, today=today)
    if form.is_bound and form.is_valid():
        start, end, interval = form.cleaned_data["start"], form.cleaned_data["end"], form.cleaned_data["interval"]
    else:  # unbound, or invalid: the errors show above the last 30 days
        start, end, interval = today - timedelta(days=DEFAULT_RANGE_DAYS - 1), today, "day"
        if not form.is_bound:
            form = AnalyticsRangeForm(initial={"start": start, "end": end, "interval": interval}, today=today)
    report = analytics_report(business=request.business, assistant=request.assistant, start=start, end=end,
                              interval=interval)
    data = AnalyticsReportSerializer(report).data
    answered = sum(report["totals"]["answers"].values())
    return render(request, "dashboard/analytics.html", {
        "form": form, "report": report, "chart_data": {"report": data, "labels": _chart_labels()},
        "answered": answered, "start": start, "end": end})
