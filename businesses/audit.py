"""The audit log: who (a member or an API key) changed what in a business, when, from where.

Services record their own changes (``audit_record``) with the ``Actor`` their caller passes in,
so the API and the dashboard log the same thing for the same change. A service called without
an actor (a task, a management command) records ``system``.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from typing import Any

from businesses.models import AuditEvent

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Actor:
    """Who is acting: a dashboard user, an API key (by prefix) or a customer; and from which IP."""

    kind: str = AuditEvent.ActorKind.SYSTEM
    label: str = "system"
    user_id: Any = None
    ip: str | None = None

    @classmethod
    def from_request(cls, request) -> Actor:
        """The API key of an API request (``request.auth``), else the signed-in user."""
        from businesses.api.ratelimit import client_ip

        ip = _ip_or_none(client_ip(request))
        key = getattr(request, "auth", None)
        if key is not None and getattr(key, "prefix", None):
            return cls(kind=AuditEvent.ActorKind.KEY, label=f"{key.prefix}…", user_id=key.created_by_id, ip=ip)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return cls(kind=AuditEvent.ActorKind.USER, label=user.get_username(), user_id=user.pk, ip=ip)
        return cls(kind=AuditEvent.ActorKind.SYSTEM, label="anonymous", ip=ip)

    @classmethod
    def for_user(cls, user, *, ip: str | None = None) -> Actor:
        return cls(kind=AuditEvent.ActorKind.USER, label=user.get_username(), user_id=user.pk, ip=_ip_or_none(ip))

    @classmethod
    def customer(cls, *, ip: str | None = None) -> Actor:
        return cls(kind=AuditEvent.ActorKind.CUSTOMER, label="customer", ip=_ip_or_none(ip))


SYSTEM = Actor()


def _ip_or_none(value: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address(value)) if value else None
    except ValueError:
        return None


def audit_record(*, business_id, actor: Actor | None, action: str, target_type: str = "", target_id: Any = "",
                 details: dict | None = None) -> AuditEvent:
    """Append one event. Part of the caller's transaction: a change that rolls back is not logged."""
    actor = actor or SYSTEM
    return AuditEvent.objects.unscoped().create(
        business_id=business_id, actor_kind=actor.kind, actor=actor.label[:254], actor_user_id=actor.user_id,
        ip=actor.ip,
        action=action, target_type=target_type, target_id=str(target_id or "")[:200], details=details or {})


def changed_fields(data: dict) -> dict:
    """The settings a change wrote, for ``details``: values that are short and safe to show."""
    out = {}
    for name, value in data.items():
        if isinstance(value, (bool, int, float)) or value is None:
            out[name] = value
        elif isinstance(value, str):
            out[name] = value if len(value) <= 200 else value[:200] + "…"
        else:
            out[name] = "(changed)"
    return out
