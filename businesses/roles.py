"""What each role of a business may do: one table, read by the dashboard and its tests.

owner: everything, including billing, API keys, members and deleting the business.
admin: the assistant, its knowledge, channels and webhooks (and the inbox).
staff: the inbox only.

API secret keys are not members: they keep full access to the API (businesses/permissions.py).
"""

from __future__ import annotations

from enum import StrEnum

from django.utils.translation import pgettext_lazy

from businesses.models import Membership


class Capability(StrEnum):
    INBOX = "inbox"                  # read conversations, take over, reply, release, close
    ASSISTANT = "assistant"          # the assistant's settings, the playground
    KNOWLEDGE = "knowledge"          # sources and the catalog
    CHANNELS = "channels"            # widget snippet, WhatsApp connection
    WEBHOOKS = "webhooks"            # outgoing webhook endpoints and deliveries
    BILLING = "billing"              # plan, usage, Stripe checkout and portal
    API_KEYS = "api_keys"            # create and revoke keys
    MEMBERS = "members"              # invite, change roles, remove
    BUSINESS_DELETE = "business_delete"


Role = Membership.Role

_ADMIN = frozenset({Capability.INBOX, Capability.ASSISTANT, Capability.KNOWLEDGE, Capability.CHANNELS,
                    Capability.WEBHOOKS})

ROLE_CAPABILITIES: dict[str, frozenset[Capability]] = {
    Role.OWNER: frozenset(Capability),
    Role.ADMIN: _ADMIN,
    Role.STAFF: frozenset({Capability.INBOX}),
}

# Who may hand out which role: an owner makes owners, admins and staff; an admin cannot
# invite (members are the owner's).
ROLE_ORDER = (Role.OWNER, Role.ADMIN, Role.STAFF)


def role_can(role: str, capability: Capability | str) -> bool:
    return Capability(capability) in ROLE_CAPABILITIES.get(role, frozenset())


def role_capabilities(role: str) -> frozenset[Capability]:
    return ROLE_CAPABILITIES.get(role, frozenset())


ROLE_LABELS = {
    Role.OWNER: pgettext_lazy("role", "Owner"),
    Role.ADMIN: pgettext_lazy("role", "Admin"),
    Role.STAFF: pgettext_lazy("role", "Staff"),
}


def role_label(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))
