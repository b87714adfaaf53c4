"""Use cases that change tenants: the tenant part of sign-up, business settings, API keys."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from businesses.authentication import key_cache
from businesses.keys import key_generate, publishable_encrypt
from businesses.models import ApiKey, Business, Membership
from config.errors import ApplicationError

User = get_user_model()


def slug_unique(*, text: str, taken: Callable[[str], bool], max_length: int = 60, fallback: str = "item") -> str:
    """A slug from ``text``, suffixed -2, -3… until ``taken`` says it is free."""
    base = slugify(text)[:max_length].strip("-") or fallback
    candidate, n = base, 1
    while taken(candidate):
        n += 1
        candidate = f"{base[: max_length - len(str(n)) - 1]}-{n}"
    return candidate


@dataclass(frozen=True)
class NewTenant:
    user: object
    business: Business
    secret_key: str
    publishable_key: str


def api_key_create(*, business: Business, kind: str, name: str = "default", created_by=None) -> tuple[ApiKey, str]:
    """Create a key; returns it with the raw key, which is never retrievable again."""
    raw, prefix, hashed = key_generate(kind)
    key = ApiKey.objects.unscoped().create(
        business=business, kind=kind, name=name, prefix=prefix, key_hash=hashed, created_by=created_by,
        key_encrypted=publishable_encrypt(raw) if kind == ApiKey.Kind.PUBLISHABLE else "",
    )
    return key, raw



def api_key_revoke(*, key: ApiKey) -> ApiKey:
    """Revoke a key. The last active secret key cannot be revoked: that would lock the owner out."""
    with transaction.atomic():
        # Lock the business's secret keys so two concurrent revokes cannot both pass the check.
        active_secret = list(
            ApiKey.objects.for_business(key.business_id)
            .select_for_update()
            .filter(kind=ApiKey.Kind.SECRET, revoked_at__isnull=True)
            .values_list("pk", flat=True)
        )
        if key.revoked_at is not None:
            return key
        if key.is_secret and active_secret == [key.pk]:
            raise ApplicationError(
                "last_secret_key",
                "This is the business's only active secret key; create another one before revoking it.",
                status=409,
            )
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at", "updated_at"])
    key_cache.forget(key.pk)
    return key


def tenant_create(*, email: str, password: str, business_name: str, timezone_name: str = "UTC",
                  locale: str = "en") -> NewTenant:
    """User + business + owner membership + one sk and one pk key, atomically: the tenant part of
    sign-up, whose use case (``assistants.services.business_signup``) adds the first assistant."""
    email = User.objects.normalize_email(email).lower()
    try:
        validate_password(password, user=User(username=email, email=email))
    except DjangoValidationError as exc:
        raise ApplicationError("validation_error", "The password is too weak.",
                               details={"fields": {"password": exc.messages}}) from exc
    if User.objects.filter(email__iexact=email).exists():
        raise ApplicationError("email_taken", "An account with this email already exists.", status=409)
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=email, email=email, password=password)
            business = Business.objects.create(
                name=business_name,
                slug=slug_unique(text=business_name, taken=lambda s: Business.objects.filter(slug=s).exists(),
                                 fallback="business"),
                timezone=timezone_name,
                locale=locale,
                handoff_email=email,
            )
            Membership.objects.create(user=user, business=business, role=Membership.Role.OWNER)
            _, secret = api_key_create(business=business, kind=ApiKey.Kind.SECRET, name="default", created_by=user)
            _, publishable = api_key_create(business=business, kind=ApiKey.Kind.PUBLISHABLE, name="web widget",
                                            created_by=user)
    except IntegrityError as exc:  # two sign-ups with the same email or slug at the same instant
        raise ApplicationError("signup_conflict", "Sign-up collided with another one; please retry.",
                               status=409) from exc
    return NewTenant(user=user, business=business, secret_key=secret, publishable_key=publishable)


BUSINESS_EDITABLE = ("name", "timezone", "locale", "handoff_email", "handoff_phone")


def business_update(*, business: Business, data: dict) -> Business:
    fields = [name for name in BUSINESS_EDITABLE if name in data]
    for name in fields:
        setattr(business, name, data[name])
    if fields:
        business.full_clean()
        business.save(update_fields=[*fields, "updated_at"])
    return business
