"""Use cases that change tenants: the tenant part of sign-up, business settings, API keys."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from businesses.audit import Actor, audit_record, changed_fields
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


def api_key_create(*, business: Business, kind: str, name: str = "default", created_by=None,
                   actor: Actor | None = None) -> tuple[ApiKey, str]:
    """Create a key; returns it with the raw key, which is never retrievable again."""
    raw, prefix, hashed = key_generate(kind)
    with transaction.atomic():
        key = ApiKey.objects.unscoped().create(
            business=business, kind=kind, name=name, prefix=prefix, key_hash=hashed, created_by=created_by,
            key_encrypted=publishable_encrypt(raw) if kind == ApiKey.Kind.PUBLISHABLE else "",
        )
        audit_record(business_id=business.pk, actor=actor, action="api_key.created", target_type="api_key",
                     target_id=key.pk, details={"prefix": f"{prefix}…", "kind": kind, "name": name})
    return key, raw



def api_key_revoke(*, key: ApiKey, actor: Actor | None = None) -> ApiKey:
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
        audit_record(business_id=key.business_id, actor=actor, action="api_key.revoked", target_type="api_key",
                     target_id=key.pk, details={"prefix": f"{key.prefix}…", "kind": key.kind, "name": key.name})
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


def business_update(*, business: Business, data: dict, actor: Actor | None = None) -> Business:
    fields = [name for name in BUSINESS_EDITABLE if name in data]
    changed = {name: data[name] for name in fields if getattr(business, name) != data[name]}
    for name in fields:
        setattr(business, name, data[name])
    if fields:
        business.full_clean()
        with transaction.atomic():
            business.save(update_fields=[*fields, "updated_at"])
            if changed:
                audit_record(business_id=business.pk, actor=actor, action="business.updated", target_type="business",
                             target_id=business.pk, details=changed_fields(changed))
    return business


# --------------------------------------------------------------------------- deleting a business
# The owner asks; after BUSINESS_DELETION_GRACE_DAYS the purge (assistants/privacy/tenant.py,
# run by celery beat) removes every row of the tenant and cancels its Stripe subscription.


def key_is_owners(*, key: ApiKey) -> bool:
    """Whether a secret key speaks for an owner: made by one (or by sign-up itself, which makes
    the owner's first key), and that person is still an owner of the business."""
    if not key.is_secret:
        return False
    if key.created_by_id is None:
        return True
    return Membership.objects.filter(business_id=key.business_id, user_id=key.created_by_id,
                                     role=Membership.Role.OWNER).exists()


def business_deletion_request(*, business: Business, actor: Actor | None, requested_by=None) -> Business:
    """Schedule the business's deletion after the grace period; asking again changes nothing."""
    with transaction.atomic():
        locked = Business.objects.select_for_update().get(pk=business.pk)
        if locked.deletion_scheduled_for is None:
            now = timezone.now()
            locked.deletion_requested_at = now
            locked.deletion_scheduled_for = now + timedelta(days=settings.BUSINESS_DELETION_GRACE_DAYS)
            locked.deletion_requested_by_id = getattr(requested_by, "pk", None) or (actor.user_id if actor else None)
            locked.save(update_fields=["deletion_requested_at", "deletion_scheduled_for", "deletion_requested_by",
                                       "updated_at"])
            audit_record(business_id=locked.pk, actor=actor, action="business.deletion_requested",
                         target_type="business", target_id=locked.pk,
                         details={"scheduled_for": locked.deletion_scheduled_for.isoformat()})
    return locked


def business_deletion_cancel(*, business: Business, actor: Actor | None) -> Business:
    """Keep the business: the scheduled deletion is called off (409 once the purge began)."""
    with transaction.atomic():
        locked = Business.objects.select_for_update().get(pk=business.pk)
        if locked.deletion_scheduled_for is not None:
            if locked.deletion_scheduled_for <= timezone.now():
                raise ApplicationError("deletion_in_progress", "The grace period is over; the business is being "
                                       "deleted.", status=409)
            locked.deletion_requested_at = locked.deletion_scheduled_for = None
            locked.deletion_requested_by = None
            locked.save(update_fields=["deletion_requested_at", "deletion_scheduled_for", "deletion_requested_by",
                                       "updated_at"])
            audit_record(business_id=locked.pk, actor=actor, action="business.deletion_cancelled",
                         target_type="business", target_id=locked.pk)
    return locked
