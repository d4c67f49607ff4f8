"""Hostile requests to site routes and logs, sent raw to a real server (uvicorn on 127.0.0.1):
the login page reads no uploads, credentials in an encoded query name are still redacted,
pages carry security headers, and the SQLite file is private."""

from __future__ import annotations

import logging
import os
import socket
import stat
import time
from typing import Any

import httpx
import pytest
from servers import LogLines

from interlink import ApiServer, Role
from interlink.server import Site
from interlink.store import Database, create_key, create_user


@pytest.fixture
def site_url(tmp_path: Any, live_server: Any) -> tuple[str, str]:
    database = Database(f"sqlite:///{tmp_path / 'site.db'}")
    database.migrate()
    with database.session() as session:
        user = create_user(session, "joebloggs")
        key, secret = create_key(session, user.default_role)
        authorisation = f"{key.key_id}:{secret.decode()}"
    api = ApiServer(database=database)

    @api.method(module="home")
    def whoami(rl: Role) -> str:
        return rl.user.username

    (tmp_path / "me.html").write_text("<p>{{ user.username }}</p>")
    Site(api, templates=tmp_path).page("/me", "me.html")
    return live_server(api), authorisation


def raw_request(url: str, head: bytes, body_chunks: int, chunk: bytes) -> bytes:
    """Send a request head and then up to ``body_chunks`` chunks; stop once the server answers."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head)
        sock.settimeout(0.05)
        answer = b""
        for _ in range(body_chunks):
            try:
                answer = sock.recv(65536)
                if answer:
                    break
            except TimeoutError:
                pass
            try:
                sock.sendall(chunk)
            except OSError:
                break
        sock.settimeout(10)
        while b"\r\n\r\n" not in answer:
            more = sock.recv(65536)
            if not more:
                break
            answer += more
        return answer


def test_login_refuses_a_multipart_upload_without_reading_it(site_url: tuple[str, str]) -> None:
    url, _ = site_url
    size = 1024 * 1024 * 1024  # announced: 1 GB
    head = (
        b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
        + f"Content-Length: {size}\r\n\r\n".encode()
    )
    answer = raw_request(url, head, body_chunks=200, chunk=b"x" * 65536)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    # At most 200 chunks of 64 KiB (13 MB) were ever offered; the server answered before the body ended.
    assert httpx.post(url + "/api/home/whoami").status_code == 401  # still serving


def test_login_refuses_an_oversized_form(site_url: tuple[str, str]) -> None:
    url, _ = site_url
    response = httpx.post(url + "/login", content=b"username=" + b"a" * 100_000,
                          headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400
    assert response.headers["x-frame-options"] == "DENY"


def test_logout_refuses_multipart(site_url: tuple[str, str]) -> None:
    url, _ = site_url
    response = httpx.post(url + "/logout", files={"f": ("a.bin", b"x" * 1000)})
    assert response.status_code == 400


def test_site_pages_send_security_headers(site_url: tuple[str, str]) -> None:
    url, _ = site_url
    for response in (httpx.get(url + "/login"), httpx.get(url + "/me")):
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


@pytest.mark.parametrize("name", ["authorisation", "%61uthorisation", "AUTHORISATION", "authoris%61tion"])
def test_query_credentials_are_redacted_by_their_decoded_name(tmp_path: Any, live_server: Any, name: str) -> None:
    api = ApiServer(database=f"sqlite:///{tmp_path / 'log.db'}")

    @api.method(module="home")
    def whoami(rl: Role) -> str:
        return rl.user.username

    url = live_server(api, log_level="info")
    with Database(f"sqlite:///{tmp_path / 'log.db'}").session() as session:
        key, secret = create_key(session, create_user(session, "joe").default_role)
    lines = LogLines()
    access = logging.getLogger("uvicorn.access")
    access.addHandler(lines)
    try:
        response = httpx.post(f"{url}/api/home/whoami?{name}={key.key_id}:{secret.decode()}")
        deadline = time.monotonic() + 5
        while not any("whoami" in line for line in lines.lines) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        access.removeHandler(lines)
    if name == "AUTHORISATION":
        assert response.status_code == 401  # another name: not a credential to the server either
    else:
        assert response.status_code == 200, response.text  # the server reads the decoded name
    logged = "\n".join(lines.lines)
    assert "whoami" in logged
    assert secret.decode() not in logged


def test_a_new_sqlite_database_is_private(tmp_path: Any) -> None:
    path = tmp_path / "private.db"
    database = Database(f"sqlite:///{path}")
    database.migrate()
    with database.session() as session:
        create_user(session, "joe")
    for file in [path, *tmp_path.glob("private.db-*")]:
        mode = stat.S_IMODE(os.stat(file).st_mode)
        assert mode & 0o077 == 0, f"{file.name} is {oct(mode)}"
