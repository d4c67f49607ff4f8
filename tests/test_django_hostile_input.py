"""The ASGI server's hostile-input tests (tests/test_hostile_input.py), sent raw to the Django
project served by gunicorn and by uvicorn: each is a 4xx in the one error shape, and the server
answers the next call at once. Their ``site`` fixture is replaced by one that serves the same
methods (django_project/hostile_urls.py) from Django, with a key of interlink.django."""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest

import test_hostile_input as hostile
from django_support import django_ready, new_key, new_user
from test_django_servers import server_process

django_ready()

# The one test left out reads uvicorn's task list in this process (a caller that goes away
# mid-upload); the Django servers run in processes of their own.
for _name in dir(hostile):
    if _name.startswith("test_") and _name != "test_disconnect_mid_multipart_is_quiet":
        globals()[_name] = getattr(hostile, _name)


@pytest.fixture(scope="module", params=["gunicorn", "uvicorn"])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[hostile.Site]:
    extra = {"INTERLINK_DJANGO_URLCONF": "django_project.hostile_urls", "INTERLINK_DJANGO_NO_MEMORY_LIMIT": "1",
             "INTERLINK_HOSTILE_DB": str(tmp_path_factory.mktemp("hostile") / "site.db")}
    key_id, secret = new_key(new_user(), "everyday")
    with server_process(request.param, extra) as url, httpx.Client(base_url=url, timeout=60) as client:
        yield hostile.Site(url, client, None, f"{key_id}:{secret}")  # type: ignore[arg-type]
