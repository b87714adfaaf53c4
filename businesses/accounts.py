"""People and their access: signing in (with a rate limit), invitations, members, own settings.

Sign-in failures are counted per client IP and per account (the email typed) in Redis by
`limits`, as the API's rate limits are: a sliding window, shared by every web process. A
correct password does not bypass a tripped limit, or a guesser could keep trying.

An invitation is a row (who, which role, by whom) and a link carrying its id signed with
Django's ``TimestampSigner``: the link expires after INVITATION_MAX_AGE_DAYS, works once, and
names its business inside the signature, so no edit of the link reaches another business.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from limits import parse, storage, strategies

from businesses.audit import Actor, audit_record
from businesses.models import AccountSettings, Business, Invitation, Membership
from businesses.roles import role_label
from config.errors import ApplicationError

User = get_user_model()

INVITATION_SALT = "frontdesk.invitation"


# --------------------------------------------------------------------------- sign-in rate limit


def _limiter() -> strategies.RateLimiter:
    return strategies.SlidingWindowCounterRateLimiter(storage.storage_from_string(settings.RATELIMIT_STORAGE_URI))


def _login_limits(ip: str, email: str) -> list[tuple]:
    return [(parse(settings.RATELIMIT_LOGIN_PER_IP), "login-ip", ip),
            (parse(settings.RATELIMIT_LOGIN_PER_ACCOUNT), "login-account", email.strip().lower())]


def login_blocked(*, ip: str, email: str) -> float | None:
    """Seconds until this IP or account may try again, or None when it may try now."""
    if not settings.RATELIMIT_ENABLED:
        return None
    limiter = _limiter()
    waits = []
    for item, scope, identity in _login_limits(ip, email):
        if not limiter.test(item, scope, identity):
            reset_time, _remaining = limiter.get_window_stats(item, scope, identity)
            waits.append(max(1.0, reset_time - timezone.now().timestamp()))
    return max(waits) if waits else None


def login_failed(*, ip: str, email: str) -> None:
    """Count one failed sign-in against the IP and the account."""
    if not settings.RATELIMIT_ENABLED:
        return
    limiter = _limiter()
    for item, scope, identity in _login_limits(ip, email):
        limiter.hit(item, scope, identity)


# --------------------------------------------------------------------------- own settings


def account_settings_for(*, user) -> AccountSettings:
    account, _created = AccountSettings.objects.get_or_create(user=user)
    return account


def account_language_set(*, user, language: str) -> AccountSettings:
    codes = {code for code, _name in settings.LANGUAGES}
    if language and language not in codes:
        raise ApplicationError("validation_error", _("Unknown language."),
                               details={"fields": {"language": [f"one of {sorted(codes)}"]}})
    account = account_settings_for(user=user)
    account.language = language
    account.save(update_fields=["language"])
    return account


def account_business_remember(*, user, business: Business) -> None:
    AccountSettings.objects.update_or_create(user=user, defaults={"last_business": business})


# --------------------------------------------------------------------------- invitations


@dataclass(frozen=True)
class InvitationSent:
    invitation: Invitation
    url: str


def invitation_token(invitation: Invitation) -> str:
    return signing.TimestampSigner(salt=INVITATION_SALT).sign(f"{invitation.pk}:{invitation.business_id}")


def invitation_create(*, business: Business, email: str, role: str, invited_by, base_url: str,
                      actor: Actor | None = None) -> InvitationSent:
    """Invite someone by email; the mail carries the signed link."""
    if role not in Membership.Role.values:
        raise ApplicationError("validation_error", _("Choose a role."), details={"fields": {"role": [role]}})
    email = User.objects.normalize_email(email).strip().lower()
    if Membership.objects.filter(business=business, user__email__iexact=email).exists():
        raise ApplicationError("already_member", _("%(email)s is already a member of this business.")
                               % {"email": email}, status=409)
    invitation = Invitation.objects.unscoped().create(business=business, email=email, role=role,
                                                      invited_by=invited_by)
    audit_record(business_id=business.pk, actor=actor, action="member.invited", target_type="invitation",
                 target_id=invitation.pk, details={"email": email, "role": role})
    url = f"{base_url.rstrip('/')}/app/invitations/{invitation_token(invitation)}/"
    days = settings.INVITATION_MAX_AGE_DAYS
    inviter = getattr(invited_by, "email", "") or business.name
    send_mail(
        subject=_("You are invited to %(business)s on Frontdesk") % {"business": business.name},
        message=_("%(inviter)s invited you to join %(business)s on Frontdesk as %(role)s.\n\n"
                  "Accept the invitation (the link works once, for %(days)s days):\n%(url)s\n")
        % {"inviter": inviter, "business": business.name, "role": role_label(role), "days": days, "url": url},
        from_email=None, recipient_list=[email],
    )
    return InvitationSent(invitation, url)


def invitation_from_token(token: str) -> Invitation:
    """The pending invitation a link names; a clear error for an expired, used, revoked or
    tampered one."""
    try:
        value = signing.TimestampSigner(salt=INVITATION_SALT).unsign(
            token, max_age=settings.INVITATION_MAX_AGE_DAYS * 86400)
    except signing.SignatureExpired as exc:
        raise ApplicationError("invitation_expired", _("This invitation has expired; ask for a new one."),
                               status=410) from exc
    except signing.BadSignature as exc:
        raise ApplicationError("invitation_invalid", _("This invitation link is not valid."), status=404) from exc
    invitation_id, _sep, business_id = value.partition(":")
    invitation = (Invitation.objects.unscoped().select_related("business")
                  .filter(pk=invitation_id, business_id=business_id).first())
    if invitation is None or invitation.revoked_at is not None:
        raise ApplicationError("invitation_invalid", _("This invitation link is not valid."), status=404)
    if invitation.accepted_at is not None:
        raise ApplicationError("invitation_used", _("This invitation has been used already."), status=410)
    return invitation


def invitation_accept(*, token: str, user=None, password: str = "") -> Membership:
    """Join the business: an existing user (signed in as the invited email) is attached; a new
    one is created with ``password``. Works once."""
    with transaction.atomic():
        invitation = invitation_from_token(token)
        invitation = Invitation.objects.unscoped().select_for_update().get(pk=invitation.pk)
        if invitation.accepted_at is not None:
            raise ApplicationError("invitation_used", _("This invitation has been used already."), status=410)
        if user is not None and getattr(user, "is_authenticated", False):
            if user.email.lower() != invitation.email.lower():
                raise ApplicationError(
                    "invitation_other_email",
                    _("This invitation is for %(email)s; sign out and open the link again.")
                    % {"email": invitation.email}, status=403)
        else:
            user = User.objects.filter(email__iexact=invitation.email).first()
            if user is not None:
                raise ApplicationError("sign_in_first", _("You have an account already: sign in, then open "
                                                          "the link again."), status=409)
            try:
                validate_password(password, user=User(username=invitation.email, email=invitation.email))
            except DjangoValidationError as exc:
                raise ApplicationError("validation_error", _("The password is too weak."),
                                       details={"fields": {"password": exc.messages}}) from exc
            user = User.objects.create_user(username=invitation.email, email=invitation.email, password=password)
        membership, _created = Membership.objects.get_or_create(
            user=user, business=invitation.business, defaults={"role": invitation.role})
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by", "updated_at"])
        audit_record(business_id=invitation.business_id, actor=Actor.for_user(user), action="member.joined",
                     target_type="member", target_id=user.pk, details={"email": user.email, "role": membership.role})
    return membership


def invitation_revoke(*, invitation: Invitation, actor: Actor | None = None) -> Invitation:
    if invitation.accepted_at is None and invitation.revoked_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at", "updated_at"])
        audit_record(business_id=invitation.business_id, actor=actor, action="member.invitation_revoked",
                     target_type="invitation", target_id=invitation.pk, details={"email": invitation.email})
    return invitation


# --------------------------------------------------------------------------- members


def _owners_left(business: Business, without: Membership) -> int:
    return (Membership.objects.select_for_update().filter(business=business, role=Membership.Role.OWNER)
            .exclude(pk=without.pk).count())


def member_role_set(*, membership: Membership, role: str, actor: Actor | None = None) -> Membership:
    if role not in Membership.Role.values:
        raise ApplicationError("validation_error", _("Choose a role."), details={"fields": {"role": [role]}})
    with transaction.atomic():
        if membership.role == Membership.Role.OWNER and role != Membership.Role.OWNER \
                and not _owners_left(membership.business, membership):
            raise ApplicationError("last_owner", _("A business needs an owner: make someone else owner first."),
                                   status=409)
        before, membership.role = membership.role, role
        membership.save(update_fields=["role"])
        if before != role:
            audit_record(business_id=membership.business_id, actor=actor, action="member.role_changed",
                         target_type="member", target_id=membership.user_id,
                         details={"email": membership.user.email, "from": before, "to": role})
    return membership


def member_remove(*, membership: Membership, actor: Actor | None = None) -> None:
    with transaction.atomic():
        if membership.role == Membership.Role.OWNER and not _owners_left(membership.business, membership):
            raise ApplicationError("last_owner", _("A business needs an owner: make someone else owner first."),
                                   status=409)
        audit_record(business_id=membership.business_id, actor=actor, action="member.removed",
                     target_type="member", target_id=membership.user_id,
                     details={"email": membership.user.email, "role": membership.role})
        membership.delete()
