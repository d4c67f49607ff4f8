"""The Django app of interlink: ``INSTALLED_APPS = [..., "interlink.django"]``, label ``interlink``."""

from __future__ import annotations

from django.apps import AppConfig

__all__ = ["InterlinkConfig"]


class InterlinkConfig(AppConfig):
    name = "interlink.django"
    label = "interlink"
    verbose_name = "interlink API"
    default_auto_field = "django.db.models.BigAutoField"
