"""examples/django_site, as docs/django.md builds it: migrated, a user and a key made with
manage.py, served by gunicorn and by uvicorn on 127.0.0.1; a key calls a method with curl's
body, and a logged-in page's form calls one with the session and Django's CSRF token."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from servers import free_port, wait_until_serving

SITE = Path(__file__).resolve().parent.parent / "examples" / "django_site"
PASSWORD = "a long example password"


def manage(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    run = subprocess.run([sys.executable, "manage.py", *args], cwd=SITE, env=env, input=stdin,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = {**os.environ, "MYSITE_DATABASE": str(tmp_path_factory.mktemp("mysite") / "db.sqlite3"),
           "DJANGO_SETTINGS_MODULE": "mysite.settings", "DJANGO_SUPERUSER_PASSWORD": PASSWORD}
    env.pop("PYTHONPATH", None)
    assert "No changes detected" in manage(env, "makemigrations", "--check", "--dry-run")
    manage(env, "migrate", "--verbosity", "0")
    manage(env, "createsuperuser", "--noinput", "--username", "joebloggs", "--email", "joe@example.com")
    role = manage(env, "interlink", "roles", "create", "--user", "joebloggs", "everyday").strip()
    keys = manage(env, "interlink", "keys", "create", "--role", "joebloggs/everyday")
    found = re.search(r"access_key_id = (\S+)\naccess_key_secret = (\S+)", keys)
    assert found is not None and role.startswith("r-")
    return {**env, "KEY": f"{found.group(1)}:{found.group(2)}"}


@pytest.fixture(scope="module", params=["gunicorn", "uvicorn"])
def served(request: pytest.FixtureRequest, project: dict[str, str]) -> Iterator[str]:
    port = free_port()
    command = {
        "gunicorn": [sys.executable, "-m", "gunicorn", "mysite.wsgi", "--bind", f"127.0.0.1:{port}"],
        "uvicorn": [sys.executable, "-m", "uvicorn", "mysite.asgi:application", "--port", str(port),
                    "--log-level", "warning"],
    }[request.param]
    env = {key: value for key, value in project.items() if key != "KEY"}
    process = subprocess.Popen(command, cwd=SITE, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{url}/api/openapi.json", process)
        yield url
    finally:
        process.terminate()
        process.wait(20)


def test_a_key_calls_a_method(served: str, project: dict[str, str]) -> None:
    who = httpx.post(f"{served}/api/home/rename", data={"first_name": "Joe", "authorisation": project["KEY"]})
    assert who.status_code == 200 and who.json() == "Joe"
    assert httpx.post(f"{served}/api/home/describe_site").json() == {"name": "mysite"}


def test_a_page_form_calls_a_method_with_the_session(served: str) -> None:
    with httpx.Client(base_url=served, timeout=30) as browser:
        login = browser.get("/accounts/login/?next=/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text)
        assert token is not None
        response = browser.post("/accounts/login/", data={"csrfmiddlewaretoken": token.group(1), "username": "joebloggs",
                                                           "password": PASSWORD, "next": "/"})
        assert response.status_code == 302
        page = browser.get("/")
        form = re.search(r'action="([^"]+)".*name="csrfmiddlewaretoken" value="([^"]+)".*name="user" value="([^"]+)"',
                         page.text, re.DOTALL)
        assert form is not None, page.text
        action, csrf, user = form.groups()
        described = browser.post(action, data={"csrfmiddlewaretoken": csrf, "user": user})
        assert described.status_code == 200, described.text
        assert described.json()["user"] == user and described.json()["username"] == "joebloggs"
