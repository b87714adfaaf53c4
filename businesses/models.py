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
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "businesses"

    def __str__(self) -> str:
        return self.name


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
