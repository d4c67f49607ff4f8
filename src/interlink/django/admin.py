"""Roles and keys in Django's admin. A key's secret is never shown there, nor its hash: keys
are made in code (``key.create_secret()``) or with ``manage.py interlink keys create``, which
print the secret once. The admin can revoke keys and change their expiry."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from .models import Key, Role

__all__ = ["KeyAdmin", "RoleAdmin"]


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("api_id", "user", "name", "is_default", "created_at")
    list_filter = ("is_default",)
    search_fields = ("api_id", "name")
    readonly_fields = ("api_id", "is_default", "created_at")
    fields = ("api_id", "user", "name", "permissions", "is_default", "created_at")


@admin.action(description="Revoke the selected keys")
def revoke(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Key]) -> None:
    queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


@admin.register(Key)
class KeyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("key_id", "role", "created_at", "expires_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("key_id",)
    # secret_hash is in neither list: the admin never shows it.
    fields = ("key_id", "role", "created_at", "expires_at", "revoked_at", "allowed_networks")
    readonly_fields = ("key_id", "role", "created_at")
    actions = [revoke]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A key made here would have no secret (none is shown in the admin): use the command.
        return False
