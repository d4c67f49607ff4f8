"""interlink serve's HTTP protocol answers an ApiServer's method calls directly (``ApiApp.answer``,
its answer written as bytes, without the two ASGI ``send`` messages uvicorn's request cycle turns
into bytes). The bytes must be the same as uvicorn's own protocol sends for every kind of answer:
each request below goes to the same site served both ways, and the raw answers are compared
(only the ``date`` header's value may differ). Then: the direct path is the one taken, the
access log still gets its line, and the keep-alive timeout holds.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from servers import LogLines, UvicornThread

from interlink import ApiServer
from interlink.server import AccessLog
from interlink.server._http_protocol import InterlinkHttpProtocol
from interlink.store import MemoryKeys, Role

KEY_ID = "k-0123456789abcdef"
SECRET = "S3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr3tAbCd"
AUTH = f"authorisation={KEY_ID}%3A{SECRET}"
#: as ``interlink serve`` runs uvicorn (no X-Forwarded-For middleware in front of the site)
SERVE = {"proxy_headers": False, "access_log": False}


def make_api() -> ApiServer:
    api = ApiServer(authenticator=MemoryKeys({KEY_ID: (SECRET, Role(name="t"))}), docs=False,
                    max_body_size=4096)

    @api.method(module="home")
    def add(rl: Role, a: int, b: int = 1) -> int:
        return a + b

    @api.method(module="home")
    async def greet(rl: Role, name: str) -> dict[str, str]:
        return {"hello": name}

    @api.method(module="home")
    def broken(rl: Role) -> int:
        raise RuntimeError("a bug in the method")

    @api.method(module="home")
    def shout(name: str) -> str:  # public
        return name.upper()

    return api


def request(path: str, body: bytes, *headers: str, method: str = "POST", version: str = "1.1",
            kind: str = "application/x-www-form-urlencoded") -> bytes:
    head = [f"{method} {path} HTTP/{version}", "Host: 127.0.0.1", f"Content-Type: {kind}",
            f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


REQUESTS: dict[str, bytes] = {
    "a call": request("/api/home/add", f"{AUTH}&a=2&b=5".encode()),
    "an async call, JSON, Basic": request(
        "/api/home/greet", b'{"name": "ann"}',
        "Authorization: Basic " + __import__("base64").b64encode(f"{KEY_ID}:{SECRET}".encode()).decode(),
        kind="application/json"),
    "a public call with a query": request("/api/home/shout?name=bob", b""),
    "a wrong key (401)": request("/api/home/add", f"authorisation={KEY_ID}%3Awrong&a=1".encode()),
    "no key (401)": request("/api/home/add", b"a=1"),
    "a bad argument (400)": request("/api/home/add", f"{AUTH}&a=two".encode()),
    "an unknown field (400)": request("/api/home/add", f"{AUTH}&a=1&c=3".encode()),
    "malformed JSON (400)": request("/api/home/greet", b'{"name": ', kind="application/json"),
    "an unknown method (404)": request("/api/home/nothing", AUTH.encode()),
    "an unknown module (404)": request("/api/elsewhere/add", AUTH.encode()),
    "GET (405)": request("/api/home/add", b"", method="GET"),
    "an unsupported body (415)": request("/api/home/add", b"<a/>", kind="text/xml"),
    "too large a body (413)": request("/api/home/add", f"{AUTH}&a=1&pad={'x' * 5000}".encode()),
    "a bug (500)": request("/api/home/broken", AUTH.encode()),
    "Connection: close": request("/api/home/add", f"{AUTH}&a=1".encode(), "Connection: close"),
    "HTTP/1.0": request("/api/home/add", f"{AUTH}&a=1".encode(), version="1.0"),
    "HTTP/1.0 keep-alive": request("/api/home/add", f"{AUTH}&a=1".encode(), "Connection: keep-alive",
                                   version="1.0"),
    "Expect: 100-continue, body sent at once": request("/api/home/add", f"{AUTH}&a=1".encode(),
                                                      "Expect: 100-continue"),
    "two pipelined calls": request("/api/home/add", f"{AUTH}&a=1".encode())
    + request("/api/home/add", f"{AUTH}&a=2".encode()),
    "a multipart form": request(
        "/api/home/add",
        f'--XyZ\r\nContent-Disposition: form-data; name="a"\r\n\r\n40\r\n--XyZ\r\n'
        f'Content-Disposition: form-data; name="authorisation"\r\n\r\n{KEY_ID}:{SECRET}\r\n--XyZ--\r\n'.encode(),
        kind="multipart/form-data; boundary=XyZ"),
    "the OpenAPI document": request("/api/openapi.json", b"", method="GET"),
}
ANSWERS = {"two pipelined calls": 2}


def exchange(port: int, data: bytes, answers: int = 1) -> bytes:
    """Send ``data`` on a new connection; what comes back until ``answers`` answers are whole
    (by their Content-Length) or the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        received = b""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if _whole(received) >= answers:
                break
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        return received


def _whole(received: bytes) -> int:
    count, rest = 0, received
    while b"\r\n\r\n" in rest:
        head, _, rest = rest.partition(b"\r\n\r\n")
        if head.startswith(b"HTTP/1.1 100"):
            continue
        length = re.search(rb"(?im)^content-length: *(\d+)", head)
        if length is None or len(rest) < int(length.group(1)):
            return count
        rest = rest[int(length.group(1)):]
        count += 1
    return count


def normalised(answer: bytes) -> bytes:
    return re.sub(rb"(?im)^date: [^\r]*\r\n", b"date: -\r\n", answer)


@pytest.fixture(scope="module")
def ports() -> Iterator[dict[str, int]]:
    """The same site under uvicorn's own HTTP protocol and under interlink serve's."""
    servers = {"uvicorn": UvicornThread(make_api(), http="httptools", **SERVE),
               "interlink": UvicornThread(make_api(), http=InterlinkHttpProtocol, **SERVE)}
    for server in servers.values():
        server.start()
    yield {name: server.port for name, server in servers.items()}
    for server in servers.values():
        server.stop()


@pytest.mark.parametrize("name", list(REQUESTS))
def test_the_direct_answer_is_the_bytes_uvicorns_protocol_sends(ports: dict[str, int], name: str) -> None:
    answers = ANSWERS.get(name, 1)
    theirs = exchange(ports["uvicorn"], REQUESTS[name], answers)
    ours = exchange(ports["interlink"], REQUESTS[name], answers)
    assert theirs.startswith(b"HTTP/1.1 ")  # (a real answer to compare)
    assert normalised(ours) == normalised(theirs)


def test_a_call_is_answered_without_the_asgi_send(monkeypatch: pytest.MonkeyPatch) -> None:
    """The direct path is taken: a method call through interlink's protocol never goes through
    uvicorn's ASGI ``send``; a page of the site still does."""
    from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

    sent: list[Any] = []
    original = RequestResponseCycle.send

    async def counting_send(self: Any, message: Any) -> None:
        sent.append(message["type"])
        await original(self, message)

    monkeypatch.setattr(RequestResponseCycle, "send", counting_send)
    server = UvicornThread(make_api(), http=InterlinkHttpProtocol, **SERVE)
    server.start()
    try:
        assert b" 200 OK" in exchange(server.port, REQUESTS["a call"])
        assert b" 401 " in exchange(server.port, REQUESTS["no key (401)"])
        assert sent == []
        assert b" 200 OK" in exchange(server.port, REQUESTS["the OpenAPI document"])
        assert sent == ["http.response.start", "http.response.body"]
    finally:
        server.stop()


def test_the_access_log_has_a_line_for_each_direct_call() -> None:
    lines: list[str] = []
    server = UvicornThread(AccessLog(make_api(), write=lines.append), http=InterlinkHttpProtocol, **SERVE)
    server.start()
    try:
        exchange(server.port, REQUESTS["a call"])
        exchange(server.port, REQUESTS["a bad argument (400)"])
        exchange(server.port, REQUESTS["two pipelined calls"], 2)
    finally:
        server.stop()
    statuses = [re.search(r'" (\d{3}|- \(no response\))', line).group(1) for line in lines]  # type: ignore[union-attr]
    assert statuses == ["200", "400", "200", "200"]
    assert all('"POST /api/home/add HTTP/1.1"' in line for line in lines)
    assert SECRET not in "".join(lines)


@pytest.mark.parametrize("expect", [False, True])
def test_a_body_that_arrives_after_the_head_is_waited_for(ports: dict[str, int], expect: bool) -> None:
    """The call starts when the head has arrived; its body (sent later, or only once the server
    said 100 Continue) is read as it comes, the same through both protocols."""
    body = f"{AUTH}&a=20&b=22".encode()
    head = request("/api/home/add", body, *(["Expect: 100-continue"] if expect else []))[: -len(body)]
    answers = {}
    for name, port in ports.items():
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(head)
            if expect:
                assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
            else:
                time.sleep(0.1)
            sock.sendall(body)
            received = b""
            while _whole(received) < 1:
                chunk = sock.recv(65536)
                assert chunk, received
                received += chunk
        answers[name] = normalised(received)
    assert answers["interlink"] == answers["uvicorn"]
    assert answers["interlink"].endswith(b"\r\n\r\n42")


def test_an_idle_connection_is_closed_after_the_keep_alive_timeout_and_a_busy_one_is_not() -> None:
    """The keep-alive timer is armed once per idle spell (not made and cancelled per request):
    a connection idle for ``timeout_keep_alive`` after its last answer is closed, one that keeps
    calling is not, however long it lives."""
    server = UvicornThread(make_api(), http=InterlinkHttpProtocol, timeout_keep_alive=1, **SERVE)
    server.start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as busy, \
                socket.create_connection(("127.0.0.1", server.port), timeout=10) as idle:
            started = time.monotonic()
            for sock in (busy, idle):
                sock.sendall(REQUESTS["a call"])
            for sock in (busy, idle):
                answer = b""
                while _whole(answer) < 1:
                    answer += sock.recv(65536)
            while time.monotonic() - started < 2.6:  # a call every 0.3 s: never idle for 1 s
                time.sleep(0.3)
                busy.sendall(REQUESTS["a call"])
                answer = b""
                while _whole(answer) < 1:
                    chunk = busy.recv(65536)
                    assert chunk, "the busy connection was closed"
                    answer += chunk
                assert b" 200 OK" in answer
            # the idle one was closed about 1 s after its answer
            idle.settimeout(0.1)
            assert idle.recv(10) == b""
            # and the busy one, once idle, is closed about 1 s after its last answer
            quiet = time.monotonic()
            busy.settimeout(3)
            assert busy.recv(10) == b""
            assert 0.8 < time.monotonic() - quiet < 2.0
    finally:
        server.stop()


def test_uvicorns_own_access_log_still_gets_its_line() -> None:
    """Served with uvicorn's access log on (``uvicorn.run(api, http=...)`` with a handler on
    ``uvicorn.access``), a method call goes through uvicorn's send, which writes the line."""
    import logging

    lines = LogLines()
    access = logging.getLogger("uvicorn.access")
    server = UvicornThread(make_api(), http=InterlinkHttpProtocol, log_level="info", **SERVE)
    server.start()
    access.addHandler(lines)
    try:
        assert b" 200 OK" in exchange(server.port, REQUESTS["a call"])
        deadline = time.monotonic() + 5
        while not lines.lines and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        access.removeHandler(lines)
        server.stop()
    assert any('"POST /api/home/add HTTP/1.1" 200' in line for line in lines.lines), lines.lines
