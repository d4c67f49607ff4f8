"""The Django project of tests/django_project, set up once per test process on its own SQLite
file (its path is in INTERLINK_DJANGO_SQLITE, which the servers the tests start read too)."""

from __future__ import annotations

import base64
import os
import tempfile
import uuid
from typing import Any

_ready: str | None = None


def django_ready() -> str:
    """Configure Django for the test project and migrate its database; the SQLite file's path."""
    global _ready
    if _ready is None:
        path = os.environ.get("INTERLINK_DJANGO_SQLITE") or os.path.join(
            tempfile.mkdtemp(prefix="interlink-django-"), "db.sqlite3"
        )
        os.environ["INTERLINK_DJANGO_SQLITE"] = path
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_project.settings")
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        _ready = path
    return _ready


def new_user(password: str | None = None, **fields: Any) -> Any:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(username=f"user-{uuid.uuid4().hex[:10]}", password=password, **fields)
    return user


def new_key(user: Any, role_name: str | None = None, permissions: list[str] | None = None) -> tuple[str, str]:
    """A key of ``user``'s default role (or a new role ``role_name``): (key id, secret)."""
    from interlink.django import Key, Role

    if role_name is None:
        role = Role.default_for(user)
    else:
        role = Role.objects.create(user=user, name=role_name, permissions=permissions or [])
    key = Key.objects.create(role=role)
    return key.api_id, key.create_secret().decode()


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
