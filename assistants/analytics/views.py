from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from assistants.analytics.selectors import analytics_report
from assistants.analytics.serializers import AnalyticsQuerySerializer, AnalyticsReportSerializer
from assistants.analytics.services import local_today
from assistants.models import Assistant
from businesses.api.views import TenantAPIView


class AnalyticsView(TenantAPIView):
    """Conversations, answers by grounding, handoffs, ratings, response times, channels, busiest
    hours and top unanswered topics, read from the daily rollup (today's at most
    ``ANALYTICS_ROLLUP_INTERVAL`` old)."""

    @extend_schema(parameters=[AnalyticsQuerySerializer], responses=AnalyticsReportSerializer,
                   summary="Analytics of an assistant (or the whole business) over up to 366 days")
    def get(self, request):
        query = AnalyticsQuerySerializer(data=request.query_params,
                                         context={"today": local_today(self.business.timezone)})
        query.is_valid(raise_exception=True)
        params = query.validated_data
        assistant = None
        if params.get("assistant"):
            assistant = self.get_scoped(Assistant, params["assistant"], what="assistant")
        report = analytics_report(business=self.business, assistant=assistant, start=params["from"],
                                  end=params["to"], interval=params["interval"])
        return Response(AnalyticsReportSerializer(report).data)
