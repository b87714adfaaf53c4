from __future__ import annotations

from rest_framework import exceptions, permissions


class IsSecretKey(permissions.BasePermission):
    """The full API: secret keys only. A publishable key is identified but refused (403)."""

    message = "This endpoint needs a secret key (sk_…); publishable keys (pk_…) can only chat."

    def has_permission(self, request, view) -> bool:
        key = request.auth
        if key is None:
            raise exceptions.NotAuthenticated()
        return key.is_secret


class IsAnyKey(permissions.BasePermission):
    """Secret or publishable key (chat endpoints)."""

    def has_permission(self, request, view) -> bool:
        if request.auth is None:
            raise exceptions.NotAuthenticated()
        return True
