"""interlink.django: the API-calls specification served by a Django project.

    INSTALLED_APPS = [..., "django.contrib.auth", "django.contrib.sessions", "interlink.django"]
    urlpatterns = [path("api/", api_urls(api)), ...]      # mysite/urls.py

The same ``ApiServer`` registry and call pipeline as ``interlink serve``, with Django's users,
sessions, CSRF and database: ``Role`` and ``Key`` are models of this app (label ``interlink``),
``ApiModel`` sends a project's own models as their ``api_id``. See docs/django.md.

The models are imported on first use (``from interlink.django import Role``), since Django
imports this package before its app registry is ready.
"""

from __future__ import annotations

from typing import Any

try:
    import django as _django  # noqa: F401
except ImportError as error:  # pragma: no cover - depends on the installed extras
    raise ImportError(f"interlink.django needs the django extra ({error}): pip install 'interlink[django]'") from error

from ._urls import api_urls

__all__ = ["ApiModel", "Key", "Role", "api_urls"]

_MODELS = {"ApiModel", "Key", "Role"}


def __getattr__(name: str) -> Any:
    if name in _MODELS:
        from . import models

        return getattr(models, name)
    raise AttributeError(f"module 'interlink.django' has no attribute {name!r}")
