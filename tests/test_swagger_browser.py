"""Swagger UI at /docs, driven in headless Chromium (Debian's package, through Playwright): the
Authorize dialog's Bearer and Basic schemes, then "Try it out" and Execute on real methods of the
example site, served by uvicorn on a free loopback port with a key kept in the store.

What the document says is what Swagger UI sends, so this is the test that the security schemes
and request bodies of /api/openapi.json are usable as published."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from example_site import example_site, new_user_key


pytestmark = pytest.mark.browser


@pytest.fixture
def site(tmp_path: Path, live_server: Any) -> tuple[str, str, str]:
    module = example_site(tmp_path)
    key_id, secret = new_user_key(module.database, f"swagger-{os.getpid()}-{tmp_path.name}")
    return live_server(module.api), key_id, secret




def authorize(page: Any, scheme: str, key_id: str, secret: str) -> None:
    """Swagger UI's Authorize dialog: fill one scheme's form, apply it, close the dialog."""
    page.click("button.authorize")
    if scheme == "bearer":
        page.fill("input[aria-label='auth-bearer-value']", f"{key_id}:{secret}")
        field = "auth-bearer-value"
    else:
        page.fill("input[aria-label='auth-basic-username']", key_id)
        page.fill("input[aria-label='auth-basic-password']", secret)
        field = "auth-basic-username"
    form = page.locator(".auth-container", has=page.locator(f"input[aria-label='{field}']"))
    form.locator("button.authorize").click()
    assert form.locator("button.authorize").count() == 0  # the form now offers "Logout" instead
    page.locator(".modal-ux button.btn-done").first.click()


def try_it_out(page: Any, path: str) -> Any:
    """Expand the operation and press "Try it out"; the operation's block."""
    operation = page.locator(".opblock", has=page.locator(f"[data-path='{path}']"))
    operation.locator(".opblock-summary").first.click()
    operation.locator("button.try-out__btn").click()
    return operation


def execute(page: Any, operation: Any, fields: dict[str, str] | None = None) -> tuple[str, str, dict[str, Any]]:
    """Fill form fields, press Execute: (status shown, response body shown, the request sent)."""
    for name, value in (fields or {}).items():
        operation.locator(f"tr[data-property-name='{name}'] input[type=text]").fill(value)
    with page.expect_response(lambda r: "/api/home/" in r.url) as answered:
        operation.locator("button.execute").click()
    request = answered.value.request
    status = operation.locator(".live-responses-table .response .response-col_status")
    page.wait_for_function(
        "([element, status]) => element.innerText.trim() === status",
        arg=[status.element_handle(), str(answered.value.status)],
    )
    body = operation.locator(".live-responses-table .response-col_description pre").first.inner_text()
    return status.inner_text().strip(), body, {"authorization": request.headers.get("authorization"),
                                                "content-type": request.headers.get("content-type", ""),
                                                "body": request.post_data or ""}


@pytest.mark.parametrize("scheme", ["bearer", "basic"])
def test_authorize_then_try_it_out_answers_200(site: tuple[str, str, str], page: Any, scheme: str) -> None:
    base, key_id, secret = site
    page.goto(base + "/docs")
    page.wait_for_selector(".opblock")
    authorize(page, scheme, key_id, secret)

    status, body, request = execute(page, try_it_out(page, "/api/home/describe_site"))
    assert status == "200", body
    assert '"name": "mysite"' in body
    assert request["authorization"].startswith("Bearer " if scheme == "bearer" else "Basic ")
    assert secret not in request["body"] and "authorisation" not in request["body"]

    # A method with form fields: the structure's fields as Swagger UI's form shows them.
    operation = try_it_out(page, "/api/home/list_users")
    status, body, request = execute(page, operation, {"filter.name_gt": "swagger-"})
    assert status == "200", body
    assert request["content-type"].startswith("application/x-www-form-urlencoded")
    assert "filter.name_gt=swagger-" in request["body"]
    assert "-alice" in body and "-carol" in body

    # The same method as JSON, sending the example Swagger UI builds from the schema.
    operation.locator(".opblock-section-request-body select.content-type").select_option("application/json")
    status, body, request = execute(page, operation)
    assert status == "200", body
    assert request["content-type"].startswith("application/json")
    assert '"filter": {' in request["body"]


def test_docstrings_render_as_markdown(site: tuple[str, str, str], page: Any) -> None:
    base, _, _ = site
    page.goto(base + "/docs")
    operation = page.locator(".opblock", has=page.locator("[data-path='/api/home/describe_user']"))
    summary = operation.locator(".opblock-summary-description").inner_text()
    assert summary == "One user, by api_id (user=u-…)."
    operation.locator(".opblock-summary").first.click()
    description = operation.locator(".opblock-description-wrapper").first
    assert description.locator("code").first.inner_text() == "user=u-…"
    assert "``" not in description.inner_text()


def test_wrong_credentials_show_401_in_the_page(site: tuple[str, str, str], page: Any) -> None:
    """No Basic challenge on a 401: it would make the browser prompt for a password instead."""
    base, key_id, _ = site
    page.goto(base + "/docs")
    page.wait_for_selector(".opblock")
    authorize(page, "basic", key_id, "not the secret")
    status, body, _ = execute(page, try_it_out(page, "/api/home/describe_site"))
    assert status == "401" and '"not_authorised"' in body
