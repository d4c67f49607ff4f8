"""The access log (`interlink.server.AccessLog`): what a line says, that credentials in the query
string are redacted by their decoded name, that lines are written in batches, and that
`interlink serve` uses it (and `--no-access-log` turns it off)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from servers import UvicornThread, free_port, wait_until_serving

from interlink import ApiServer
from interlink.server import AccessLog
from interlink.server._access_log import BufferedLines, redact_query
from interlink.store import MemoryKeys, Role  # a role row to build, not only to name

KEY_ID = "k-0123456789abcdef"
SECRET = "S3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr3tAbCd"


@pytest.mark.parametrize(
    ("query", "redacted"),
    [
        ("authorisation=k-1:s", "authorisation=[redacted]"),
        ("%61uthorisation=k-1:s", "%61uthorisation=[redacted]"),
        ("%61%75%74%68orisation=k-1:s&x=1", "%61%75%74%68orisation=[redacted]&x=1"),
        ("AuThOrIsAtIoN=s", "AuThOrIsAtIoN=[redacted]"),
        ("authorisation+=s", "authorisation+=[redacted]"),
        ("x=1&password=hunter2;authorization=z", "x=1&password=[redacted];authorization=[redacted]"),
        ("x=authorisation&y=2", "x=authorisation&y=2"),
        ("%ZZauthorisation=s", "%ZZauthorisation=s"),
        ("csrf_token=t&name=bob", "csrf_token=[redacted]&name=bob"),
    ],
)
def test_credential_fields_are_redacted_by_their_decoded_name(query: str, redacted: str) -> None:
    assert redact_query(query) == redacted


@settings(max_examples=300, deadline=None)
@given(
    encode=st.lists(st.integers(0, 2), min_size=13, max_size=13),
    secret=st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=12, max_size=40),
    before=st.sampled_from(["", "a=1&", "filter.name_gt=b&"]),
)
def test_no_spelling_of_authorisation_gets_its_secret_into_the_log(encode: list[int], secret: str, before: str) -> None:
    """Any mix of plain letters and upper/lower-case percent escapes in the name: the server
    decodes them all to `authorisation`, so the log must not print the value."""
    name = "".join(
        c if how == 0 else f"%{ord(c):02X}" if how == 1 else f"%{ord(c):02x}"
        for c, how in zip("authorisation", encode)
    )
    line = AccessLog.line(
        {"client": ("127.0.0.1", 1), "method": "POST", "path": "/api/home/x",
         "query_string": f"{before}{name}={KEY_ID}:{secret}".encode()},
        200, 0.001,
    )
    assert secret not in line
    assert "[redacted]" in line


def echo_api() -> ApiServer:
    api = ApiServer(authenticator=MemoryKeys({KEY_ID: (SECRET, Role(name="r"))}), docs=False)
    home = api.module("home")

    @home.method
    def whoami(rl: Role, note: str = "") -> str:
        return rl.name

    return api


def test_a_served_request_gives_one_line_with_what_uvicorn_would_say() -> None:
    lines: list[str] = []
    server = UvicornThread(AccessLog(echo_api(), write=lines.append))
    url = server.start()
    try:
        with httpx.Client() as client:
            answer = client.post(f"{url}/api/home/whoami?%61uthorisation={KEY_ID}:{SECRET}")
            assert answer.status_code == 200, answer.text
            port = client.post(f"{url}/api/home/whoami", data={"note": "x"}).status_code
            assert port == 401
            assert client.get(f"{url}/nothing%0A%22here").status_code == 404
    finally:
        server.stop()
    assert len(lines) == 3
    assert all(line.endswith(" ms\n") and line.count("\n") == 1 for line in lines)
    assert SECRET not in "".join(lines)
    first, second, third = lines
    assert first.startswith("INFO:     127.0.0.1:")
    assert '- "POST /api/home/whoami?%61uthorisation=[redacted] HTTP/1.1" 200 OK ' in first
    assert '"POST /api/home/whoami HTTP/1.1" 401 Unauthorized ' in second
    # A decoded newline or quote in the path cannot break the line or its quoting.
    assert '"GET /nothing%0A%22here HTTP/1.1" 404 Not Found ' in third


def test_an_api_server_writes_its_own_lines_once_and_only_behind_the_log() -> None:
    """Behind AccessLog an ApiServer records its method calls itself (no wrapper around send);
    every request still gives exactly one line, and the same server called directly none."""
    lines: list[str] = []
    api = echo_api()
    logged = AccessLog(api, write=lines.append)
    assert logged.api_server is api

    async def go() -> list[int]:
        statuses = []
        for app in (logged, api):  # the second time around, not through the log
            transport = httpx.ASGITransport(app=app, client=("10.0.0.7", 4242))
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                statuses += [
                    (await client.post("/api/home/whoami", headers={"authorization": f"Bearer {KEY_ID}:{SECRET}"})).status_code,
                    (await client.get("/api/home/whoami")).status_code,
                    (await client.post("/api/home/nothing")).status_code,
                    (await client.get("/api/openapi.json")).status_code,
                ]
        return statuses

    assert asyncio.run(go()) == [200, 405, 404, 200] * 2
    assert [line.split('"')[1] for line in lines] == [
        "POST /api/home/whoami HTTP/1.1", "GET /api/home/whoami HTTP/1.1", "POST /api/home/nothing HTTP/1.1",
        "GET /api/openapi.json HTTP/1.1",
    ]
    assert [line.split('" ')[1].split(" ms")[0].rsplit(" ", 1)[0] for line in lines] == [
        "200 OK", "405 Method Not Allowed", "404 Not Found", "200 OK",
    ]
    assert all(line.startswith("INFO:     10.0.0.7:4242 - ") for line in lines)


async def _raising_app(scope: Any, receive: Any, send: Any) -> None:
    raise RuntimeError("broken before answering")


def test_an_app_that_raises_before_answering_is_logged_as_500() -> None:
    lines: list[str] = []
    scope = {"type": "http", "method": "GET", "path": "/x", "query_string": b"", "client": ("10.0.0.1", 9)}

    async def call() -> None:
        await AccessLog(_raising_app, write=lines.append)(scope, None, None)

    with pytest.raises(RuntimeError):
        asyncio.run(call())
    assert lines and '"GET /x HTTP/1.1" 500 Internal Server Error' in lines[0]
    assert lines[0].startswith("INFO:     10.0.0.1:9 - ")


class CountingStream:
    def __init__(self) -> None:
        self.writes: list[str] = []

    def write(self, text: str) -> None:
        self.writes.append(text)

    def flush(self) -> None:
        pass


def test_lines_are_written_in_one_batch_after_the_interval() -> None:
    stream = CountingStream()
    buffered = BufferedLines(stream, interval=0.05, limit=100)

    async def scenario() -> list[str]:
        for n in range(3):
            buffered(f"line {n}\n")
        before = list(stream.writes)
        await asyncio.sleep(0.2)
        return before

    assert asyncio.run(scenario()) == []
    assert stream.writes == ["line 0\nline 1\nline 2\n"]


def test_a_full_buffer_is_written_at_once_and_without_a_loop_every_line_is() -> None:
    stream = CountingStream()
    buffered = BufferedLines(stream, interval=60, limit=2)

    async def scenario() -> None:
        buffered("a\n")
        buffered("b\n")

    asyncio.run(scenario())
    assert stream.writes == ["a\nb\n"]
    buffered("c\n")  # no running event loop: written at once
    assert stream.writes == ["a\nb\n", "c\n"]


SITE = textwrap.dedent(
    f'''
    from interlink import ApiServer
    from interlink.store import MemoryKeys, Role

    api = ApiServer(authenticator=MemoryKeys({{"{KEY_ID}": ("{SECRET}", Role(name="r"))}}), docs=False)

    @api.method(module="home")
    def whoami(rl: Role) -> str:
        return rl.name
    '''
)


def serve_and_call(tmp_path: Path, *options: str) -> str:
    (tmp_path / "logsite.py").write_text(SITE)
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "interlink"), "serve", "logsite:api", "--port", str(port), *options],
        cwd=tmp_path, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/api/openapi.json", server)
        encoded = quote("authorisation", safe="").replace("a", "%61", 1)
        answer = httpx.post(f"http://127.0.0.1:{port}/api/home/whoami?{encoded}={KEY_ID}:{SECRET}")
        assert answer.status_code == 200, answer.text
    finally:
        server.terminate()
        output = server.communicate(timeout=15)[0]
    assert SECRET not in output
    return output


def test_interlink_serve_writes_the_access_log_and_can_turn_it_off(tmp_path: Path) -> None:
    output = serve_and_call(tmp_path)
    assert '"POST /api/home/whoami?%61uthorisation=[redacted] HTTP/1.1" 200 OK' in output
    assert output.count('"GET /api/openapi.json HTTP/1.1" 200 OK') >= 1
    quiet = serve_and_call(tmp_path, "--no-access-log")
    assert "HTTP/1.1\" 200" not in quiet
    assert "Application startup complete" in quiet
