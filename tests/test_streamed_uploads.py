"""Streamed uploads: a method taking a ``FileStream`` reads the file while the request arrives.

Real uvicorn on 127.0.0.1 and raw sockets (so a test can stop mid-body, drip, or wait for the
server before sending the file); ``tests/streamed_uploads_app.py`` is the site under test.
"""

from __future__ import annotations

import base64
import hashlib
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from servers import UvicornThread
from streamed_uploads_app import EVENTS, KEY_ID, SECRET, make_api

from interlink import ApiServer, Call, Role, UploadCut
from interlink.wire import MAX_FIELDS, FileStream, FileUpload

BOUNDARY = b"streamedboundary42"
CONTENT_TYPE = b"multipart/form-data; boundary=" + BOUNDARY
BASIC = b"Basic " + base64.b64encode(f"{KEY_ID}:{SECRET}".encode())


def field(name: str, value: str) -> bytes:
    return (b"--" + BOUNDARY + b"\r\nContent-Disposition: form-data; name=\"" + name.encode()
            + b"\"\r\n\r\n" + value.encode() + b"\r\n")


def file_head(name: str = "upload", filename: str = "a.bin") -> bytes:
    return (b"--" + BOUNDARY + b"\r\nContent-Disposition: form-data; name=\"" + name.encode()
            + b"\"; filename=\"" + filename.encode() + b"\"\r\nContent-Type: application/octet-stream\r\n\r\n")


CLOSE = b"\r\n--" + BOUNDARY + b"--\r\n"


def body_of(*parts: bytes) -> bytes:
    return b"".join(parts)


def request_head(port: int, path: str, length: int | None, *, auth: bool = True) -> bytes:
    lines = [f"POST {path} HTTP/1.1".encode(), f"Host: 127.0.0.1:{port}".encode(), b"Content-Type: " + CONTENT_TYPE]
    if auth:
        lines.append(b"Authorization: " + BASIC)
    lines.append(b"Transfer-Encoding: chunked" if length is None else f"Content-Length: {length}".encode())
    return b"\r\n".join(lines) + b"\r\n\r\n"


def read_answer(connection: socket.socket, seconds: float = 30) -> tuple[int, bytes]:
    """The status and body of the answer on ``connection`` (read until its Content-Length)."""
    connection.settimeout(seconds)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            raise AssertionError(f"the server closed the connection without an answer: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += connection.recv(65536)
    return int(head.split(b" ", 2)[1]), body


def wait_for(condition: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not seen within {seconds} s; events: {EVENTS}")
        time.sleep(0.02)


def answered(connection: socket.socket) -> bool:
    connection.settimeout(0.05)
    try:
        return bool(connection.recv(1, socket.MSG_PEEK))
    except (socket.timeout, BlockingIOError):
        return False


def sites(tmp_path: Path, **server_options: Any) -> Iterator[Callable[..., tuple[str, int, Path]]]:
    """``site(**limits)`` -> (base URL, port, storage directory) of a new server (uvicorn's
    ``server_options``: its HTTP protocol, say)."""
    servers: list[UvicornThread] = []

    def start(**limits: Any) -> tuple[str, int, Path]:
        directory = tmp_path / f"store{len(servers)}"
        directory.mkdir()
        server = UvicornThread(make_api(directory, **limits), **server_options)
        servers.append(server)
        url = server.start()
        return url, server.port, directory

    EVENTS.clear()
    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Callable[..., tuple[str, int, Path]]]:
    yield from sites(tmp_path)


def store(url: str, content: bytes, *, query: str = "?store=b", name: str = "a.bin") -> httpx.Response:
    return httpx.post(f"{url}/api/files/store{query}", auth=(KEY_ID, SECRET), data={"name": name},
                      files={"upload": (name, content)}, timeout=60)


def test_an_upload_is_stored_with_its_checksum_and_the_query_argument(site: Any) -> None:
    url, _, directory = site()
    content = bytes(range(256)) * 4000  # ~1 MiB: many chunks
    answer = store(url, content)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"size": len(content), "sha256": hashlib.sha256(content).hexdigest(), "filename": "a.bin"}
    assert (directory / "a.bin").read_bytes() == content
    assert EVENTS == [("start", "b", "a.bin"), ("stored", "b", "a.bin", len(content))]
    assert not list(directory.glob(".*partial"))


def test_the_method_runs_while_the_file_is_still_arriving(site: Any) -> None:
    url, port, directory = site()
    first, rest = b"x" * 1000, b"y" * 300_000
    body = body_of(field("name", "late.bin"), file_head(), first + rest, CLOSE)
    with socket.create_connection(("127.0.0.1", port)) as connection:
        before_rest = body.index(rest)
        connection.sendall(request_head(port, "/api/files/store?store=a", len(body)) + body[:before_rest])
        wait_for(lambda: ("start", "a", "late.bin") in EVENTS)  # called, the file not yet all sent
        assert not answered(connection)
        connection.sendall(body[before_rest:])
        status, answer = read_answer(connection)
    assert status == 200, answer
    assert (directory / "late.bin").read_bytes() == first + rest


def test_credentials_are_checked_before_a_byte_of_the_file_is_sent(site: Any) -> None:
    url, port, _ = site()
    opening = body_of(field("name", "a.bin"), file_head())
    declared = len(opening) + 1024**3 + len(CLOSE)  # a 1 GiB file, of which nothing is sent
    for auth, extra in ((False, b""), (True, b"")):
        head = request_head(port, "/api/files/store?store=b", declared, auth=auth)
        if auth:  # a wrong secret
            head = head.replace(BASIC, b"Basic " + base64.b64encode(f"{KEY_ID}:wrong{SECRET[5:]}".encode()))
        with socket.create_connection(("127.0.0.1", port)) as connection:
            connection.sendall(head + opening + extra)
            status, answer = read_answer(connection)
        assert status == 401, answer
    assert EVENTS == []


def test_a_field_sent_after_the_file_is_a_400_naming_it(site: Any) -> None:
    url, _, directory = site()
    body = body_of(file_head(), b"data", b"\r\n", field("name", "a.bin")[:-2], CLOSE)
    answer = httpx.post(f"{url}/api/files/store?store=b", content=body, auth=(KEY_ID, SECRET),
                        headers={"content-type": CONTENT_TYPE.decode()})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["field"] == "name"
    assert "before the file part 'upload'" in error["message"]
    assert EVENTS == [] and not list(directory.iterdir())


def test_a_part_after_the_file_cuts_the_upload_with_a_400(site: Any) -> None:
    url, _, directory = site()
    body = body_of(field("name", "a.bin"), file_head(), b"data", b"\r\n", field("extra", "x")[:-2], CLOSE)
    answer = httpx.post(f"{url}/api/files/store?store=b", content=body, auth=(KEY_ID, SECRET),
                        headers={"content-type": CONTENT_TYPE.decode()})
    assert answer.status_code == 400
    assert answer.json()["error"]["field"] == "upload"
    assert "last part" in answer.json()["error"]["message"]
    assert EVENTS[-1][0] == "cut" and not list(directory.iterdir())


def test_another_file_before_the_streamed_one_is_a_400(site: Any) -> None:
    url, _, _ = site()
    body = body_of(field("name", "a.bin"), file_head("other"), b"x\r\n", file_head(), b"data", CLOSE)
    answer = httpx.post(f"{url}/api/files/store?store=b", content=body, auth=(KEY_ID, SECRET),
                        headers={"content-type": CONTENT_TYPE.decode()})
    assert answer.status_code == 400
    assert answer.json()["error"]["field"] == "other"


def test_a_client_that_stops_mid_upload_leaves_nothing_stored(site: Any) -> None:
    url, port, directory = site()
    opening = body_of(field("name", "cut.bin"), file_head())
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(request_head(port, "/api/files/store?store=b", len(opening) + 10_000_000)
                           + opening + b"z" * 200_000)
        wait_for(lambda: ("start", "b", "cut.bin") in EVENTS)
    wait_for(lambda: EVENTS[-1][0] == "cut")
    assert EVENTS[-1][:3] == ("cut", "b", "cut.bin")
    assert 0 < int(EVENTS[-1][3]) <= 200_000  # type: ignore[call-overload]
    assert not list(directory.iterdir())
    # and the server goes on serving
    assert store(url, b"after").status_code == 200


def test_a_declared_body_over_the_upload_limit_is_a_413_before_the_call(site: Any) -> None:
    url, port, _ = site(max_upload_size=1024 * 1024)
    opening = body_of(field("name", "big.bin"), file_head())
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(request_head(port, "/api/files/store?store=b", 2 * 1024 * 1024) + opening)
        status, answer = read_answer(connection)
    assert status == 413, answer
    assert EVENTS == []


def chunked(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def test_a_chunked_body_growing_over_the_limit_is_a_413_and_nothing_is_kept(site: Any) -> None:
    url, port, directory = site(max_upload_size=1024 * 1024)
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(request_head(port, "/api/files/store?store=b", None)
                           + chunked(body_of(field("name", "big.bin"), file_head())))
        try:
            for _ in range(64):  # 4 MiB, if the server let it
                connection.sendall(chunked(b"w" * 65536))
                if answered(connection):
                    break
        except OSError:
            pass  # the server answered and closed while we were still sending
        status, answer = read_answer(connection)
    assert status == 413, answer
    wait_for(lambda: bool(EVENTS) and EVENTS[-1][0] == "cut")
    assert not list(directory.iterdir())


def test_a_client_dripping_the_body_hits_the_deadline(site: Any) -> None:
    url, port, directory = site(upload_timeout=3, upload_idle_timeout=2)
    opening = body_of(field("name", "drip.bin"), file_head())
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(request_head(port, "/api/files/store?store=b", len(opening) + 1_000_000) + opening)
        while not answered(connection) and time.monotonic() - started < 60:
            connection.sendall(b"d")  # one byte, well within the idle time, again and again
            time.sleep(0.25)
        status, answer = read_answer(connection)
        assert connection.recv(100) == b""  # and the connection is closed: no more dripping
    assert status == 408, answer
    assert b"not sent in time" in answer
    assert EVENTS[-1][0] == "cut" and not list(directory.iterdir())


def test_a_client_silent_after_the_fields_hits_the_idle_deadline(site: Any) -> None:
    url, port, _ = site(upload_idle_timeout=1)
    opening = body_of(field("name", "idle.bin"), file_head())
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(request_head(port, "/api/files/store?store=b", len(opening) + 1000) + opening)
        status, _ = read_answer(connection)
    assert status == 408
    assert EVENTS[-1][0] == "cut"


def test_text_fields_are_bounded_by_max_body_size(site: Any) -> None:
    url, _, _ = site(max_body_size=1000)
    body = body_of(field("name", "n" * 2000), file_head(), b"data", CLOSE)
    answer = httpx.post(f"{url}/api/files/store?store=b", content=body, auth=(KEY_ID, SECRET),
                        headers={"content-type": CONTENT_TYPE.decode()})
    assert answer.status_code == 413
    assert EVENTS == []


def test_part_count_and_part_headers_are_bounded(site: Any) -> None:
    url, _, _ = site()
    many = body_of(*(field(f"f{i}", "x") for i in range(MAX_FIELDS + 1)), file_head(), b"d", CLOSE)
    long_header = body_of(b"--" + BOUNDARY + b"\r\nContent-Disposition: form-data; name=\"name\"; x=\""
                          + b"h" * 10_000 + b"\"\r\n\r\nv\r\n", file_head(), b"d", CLOSE)
    many_headers = body_of(b"--" + BOUNDARY + b"\r\n" + b"X-A: b\r\n" * 50
                           + b"Content-Disposition: form-data; name=\"name\"\r\n\r\nv\r\n", file_head(), b"d", CLOSE)
    for body in (many, long_header, many_headers):
        answer = httpx.post(f"{url}/api/files/store?store=b", content=body, auth=(KEY_ID, SECRET),
                            headers={"content-type": CONTENT_TYPE.decode()})
        assert answer.status_code in (400, 413), answer.text
        assert "error" in answer.json()
    assert EVENTS == []


def test_a_streamed_parameter_sent_without_multipart_is_a_400_naming_it(site: Any) -> None:
    url, _, _ = site()
    answer = httpx.post(f"{url}/api/files/store?store=b", data={"name": "a", "upload": "text"}, auth=(KEY_ID, SECRET))
    assert answer.status_code == 400
    assert answer.json()["error"]["field"] == "upload"
    answer = httpx.post(f"{url}/api/files/store", json={"store": "b", "name": "a"}, auth=(KEY_ID, SECRET))
    assert answer.status_code == 400
    assert answer.json()["error"]["field"] == "upload"


def test_a_method_may_read_only_the_start_of_an_upload(site: Any) -> None:
    url, _, _ = site()
    answer = httpx.post(f"{url}/api/files/head", auth=(KEY_ID, SECRET),
                        files={"upload": ("a.txt", b"hello world" * 50_000)})
    assert answer.status_code == 200
    assert answer.json() == "hello worldhello"


def test_a_plain_file_upload_is_read_whole_as_before(site: Any) -> None:
    url, _, _ = site()
    answer = httpx.post(f"{url}/api/files/whole", auth=(KEY_ID, SECRET), files={"upload": ("a", b"q" * 100_000)})
    assert answer.status_code == 200
    assert answer.json() == 100_000


def test_openapi_shows_the_streamed_parameter_as_a_binary_file_part(site: Any) -> None:
    url, _, _ = site()
    document = httpx.get(f"{url}/api/openapi.json").json()
    body = document["paths"]["/api/files/store"]["post"]["requestBody"]["content"]
    schema = body["multipart/form-data"]["schema"]
    assert schema["properties"]["upload"]["type"] == "string"
    assert schema["properties"]["upload"]["format"] == "binary"
    assert set(schema["required"]) == {"store", "name", "upload"}


def test_registration_refuses_what_cannot_stream() -> None:
    api = ApiServer()
    files = api.module("files")

    with pytest.raises(TypeError, match="async def"):
        @files.method
        def plain(upload: FileStream) -> None: ...

    with pytest.raises(TypeError, match="only one"):
        @files.method
        async def two(a: FileStream, b: FileStream) -> None: ...

    with pytest.raises(TypeError, match="no FileUpload"):
        @files.method
        async def mixed(a: FileUpload, b: FileStream) -> None: ...

    with pytest.raises(TypeError, match="of its own"):
        @files.method
        async def optional(a: FileStream | None = None) -> None: ...


# -- fuzz: whatever the body, a 4xx (or a 200 for one that happens to be well formed) ----------

@pytest.fixture(scope="module")
def fuzz_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = UvicornThread(make_api(tmp_path_factory.mktemp("fuzz"), max_upload_size=64 * 1024))
    yield server.start()
    server.stop()


WELL_FORMED = body_of(field("name", "f.bin"), file_head(), b"0123456789" * 20, CLOSE)


@st.composite
def mangled_bodies(draw: st.DrawFn) -> bytes:
    body = bytearray(WELL_FORMED)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(body)))
        action = draw(st.sampled_from(["cut", "insert", "replace"]))
        if action == "cut":
            del body[at:at + draw(st.integers(1, 40))]
        elif action == "insert":
            body[at:at] = draw(st.sampled_from([b"\r\n", b"--", BOUNDARY, b"\"", b"\xff", b"--" + BOUNDARY + b"--", b"\r\n\r\n"]))
        else:
            body[at:at + 1] = draw(st.binary(min_size=1, max_size=3))
    return bytes(body)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(mangled_bodies(), st.binary(max_size=400)))
def test_fuzz_a_malformed_streamed_body_is_never_a_500(fuzz_site: str, body: bytes) -> None:
    answer = httpx.post(f"{fuzz_site}/api/files/digest", content=body, auth=(KEY_ID, SECRET),
                        headers={"content-type": CONTENT_TYPE.decode()}, timeout=30)
    assert answer.status_code == 200 or 400 <= answer.status_code < 500, (answer.status_code, answer.text)
    if answer.status_code != 200:
        assert answer.json()["error"]["message"]
    else:
        assert answer.json()["complete"] is True


# -- a method with a Call: a cut upload rolls its transaction back ------------------------------

def test_a_cut_upload_leaves_nothing_in_the_calls_transaction(database: Any) -> None:
    import threading

    from sqlalchemy import select

    from interlink.store import User, create_key, create_role, create_user

    with database.session() as session:
        key, secret = create_key(session, create_role(session, create_user(session, "owner"), "owner"))
        basic = b"Basic " + base64.b64encode(f"{key.key_id}:{secret.decode()}".encode())
    api = ApiServer(database=database, docs=False)
    reading, cut = threading.Event(), threading.Event()

    @api.method(module="files")
    async def record(rl: Role, call: Call, name: str, upload: FileStream) -> int:
        create_user(call.db, name)  # written before the file is read, committed only with it
        reading.set()
        try:
            return len(await upload.read())
        except UploadCut:
            cut.set()
            raise

    server = UvicornThread(api)
    url = server.start()
    try:
        opening = body_of(field("name", "halfway"), file_head())
        with socket.create_connection(("127.0.0.1", server.port)) as connection:
            head = request_head(server.port, "/api/files/record", len(opening) + 1_000_000).replace(BASIC, basic)
            connection.sendall(head + opening + b"h" * 1000)
            assert reading.wait(30)
        assert cut.wait(30)
        done = httpx.post(f"{url}/api/files/record", headers={"authorization": basic.decode()},
                          data={"name": "whole"}, files={"upload": ("w.bin", b"w" * 5000)}, timeout=30)
        assert done.status_code == 200 and done.json() == 5000
    finally:
        server.stop()
    with database.session() as session:
        names = set(session.scalars(select(User.username)))
    assert "whole" in names
    assert "halfway" not in names


# -- what an upload holds once it is answered --------------------------------------------------

@pytest.mark.parametrize("limits, path, pieces, status", [
    # the method reads the first bytes and answers, the rest of the body never read
    ({}, "/api/files/head", [b"hello world" * 100, b"more"], 200),
    # the body grows over the limit while the method reads
    ({"max_upload_size": 4096}, "/api/files/digest", [b"x" * 1000, b"y" * 8000], 413),
])
def test_an_upload_answered_before_its_body_ended_is_freed_at_once(
        tmp_path: Path, monkeypatch: Any, limits: dict[str, Any], path: str, pieces: list[bytes], status: int) -> None:
    # Its idle timer must not keep the form (and the receive's unread pieces) for the whole
    # upload_idle_timeout after the answer.
    import asyncio
    import gc
    import weakref

    from interlink.server import _app
    from interlink.server._streamed_form import StreamedForm

    forms: list[weakref.ref[Any]] = []

    class Recorded(StreamedForm):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            forms.append(weakref.ref(self))

    monkeypatch.setattr(_app, "StreamedForm", Recorded)
    api = make_api(tmp_path, upload_idle_timeout=600, **limits)
    messages = [body_of(file_head(), pieces[0]), *pieces[1:]]
    sent: list[dict[str, Any]] = []

    async def call() -> None:
        queue = [{"type": "http.request", "body": body, "more_body": True} for body in messages]

        async def receive() -> dict[str, Any]:
            if queue:
                return queue.pop(0)
            await asyncio.Event().wait()  # the rest of the body never comes
            raise AssertionError

        async def send(message: Any) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": path, "query_string": b"",
                 "headers": [(b"content-type", CONTENT_TYPE), (b"authorization", BASIC)],
                 "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "scheme": "http", "root_path": ""}
        await api(scope, receive, send)
        assert sent[0]["status"] == status, sent
        gc.collect()
        assert [form() for form in forms] == [None]

    asyncio.run(call())
