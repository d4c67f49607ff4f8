"""tests/django_project served for real: by gunicorn (WSGI) and by uvicorn (ASGI) on 127.0.0.1,
with raw HTTP. The ASGI server's specification tests (tests/test_server_specification.py) run
here once per server through their ``site`` fixture, against the project's spec_urls, which
mount the very methods those tests were written for; then what only a Django site has:
sessions with Django's CSRF token, Django passwords, a key revoked in the database."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import test_server_specification as specification
from django_support import basic, django_ready
from servers import free_port, wait_until_serving

django_ready()

from django.contrib.auth import get_user_model  # noqa: E402

from interlink.django import Key, Role  # noqa: E402

TESTS = Path(__file__).resolve().parent
FORM = {"content-type": "application/x-www-form-urlencoded"}
PASSWORD = "correct horse battery"

# The specification's tests that need only a served site; the others start servers of their
# own (a body limit, a broken method) or read the server's log records in this process.
IN_PROCESS_ONLY = {
    "test_query_string_credentials_work_warn_and_are_not_logged",
    "test_access_log_redaction_filter",
    "test_body_limit_is_413",
    "test_method_errors_are_500_without_details",
}
for _name in dir(specification):
    if _name.startswith("test_") and _name not in IN_PROCESS_ONLY:
        globals()[_name] = getattr(specification, _name)

COMMANDS = {
    # gthread: a few request threads, as a Django site is commonly run; request lines up to
    # gunicorn's largest limit (its default, 4094, answers a long query string itself, with a 414)
    "gunicorn": [sys.executable, "-m", "gunicorn", "django_project.wsgi:application", "--workers", "1",
                 "--worker-class", "gthread", "--threads", "4", "--timeout", "60", "--limit-request-line", "8190",
                 "--bind"],
    "uvicorn": [sys.executable, "-m", "uvicorn", "django_project.asgi:application", "--log-level", "warning",
                "--host", "127.0.0.1", "--port"],
}


@contextlib.contextmanager
def server_process(kind: str, environment: dict[str, str]) -> Iterator[str]:
    """tests/django_project served by ``kind`` (gunicorn or uvicorn) in a process of its own,
    on the test process's database, with ``environment`` added: its base URL."""
    port = free_port()
    command = COMMANDS[kind] + ([f"127.0.0.1:{port}"] if kind == "gunicorn" else [str(port)])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
           "DJANGO_SETTINGS_MODULE": "django_project.settings", **environment}
    process = subprocess.Popen(command, cwd=TESTS, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{url}/api/openapi.json", process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@pytest.fixture(scope="module", params=["gunicorn", "uvicorn"])
def server(request: pytest.FixtureRequest) -> Iterator[str]:
    """The project (spec_urls) served by gunicorn or uvicorn: its base URL."""
    with server_process(request.param, {"INTERLINK_DJANGO_URLCONF": "django_project.spec_urls"}) as url:
        yield url


def _user(username: str) -> Any:
    user, _ = get_user_model().objects.get_or_create(username=username)
    user.set_password(PASSWORD)
    user.save()
    return user


@pytest.fixture
def site(server: str) -> Iterator[dict[str, Any]]:
    """What tests/test_server_specification.py's ``site`` gives, on the Django project."""
    joe = _user("joebloggs")
    _user("johndoe")
    everyday, _ = Role.objects.get_or_create(user=joe, name="everyday")
    key = Key.objects.create(role=everyday)
    secret = key.create_secret().decode()
    client = httpx.Client(base_url=server, timeout=30)
    auth = f"authorisation={key.key_id}:{secret}"

    def post(path: str, body: str, **kwargs: Any) -> httpx.Response:
        return client.post(f"/api/home/{path}", content=body, headers=FORM, **kwargs)

    yield {"user_id": joe.api_id, "key_id": key.key_id, "secret": secret, "url": server, "auth": auth,
           "post": post, "client": client}
    client.close()


# -- what only a Django site has ----------------------------------------------------------------


@contextlib.contextmanager
def login(server: str, username: str) -> Iterator[httpx.Client]:
    """Django's own login view, as a browser uses it: GET the form, POST it with its token."""
    with httpx.Client(base_url=server, timeout=30) as client:
        page = client.get("/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token is not None
        response = client.post("/login/", data={"csrfmiddlewaretoken": token.group(1), "username": username,
                                                "password": PASSWORD, "next": "/page/"})
        assert response.status_code == 302 and response.headers["location"] == "/page/", response.text
        yield client


def test_a_rendered_form_posted_with_the_session_and_csrf_token(server: str) -> None:
    joe = _user("joebloggs")
    with login(server, "joebloggs") as client:
        page = client.get("/page/")
        assert page.status_code == 200
        action = re.search(r'action="([^"]+)"', page.text)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert action is not None and token is not None and action.group(1) == "/api/home/describe_user"
        response = client.post(action.group(1), data={"csrfmiddlewaretoken": token.group(1), "user": joe.api_id})
        assert response.status_code == 200, response.text
        assert response.json() == {"user": joe.api_id, "username": "joebloggs"}
        # The same cookie without the token: 403 in the one error shape, and the method never ran.
        response = client.post(action.group(1), data={"user": joe.api_id})
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"


def test_a_cross_site_form_with_the_session_is_refused(server: str) -> None:
    joe = _user("joebloggs")
    with login(server, "joebloggs") as client:
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', client.get("/page/").text)
        assert token is not None
        # Even with a token, a browser's Origin from another site fails Django's origin check.
        response = client.post("/api/home/describe_user", data={"csrfmiddlewaretoken": token.group(1), "user": joe.api_id},
                               headers={"Origin": "https://evil.example"})
        assert response.status_code == 403


def test_basic_with_a_django_password(server: str) -> None:
    _user("joebloggs")
    response = httpx.post(f"{server}/api/home/describe_site", headers={"Authorization": basic("joebloggs", PASSWORD)})
    assert response.status_code == 200 and response.json() == {"role": "default", "user": "joebloggs"}
    response = httpx.post(f"{server}/api/home/describe_site", headers={"Authorization": basic("joebloggs", "nope")})
    assert response.status_code == 401 and response.headers["www-authenticate"] == 'Bearer realm="api"'


def test_a_key_revoked_in_the_database_is_refused_within_two_seconds(site: dict[str, Any]) -> None:
    assert site["post"]("describe_site", site["auth"]).status_code == 200
    Key.objects.get(key_id=site["key_id"]).revoke()  # as the admin's action does: another process
    revoked_at = time.monotonic()
    status = 200
    while status == 200:
        status = site["post"]("describe_site", site["auth"]).status_code
        if time.monotonic() - revoked_at > 10:
            break
        time.sleep(0.05)
    refused_after = time.monotonic() - revoked_at
    assert status == 401
    # The server keeps a checked key for 2 s; allow for the machine's load on top.
    assert refused_after < 2 + 3


def test_keys_need_no_csrf_token(site: dict[str, Any]) -> None:
    client = site["client"]
    client.cookies.set("sessionid", uuid.uuid4().hex)  # a session cookie beside the key changes nothing
    assert client.post("/api/home/describe_site", content=site["auth"], headers=FORM).status_code == 200


def test_async_method_on_both_servers(site: dict[str, Any]) -> None:
    assert site["client"].post("/api/home/ping").json() == "pong"  # ping is async def
