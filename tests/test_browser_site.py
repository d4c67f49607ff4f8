"""The example site (`make run`) end to end in headless Chromium (Debian's package, driven by
Playwright): log in, filter users with a form posting filter.name_gt/filter.name_lt, edit a
list posted as bare names plus the `usernames.` marker, upload a file, fail CSRF, log out.

The site runs as `python -m examples.mysite` in a subprocess on a free loopback port, on the
test's database (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from servers import free_port, wait_until_serving

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "demo password for the browser"

pytestmark = pytest.mark.browser


@pytest.fixture
def mysite(database: Any, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ, "PORT": str(port), "MYSITE_DATA_DIR": str(tmp_path),
        "INTERLINK_DATABASE_URL": database.url, "MYSITE_DEMO_PASSWORD": PASSWORD, "LOG_LEVEL": "warning",
    }
    process = subprocess.Popen([sys.executable, "-m", "examples.mysite"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base + "/login", process)
        yield base
    finally:
        process.terminate()
        process.wait(10)




def submit_and_wait(page: Any, button: str) -> Any:
    result = page.locator("#result")
    page.evaluate("document.getElementById('result').dataset.status = ''")
    page.click(button)
    page.wait_for_function("document.getElementById('result').dataset.status !== ''")
    return result


def log_in(page: Any, base: str, password: str = PASSWORD) -> None:
    page.goto(base + "/users")
    assert page.url.startswith(base + "/login")
    page.fill("#username", "demo")
    page.fill("#password", password)
    page.click("#login")


def test_login_forms_upload_csrf_and_logout(mysite: str, page: Any, tmp_path: Path) -> None:
    log_in(page, mysite, "not the password")
    assert "Wrong username or password" in page.locator("#error").inner_text()

    page.fill("#username", "demo")
    page.fill("#password", PASSWORD)
    page.click("#login")
    page.wait_for_url(mysite + "/users")
    assert page.locator("#who").inner_text() == "demo"
    cookie = next(c for c in page.context.cookies() if c["name"] == "interlink_session")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax" and cookie["secure"] is False

    # The users list, filtered by a form posting filter.name_gt / filter.name_lt to the API.
    page.fill("#name_gt", "b")
    page.fill("#name_lt", "d")
    result = submit_and_wait(page, "#apply")
    assert result.get_attribute("data-status") == "200"
    assert page.locator("#users li").all_inner_texts() == ["bob", "carol"]
    page.screenshot(path=str(tmp_path / "users.png"))

    # The editable list: bare `usernames` fields plus the `usernames.` marker.
    page.goto(mysite + "/editable")
    page.locator("#rows li", has=page.locator("input[value=bob]")).locator(".remove").click()
    page.click("#add")
    page.locator("#rows li input").last.fill("carol")
    result = submit_and_wait(page, "#check")
    assert result.inner_text() == 'found: ["alice","carol"]'
    for _ in range(page.locator("#rows li").count()):
        page.locator("#rows li .remove").first.click()
    result = submit_and_wait(page, "#check")
    assert result.get_attribute("data-status") == "200" and result.inner_text() == "found: []"

    # A file upload (multipart) with the CSRF field.
    page.goto(mysite + "/upload")
    page.set_input_files("#file", files=[{"name": "hello.txt", "mimeType": "text/plain", "buffer": b"hello, site"}])
    result = submit_and_wait(page, "#send")
    assert result.inner_text().startswith("hello.txt 11 bytes sha256 ")

    # CSRF failure: the same form with a forged token is refused, and says why.
    page.goto(mysite + "/users")
    page.evaluate("document.querySelector('#filter input[name=csrf_token]').value = 'forged'")
    result = submit_and_wait(page, "#apply")
    assert result.get_attribute("data-status") == "403"
    assert "CSRF token missing or wrong" in result.inner_text()
    # ... and without any token at all.
    page.evaluate("document.querySelector('#filter input[name=csrf_token]').remove()")
    result = submit_and_wait(page, "#apply")
    assert result.get_attribute("data-status") == "403"

    # Log out: the session ends, pages send the browser back to the login form.
    page.click("#logout")
    page.wait_for_url(mysite + "/login")
    assert not any(c["name"] == "interlink_session" for c in page.context.cookies())
    page.goto(mysite + "/users")
    assert page.url.startswith(mysite + "/login")
