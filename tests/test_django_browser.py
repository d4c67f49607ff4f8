"""The Django project in headless Chromium (Debian's package, driven by Playwright): Django's own
login view, then the page's form — `{% url 'api:home/describe_user' %}` with `{% csrf_token %}`
— posted by the browser to the API, served by gunicorn and by uvicorn."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from django_support import django_ready
from test_django_servers import PASSWORD, _user, server_process

django_ready()

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module", params=["gunicorn", "uvicorn"])
def project(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """The served project and joebloggs' api_id (made here: under Playwright's sync API an event
    loop runs in the test's thread, where Django's ORM refuses to run)."""
    user_id = _user("joebloggs").api_id
    with server_process(request.param, {"INTERLINK_DJANGO_URLCONF": "django_project.urls"}) as url:
        yield url, user_id


def test_login_then_a_rendered_form_calls_the_api(project: tuple[str, str], page: Any) -> None:
    project, user_id = project
    page.goto(project + "/page/")
    assert "/login/" in page.url  # login_required sent the browser to Django's login view
    page.fill("#id_username", "joebloggs")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(project + "/page/")

    with page.expect_response(project + "/api/home/describe_user") as answered:
        page.click("#describe button")
    response = answered.value
    assert response.status == 200
    assert json.loads(page.locator("body").inner_text()) == {"user": user_id, "username": "joebloggs"}

    # The same form without its CSRF token: the session alone is refused, in the one error shape.
    page.goto(project + "/page/")
    page.evaluate("document.querySelector('#describe [name=csrfmiddlewaretoken]').remove()")
    with page.expect_response(project + "/api/home/describe_user") as answered:
        page.click("#describe button")
    assert answered.value.status == 403
    assert json.loads(page.locator("body").inner_text())["error"]["code"] == "forbidden"
