from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from billing import selectors, services
from billing.serializers import BillingSerializer, CheckoutSerializer, PortalSerializer, RedirectSerializer
from businesses.api.views import TenantAPIView
from businesses.audit import Actor
from config.errors import ApplicationError, error_response


class BillingView(TenantAPIView):
    @extend_schema(responses=BillingSerializer, summary="Plan, status, limits and this period's usage")
    def get(self, request):
        return Response(BillingSerializer(selectors.billing_overview(business=self.business)).data)


class CheckoutView(TenantAPIView):
    @extend_schema(request=CheckoutSerializer, responses=RedirectSerializer,
                   summary="A Stripe Checkout URL to subscribe to a paid plan")
    def post(self, request):
        serializer = CheckoutSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        url = services.checkout_session_create(actor=Actor.from_request(request),
                                               business=self.business, plan_code=data["plan"],
                                               success_url=data["success_url"], cancel_url=data["cancel_url"])
        return Response({"url": url})


class PortalView(TenantAPIView):
    @extend_schema(request=PortalSerializer, responses=RedirectSerializer,
                   summary="A Stripe customer portal URL (change plan, card, cancel, invoices)")
    def post(self, request):
        serializer = PortalSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        url = services.portal_session_create(actor=Actor.from_request(request), business=self.business,
                                             return_url=serializer.validated_data["return_url"])
        return Response({"url": url})


@csrf_exempt  # Stripe signs the body; there is no cookie session to protect
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    """Verify on the raw body, store once, acknowledge; a Celery task does the work."""
    if request.method != "POST":
        response = error_response("method_not_allowed", f'Method "{request.method}" not allowed.', status=405)
        response["Allow"] = "POST"
        return response
    try:
        event, _ = services.stripe_event_receive(payload=request.body,
                                                 signature=request.headers.get("Stripe-Signature", ""))
    except ApplicationError as exc:
        return error_response(exc.code, exc.message, status=exc.status, details=exc.details)
    return JsonResponse({"received": True, "id": event.stripe_event_id})
