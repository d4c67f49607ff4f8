"""Several server processes on one database (PostgreSQL when configured, and SQLite) share keys,
sessions and revocations: revoke a key or log out through one process and the other refuses
it within its 2 s cache window. Each process is a real `interlink serve` on its own port."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from servers import free_port, wait_until_serving
from interlink.cli import main

TESTS = Path(__file__).resolve().parent
INTERLINK = Path(sys.executable).parent / "interlink"
PASSWORD = "a password shared by workers"
CACHE_WINDOW = 2.0  # KeyAuthenticator's and SessionStore's default cache_seconds


def cli(database: Any, *args: str, input: str | None = None) -> str:
    result = CliRunner().invoke(main, ["--database", database.url, *args], input=input)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def workers(database: Any) -> Iterator[list[str]]:
    processes, urls = [], []
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    try:
        for _ in range(2):
            port = free_port()
            processes.append(subprocess.Popen(
                [str(INTERLINK), "--database", database.url, "serve", "sites_workers_app:api", "--port", str(port)],
                cwd=TESTS, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            ))
            urls.append(f"http://127.0.0.1:{port}")
        for process, url in zip(processes, urls):
            wait_until_serving(url + "/login", process)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(10)


def refused_within(window: float, attempt: Callable[[], int], refused: int) -> int:
    """Poll until the status is `refused`, for at most the cache window plus a margin."""
    deadline = time.monotonic() + window + 3.0
    status = attempt()
    while status != refused and time.monotonic() < deadline:
        time.sleep(0.1)
        status = attempt()
    return status


def test_key_revoked_through_one_worker_is_refused_by_the_other(database: Any, workers: list[str]) -> None:
    one, other = workers
    cli(database, "users", "create", "joebloggs")
    admin_key = re.findall(r"= (\S+)", cli(database, "keys", "create", "--role", "joebloggs/default"))
    cli(database, "roles", "create", "--user", "joebloggs", "everyday")
    key_id, secret = re.findall(r"= (\S+)", cli(database, "keys", "create", "--role", "everyday"))

    def whoami(url: str) -> int:
        return httpx.post(url + "/api/home/whoami", data={"authorisation": f"{key_id}:{secret}"}).status_code

    first = httpx.post(one + "/api/home/whoami", data={"authorisation": f"{key_id}:{secret}"}).json()
    second = httpx.post(other + "/api/home/whoami", data={"authorisation": f"{key_id}:{secret}"}).json()
    assert first["pid"] != second["pid"]  # two processes, and the key is now cached in both
    revoked = httpx.post(one + "/api/admin/revoke",
                         data={"authorisation": ":".join(admin_key), "key_id": key_id})
    assert revoked.status_code == 200
    assert whoami(one) == 401  # the revoking process forgot it at once
    assert refused_within(CACHE_WINDOW, lambda: whoami(other), 401) == 401


def test_session_and_logout_are_shared_between_workers(database: Any, workers: list[str]) -> None:
    one, other = workers
    cli(database, "users", "create", "joebloggs", "--password-stdin", input=PASSWORD + "\n")
    with httpx.Client(base_url=one) as browser:
        form = browser.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)[1]  # type: ignore[index]
        assert browser.post("/login", data={"username": "joebloggs", "password": PASSWORD,
                                            "csrf_token": token}).status_code == 303
        session = browser.cookies["interlink_session"]
    from interlink.server._csrf import csrf_token_for

    csrf = csrf_token_for(session)  # what the site's pages put in csrf_field()

    def whoami(url: str) -> int:
        return httpx.post(url + "/api/home/whoami", data={"csrf_token": csrf},
                          cookies={"interlink_session": session}).status_code

    assert whoami(other) == 200  # a session made by one process works in the other
    logout = httpx.post(one + "/logout", data={"csrf_token": csrf}, cookies={"interlink_session": session})
    assert logout.status_code == 303
    assert whoami(one) == 401
    assert refused_within(CACHE_WINDOW, lambda: whoami(other), 401) == 401


def test_expiry_reaches_every_worker(database: Any, workers: list[str]) -> None:
    import datetime as dt

    from interlink.store import find_key, utcnow

    one, other = workers
    cli(database, "users", "create", "joebloggs")
    key_id, secret = re.findall(r"= (\S+)", cli(database, "keys", "create", "--role", "joebloggs/default"))

    def whoami(url: str) -> int:
        return httpx.post(url + "/api/home/whoami", data={"authorisation": f"{key_id}:{secret}"}).status_code

    assert whoami(one) == 200 and whoami(other) == 200
    with database.session() as session:
        find_key(session, key_id).expires_at = utcnow() + dt.timedelta(seconds=1)
    assert refused_within(CACHE_WINDOW + 1, lambda: whoami(one), 401) == 401
    # The other worker's cache may be a moment younger: it refuses within its own window too.
    assert refused_within(CACHE_WINDOW + 1, lambda: whoami(other), 401) == 401
