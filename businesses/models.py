from __future__ import annotations

import uuid
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from businesses.tenancy import TenantManager, TenantModel


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"'{value}' is not a known time zone (use an IANA name like 'Europe/Paris').")


class Business(models.Model):
    """The tenant. Every tenant-owned row carries its id."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    locale = models.CharField(max_length=16, default="en")
    # Where a human is reached when a customer asks for one (handoff).
    handoff_email = models.EmailField(blank=True)
    handoff_phone = models.CharField(max_length=32, blank=True)
    # Days a conversation is kept after its last message; None: PRIVACY_RETENTION_DAYS_DEFAULT.
    # Bounded by the plan (assistants/privacy/retention.py), enforced by the retention sweep.
    retention_days = models.PositiveIntegerField(null=True, blank=True)
    # The owner asked to delete the business: everything of it is removed at
    # ``deletion_scheduled_for`` (a grace period in which the request can be cancelled).
    deletion_requested_at = models.DateTimeField(null=True, blank=True)
    deletion_scheduled_for = models.DateTimeField(null=True, blank=True, db_index=True)
    deletion_requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                              on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "businesses"

    def __str__(self) -> str:
        return self.name

    @property
    def deletion_pending(self) -> bool:
        return self.deletion_scheduled_for is not None


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner"
        ADMIN = "admin"
        STAFF = "staff"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "business"], name="membership_user_business_unique")]

    def __str__(self) -> str:
        return f"{self.user} · {self.business} ({self.role})"


class AccountSettings(models.Model):
    """A person's own settings, across the businesses they belong to."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account_settings")
    # The dashboard's language ("en", "zh-hans"); empty: the browser's.
    language = models.CharField(max_length=16, blank=True, default="")
    # The business the dashboard opened last (a user may belong to several).
    last_business = models.ForeignKey(Business, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name_plural = "account settings"

    def __str__(self) -> str:
        return f"settings of {self.user}"


class Invitation(TenantModel):
    """An emailed invitation to join a business with a role: a signed link that expires
    (businesses/accounts.py). Used once; the owner may revoke it before then."""

    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Membership.Role.choices)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = TenantManager()

    class Meta:
        indexes = [models.Index(fields=["business", "-created_at"], name="invitation_business_created")]

    def __str__(self) -> str:
        return f"{self.email} ({self.role})"


class ApiKey(TenantModel):
    """A secret (sk_) or publishable (pk_) key. Only a lookup prefix and a keyed hash are stored."""

    class Kind(models.TextChoices):
        SECRET = "secret"  # noqa: S105 - a kind of key, not a password
        PUBLISHABLE = "publishable"

    name = models.CharField(max_length=100, default="default")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    # The first characters of the key, for lookup and for people to tell keys apart.
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # Publishable keys only: the key itself, Fernet-encrypted, so the dashboard can show the
    # widget snippet again (a pk key sits in every page that embeds the widget; a secret key
    # is never stored, only its hash).
    key_encrypted = models.TextField(blank=True, default="")
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    objects = TenantManager()

    class Meta:
        indexes = [models.Index(fields=["business", "-created_at"], name="apikey_business_created")]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.kind})"

    @property
    def is_secret(self) -> bool:
        return self.kind == self.Kind.SECRET

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


# --------------------------------------------------------------------------- outgoing webhooks
# Services and the sender live in businesses/webhooks/ (docs/webhooks.md).


class WebhookEndpoint(TenantModel):
    """A URL an integrator wants events POSTed to, signed with its own secret."""

    url = models.CharField(max_length=2048)
    description = models.CharField(max_length=200, blank=True)
    # Event types it receives; empty means every type.
    event_types = models.JSONField(default=list, blank=True)
    # The signing secret (whsec_…), Fernet-encrypted: we must be able to compute HMACs with it,
    # so a hash would not do. Shown in full only in the creation response.
    secret_encrypted = models.TextField()
    secret_hint = models.CharField(max_length=16, blank=True)
    active = models.BooleanField(default=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=500, blank=True)
    # Failed attempts in a row (any delivery) and since when; a 2xx resets both.
    consecutive_failures = models.PositiveIntegerField(default=0)
    failing_since = models.DateTimeField(null=True, blank=True)

    objects = TenantManager()

    class Meta:
        indexes = [models.Index(fields=["business", "active"], name="whendpoint_business_active")]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(TenantModel):
    """One event for one endpoint, with every attempt to send it."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.UUIDField()
    event_type = models.CharField(max_length=64)
    # The whole body as sent: {"id", "type", "created", "data"}.
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    # When the next attempt is due (pending only); the sweep re-queues rows left behind.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # [{"number", "at", "status_code", "error", "duration_ms"}], bounded by WEBHOOKS_MAX_ATTEMPTS.
    attempt_log = models.JSONField(default=list, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    objects = TenantManager()

    class Meta:
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event_id"], name="webhookdelivery_endpoint_event_unique"),
        ]
        indexes = [
            models.Index(fields=["endpoint", "-created_at"], name="whdelivery_endpoint_created"),
            models.Index(fields=["next_attempt_at"], name="whdelivery_pending_due",
                         condition=models.Q(status="pending")),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id} ({self.status})"


# --------------------------------------------------------------------------- audit log
# businesses/audit.py records; GET /api/v1/audit reads (docs/privacy.md).


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("The audit log is append-only: its rows are never changed.")


class AuditEventManager(TenantManager.from_queryset(AuditEventQuerySet)):
    pass


class AuditEvent(models.Model):
    """Who did what to a business, when, from where. Append-only: a row is written once and never
    changed; rows go only with their business (its deletion)."""

    class ActorKind(models.TextChoices):
        USER = "user"  # a member, in the dashboard
        KEY = "key"  # an API key (its prefix)
        CUSTOMER = "customer"  # a customer of the business (erasure asked in the widget or on WhatsApp)
        SYSTEM = "system"  # Frontdesk itself (retention, scheduled deletion)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    actor_kind = models.CharField(max_length=10, choices=ActorKind.choices)
    # The person's user, if any (kept as ``actor`` text too: the user may be deleted later).
    actor_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    # The user's email, the key's prefix ("sk_live_ab12…"), "customer" or "system".
    actor = models.CharField(max_length=254)
    ip = models.GenericIPAddressField(null=True, blank=True)
    # "<noun>.<verb>": assistant.updated, source.created, api_key.revoked, conversation.erased, …
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=200, blank=True)
    # What changed (field names and new values for settings; counts for erasures). Never a secret
    # and never a customer's words.
    details = models.JSONField(default=dict, blank=True)

    objects = AuditEventManager()

    class Meta:
        indexes = [models.Index(fields=["business", "-created_at"], name="audit_business_created")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor} {self.action}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise TypeError("The audit log is append-only: its rows are never changed.")
        super().save(*args, **kwargs)
