"""Failed-login counts in Django's cache under WSGI, with the database cache backend.

Django's database cache may not be touched from a thread that runs an event loop
(``SynchronousOnlyOperation``), and under WSGI interlink.django serves a call either on the request
thread with no loop (a keyed ``def`` method) or on that thread's own loop (a password, an
``async def`` method). Both kinds share one set of counts: whichever kind comes first, the other
must still count, and neither may answer a 500.
"""

from __future__ import annotations

from typing import Any

import pytest

from django_support import basic, django_ready, new_key, new_user

django_ready()

from django.core.management import call_command  # noqa: E402
from django.test import RequestFactory, override_settings  # noqa: E402

from interlink.django._shell import DjangoShell  # noqa: E402

from django_project.api import api  # noqa: E402

DATABASE_CACHE = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "interlink_test_cache"}}
FORM = "application/x-www-form-urlencoded"
PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def database_cache() -> Any:
    with override_settings(CACHES=DATABASE_CACHE):
        from django.core.cache import caches

        call_command("createcachetable", verbosity=0)
        caches["default"].clear()
        yield
        caches["default"].clear()


def _keyed(shell: DjangoShell, key_id: str, secret: str) -> int:
    request = RequestFactory().post("/api/home/ping", data=f"authorisation={key_id}:{secret}", content_type=FORM)
    return shell.answer(request, "home/ping").status_code


def _password(shell: DjangoShell, username: str, password: str) -> int:
    request = RequestFactory().post("/api/home/notes", data="", content_type=FORM,
                                    HTTP_AUTHORIZATION=basic(username, password))
    return shell.answer(request, "home/notes").status_code


def _shell_after(first: str) -> tuple[DjangoShell, Any, str, str]:
    """A new shell whose first call was keyed or made with a password: (shell, user, key id, secret)."""
    user = new_user(password=PASSWORD)
    key_id, secret = new_key(user)
    shell = DjangoShell(api)
    if first == "key":
        assert _keyed(shell, key_id, secret) == 200
    else:
        assert _password(shell, user.username, PASSWORD) == 200
    return shell, user, key_id, secret


@pytest.mark.parametrize("first", ["key", "password"])
def test_wrong_passwords_are_counted_whichever_kind_of_call_came_first(first: str) -> None:
    shell, user, key_id, secret = _shell_after(first)
    statuses = [_password(shell, user.username, "wrong") for _ in range(12)]
    assert 500 not in statuses, statuses
    assert statuses[0] == 401
    assert 429 in statuses, statuses  # the limit was reached: the counts were kept in the cache
    assert _keyed(shell, key_id, secret) == 200


@pytest.mark.parametrize("first", ["key", "password"])
def test_wrong_keys_are_answered_401_whichever_kind_of_call_came_first(first: str) -> None:
    shell, _, key_id, secret = _shell_after(first)
    statuses = [_keyed(shell, key_id, "x" * 40) for _ in range(3)]
    assert statuses == [401, 401, 401]
    assert _keyed(shell, key_id, secret) == 200
