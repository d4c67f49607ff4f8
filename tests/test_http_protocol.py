"""The HTTP protocol `interlink serve` runs uvicorn with (server/_http_protocol.py): bodies read
into one buffer per thread and handed on in pieces, every limit kept.

Real uvicorn on 127.0.0.1 and raw sockets. The streamed-upload tests of test_streamed_uploads.py
run here a second time, on servers with this protocol (the ``site`` and ``fuzz_site`` fixtures
below), so every limit and every way a caller can misbehave is checked through it as well.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from servers import UvicornThread, free_port, wait_until_serving
from streamed_uploads_app import EVENTS, make_api
from test_streamed_uploads import (  # noqa: F401 - collected again here, on this protocol's servers
    CLOSE,
    field,
    file_head,
    read_answer,
    request_head,
    sites,
    wait_for,
    test_a_chunked_body_growing_over_the_limit_is_a_413_and_nothing_is_kept,
    test_a_client_dripping_the_body_hits_the_deadline,
    test_a_client_silent_after_the_fields_hits_the_idle_deadline,
    test_a_client_that_stops_mid_upload_leaves_nothing_stored,
    test_a_declared_body_over_the_upload_limit_is_a_413_before_the_call,
    test_a_field_sent_after_the_file_is_a_400_naming_it,
    test_a_method_may_read_only_the_start_of_an_upload,
    test_a_part_after_the_file_cuts_the_upload_with_a_400,
    test_a_plain_file_upload_is_read_whole_as_before,
    test_a_streamed_parameter_sent_without_multipart_is_a_400_naming_it,
    test_an_upload_is_stored_with_its_checksum_and_the_query_argument,
    test_another_file_before_the_streamed_one_is_a_400,
    test_credentials_are_checked_before_a_byte_of_the_file_is_sent,
    test_fuzz_a_malformed_streamed_body_is_never_a_500,
    test_openapi_shows_the_streamed_parameter_as_a_binary_file_part,
    test_part_count_and_part_headers_are_bounded,
    test_text_fields_are_bounded_by_max_body_size,
    test_the_method_runs_while_the_file_is_still_arriving,
)

from interlink.server._http_protocol import HIGH_WATER, READ_SIZE, InterlinkHttpProtocol

PROTOCOL = {"http": InterlinkHttpProtocol}


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Callable[..., tuple[str, int, Path]]]:
    """The upload tests' sites, on this protocol."""
    yield from sites(tmp_path, **PROTOCOL)


@pytest.fixture(scope="module")
def fuzz_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = UvicornThread(make_api(tmp_path_factory.mktemp("fuzz"), max_upload_size=64 * 1024), **PROTOCOL)
    yield server.start()
    server.stop()


class Recorder:
    """An ASGI app answering each request with its body's length, SHA-256 and largest message."""

    def __init__(self) -> None:
        self.messages: list[list[tuple[int, bool]]] = []  # per request: (body bytes, more_body)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        digest, size, seen = hashlib.sha256(), 0, []
        while True:
            message = await receive()
            assert message["type"] == "http.request", message
            digest.update(message["body"])
            size += len(message["body"])
            seen.append((len(message["body"]), message["more_body"]))
            if not message["more_body"]:
                break
        self.messages.append(seen)
        body = f"{size} {digest.hexdigest()} {max(length for length, _ in seen)}".encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture
def recorder() -> Iterator[tuple[Recorder, int]]:
    app = Recorder()
    server = UvicornThread(app, **PROTOCOL)
    server.start()
    yield app, server.port
    server.stop()


def post(path: str, body: bytes) -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


def answers_complete(received: bytes) -> bool:
    """Every answer in ``received`` has its Content-Length's worth of body."""
    for part in received.split(b"HTTP/1.1 ")[1:]:
        head, found, body = part.partition(b"\r\n\r\n")
        length = [int(line.split(b":")[1]) for line in head.lower().split(b"\r\n") if line.startswith(b"content-length:")]
        if not found or not length or len(body) < length[0]:
            return False
    return True


def test_a_large_body_arrives_whole_in_pieces_no_larger_than_a_read(recorder: tuple[Recorder, int]) -> None:
    app, port = recorder
    content = os.urandom(3 * 1024 * 1024 + 17)
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(post("/", content))
        status, answer = read_answer(connection)
    assert status == 200
    size, digest, largest = answer.split()
    assert (int(size), digest.decode()) == (len(content), hashlib.sha256(content).hexdigest())
    assert int(largest) <= READ_SIZE
    (messages,) = app.messages
    assert all(more for _, more in messages[:-1]) and not messages[-1][1]


def test_requests_after_a_large_body_on_one_connection_are_each_read_right(recorder: tuple[Recorder, int]) -> None:
    # Sent at once: the second request's head and body share reads (and so the buffer) with the
    # first one's body; each is parsed from copies taken before the buffer is read into again.
    _, port = recorder
    first, second, third = os.urandom(2 * READ_SIZE + 5), b"second body", os.urandom(HIGH_WATER * 3)
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(post("/a", first) + post("/b", second) + post("/c", third))
        connection.settimeout(30)
        received = b""
        while not (received.count(b"HTTP/1.1 ") == 3 and answers_complete(received)):
            chunk = connection.recv(65536)
            if not chunk:
                break
            received += chunk
    answers = [part.partition(b"\r\n\r\n")[2] for part in received.split(b"HTTP/1.1 200 ")[1:]]
    assert len(answers) == 3, received
    for answer, content in zip(answers, (first, second, third)):
        assert answer.split()[:2] == [str(len(content)).encode(), hashlib.sha256(content).hexdigest().encode()]


def test_a_continue_is_sent_before_the_body_is_read(recorder: tuple[Recorder, int]) -> None:
    _, port = recorder
    content = os.urandom(READ_SIZE + 1)
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(f"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: {len(content)}"
                           "\r\n\r\n".encode())
        connection.settimeout(10)
        assert connection.recv(64).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        connection.sendall(content)
        status, answer = read_answer(connection)
    assert status == 200 and answer.split()[0] == str(len(content)).encode()


def test_servers_in_two_threads_read_into_buffers_of_their_own() -> None:
    # Each thread's event loop has its own read buffer: two uploads at once stay apart.
    apps = [Recorder(), Recorder()]
    servers = [UvicornThread(app, **PROTOCOL) for app in apps]
    for server in servers:
        server.start()
    contents = [os.urandom(4 * 1024 * 1024), os.urandom(4 * 1024 * 1024)]
    answers: list[bytes] = [b"", b""]

    def upload(number: int) -> None:
        with socket.create_connection(("127.0.0.1", servers[number].port)) as connection:
            connection.sendall(post("/", contents[number]))
            answers[number] = read_answer(connection)[1]

    try:
        threads = [threading.Thread(target=upload, args=(number,)) for number in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        for server in servers:
            server.stop()
    for answer, content in zip(answers, contents):
        assert answer.split()[1] == hashlib.sha256(content).hexdigest().encode()


def test_a_slow_method_holds_at_most_the_high_water_mark_of_body(tmp_path: Path) -> None:
    # While the method does not read, the connection stops reading past HIGH_WATER: the rest of
    # a large body waits in the kernel's buffers and the sender's, not in the server's memory.
    waiting: list[int] = []
    release = threading.Event()

    async def slow(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        import asyncio

        await asyncio.get_running_loop().run_in_executor(None, release.wait, 30)
        waiting.append(receive.__self__.waiting)  # what the protocol kept for the method meanwhile
        more = True
        while more:
            more = (await receive())["more_body"]
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    server = UvicornThread(slow, **PROTOCOL)
    server.start()
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as connection:
            connection.setblocking(False)
            content = post("/", b"z" * (64 * 1024 * 1024))
            sent = 0
            try:
                while sent < len(content):  # until the server and the kernel stop taking more
                    sent += connection.send(content[sent:sent + 1024 * 1024])
            except BlockingIOError:
                pass
            release.set()
            connection.setblocking(True)
            connection.sendall(content[sent:])
            connection.settimeout(30)
            assert connection.recv(64).startswith(b"HTTP/1.1 204")
    finally:
        server.stop()
    assert sent < len(content)  # the server stopped reading
    assert 0 < waiting[0] <= HIGH_WATER + READ_SIZE


def test_interlink_serve_runs_this_protocol(tmp_path: Path) -> None:
    (tmp_path / "protocolsite.py").write_text(
        "async def app(scope, receive, send):\n"
        "    if scope['type'] != 'http':\n"
        "        return\n"
        "    body = type(receive.__self__).__name__.encode()\n"
        "    await send({'type': 'http.response.start', 'status': 200, 'headers': []})\n"
        "    await send({'type': 'http.response.body', 'body': body})\n"
    )
    port = free_port()
    server = subprocess.Popen([str(Path(sys.executable).parent / "interlink"), "serve", "protocolsite:app",
                               "--port", str(port), "--no-access-log"],
                              cwd=tmp_path, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import httpx

        wait_until_serving(f"http://127.0.0.1:{port}/", server)
        assert httpx.post(f"http://127.0.0.1:{port}/", content=b"x").text == "_Body"
    finally:
        server.terminate()
        server.wait(10)


def test_a_caller_stopping_mid_body_frees_the_connection_and_the_server_serves_on(site: Any) -> None:
    url, port, directory = site(max_upload_size=64 * 1024 * 1024)
    body = field("name", "cut.bin") + file_head() + os.urandom(8 * READ_SIZE) + CLOSE
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(request_head(port, "/api/files/store?store=a", len(body)) + body[:5 * READ_SIZE])
        wait_for(lambda: ("start", "a", "cut.bin") in EVENTS)
    wait_for(lambda: any(event[0] == "cut" for event in EVENTS))
    assert not (directory / "cut.bin").exists()
    whole = field("name", "after.bin") + file_head() + b"after" + CLOSE
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(request_head(port, "/api/files/store?store=a", len(whole)) + whole)
        status, _ = read_answer(connection)
    assert status == 200 and (directory / "after.bin").read_bytes() == b"after"


def test_a_steady_upload_slower_in_all_than_the_idle_time_is_not_cut(site: Any) -> None:
    # The idle deadline counts from the last piece: one timer serves the whole body and, firing
    # while pieces still come, is set again for the later expiry instead of cutting the upload.
    url, port, directory = site(upload_idle_timeout=1, upload_timeout=30)
    pieces = [os.urandom(1000) for _ in range(6)]
    body = field("name", "steady.bin") + file_head() + b"".join(pieces) + CLOSE
    opening = body.index(pieces[0])
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(request_head(port, "/api/files/store?store=b", len(body)) + body[:opening])
        for piece in pieces:
            time.sleep(0.45)  # 2.7 s in all, never 1 s without a byte
            connection.sendall(piece)
        connection.sendall(CLOSE)
        status, answer = read_answer(connection)
    assert status == 200, answer
    assert (directory / "steady.bin").read_bytes() == b"".join(pieces)


def test_an_untested_uvicorn_release_is_served_by_its_own_protocol(capsys: Any) -> None:
    """The protocol leans on uvicorn's internals: a release it was not tested with is not given it."""
    from interlink.cli._serve import HTTP_PROTOCOL, TESTED_UVICORN, _http_protocol

    assert _http_protocol(TESTED_UVICORN[-1] + "1") == HTTP_PROTOCOL
    assert capsys.readouterr().err == ""
    assert _http_protocol("9.1.0") == "auto"
    [line] = capsys.readouterr().err.splitlines()
    assert "uvicorn 9.1.0" in line and "uvicorn's own" in line


def test_a_body_sent_in_tiny_chunks_is_handed_on_in_few_messages(recorder: tuple[Recorder, int]) -> None:
    # A client may send a chunked body a byte a chunk: kept as a piece (and a message) each, the
    # pieces waiting would cost tens of bytes of memory for each byte of body, and the method a
    # message for each. Small pieces are gathered instead, as uvicorn's own protocol does.
    app, port = recorder
    content = os.urandom(200_000)
    chunked = b"".join(b"1\r\n" + content[i:i + 1] + b"\r\n" for i in range(len(content))) + b"0\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked)
        status, answer = read_answer(connection)
    assert status == 200
    assert answer.split()[:2] == [str(len(content)).encode(), hashlib.sha256(content).hexdigest().encode()]
    (messages,) = app.messages
    assert len(messages) <= len(content) // 1000, len(messages)  # (uvicorn's: one a read)
    assert all(more for _, more in messages[:-1]) and not messages[-1][1]


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_websocket_upgrade_is_handed_to_uvicorns_websocket_protocol(loop: str) -> None:
    # The wrapper reads into its own buffer; an upgrade gives the transport to uvicorn's WebSocket
    # protocol, which reads as it always does (both event loops switch the way they read).
    from websockets.sync.client import connect

    async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            assert (await receive())["type"] == "websocket.connect"
            await send({"type": "websocket.accept"})
            while (message := await receive())["type"] != "websocket.disconnect":
                await send({"type": "websocket.send", "bytes": hashlib.sha256(message["bytes"]).digest()})
        elif scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
            await send({"type": "http.response.body", "body": b"ok"})

    server = UvicornThread(echo, loop=loop, **PROTOCOL)
    server.start()
    try:
        content = os.urandom(3 * READ_SIZE)
        with connect(f"ws://127.0.0.1:{server.port}/", max_size=None) as websocket:
            for message in (b"first", content):
                websocket.send(message)
                assert websocket.recv(timeout=30) == hashlib.sha256(message).digest()
        with socket.create_connection(("127.0.0.1", server.port)) as connection:
            connection.sendall(post("/", b""))
            assert read_answer(connection) == (200, b"ok")
    finally:
        server.stop()


def test_a_request_pipelined_behind_one_still_being_read_holds_at_most_the_high_water_mark() -> None:
    # The first request's body has all arrived, in many pieces; each piece it reads must not let
    # the connection read on into the second request's body, which waits for its turn.
    import asyncio

    kept: dict[str, int] = {}

    async def reader(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        kept[scope["path"]] = receive.__self__.waiting  # what waited for the method when it started
        more = True
        while more:
            more = (await receive())["more_body"]
            await asyncio.sleep(0.001)  # the loop reads meanwhile
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    server = UvicornThread(reader, **PROTOCOL)
    server.start()
    piece = os.urandom(8 * 1024)
    first = b"".join(b"%x\r\n" % len(piece) + piece + b"\r\n" for _ in range(128)) + b"0\r\n\r\n"
    second = b"z" * (32 * 1024 * 1024)
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as connection:
            sender = threading.Thread(target=connection.sendall, args=(
                b"POST /first HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + first
                + post("/second", second),), daemon=True)
            sender.start()
            connection.settimeout(60)
            received = b""
            while received.count(b"HTTP/1.1 200") < 2 or not answers_complete(received):
                chunk = connection.recv(65536)
                assert chunk, received
                received += chunk
            sender.join(60)
    finally:
        server.stop()
    assert kept["/second"] <= HIGH_WATER + 2 * READ_SIZE, kept


def test_a_streamed_answer_whose_first_piece_comes_later_has_its_head_sent_at_once() -> None:
    # Server-sent events, a long poll: the head (status and headers) tells the client the answer
    # has begun, and must not wait for a first piece of body that may come much later.
    import asyncio

    later = threading.Event()

    async def events(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        while not later.is_set():
            await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": False})

    server = UvicornThread(events, **PROTOCOL)
    server.start()
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as connection:
            connection.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
            connection.settimeout(10)
            head = connection.recv(65536)
            later.set()
            assert head.startswith(b"HTTP/1.1 200") and b"data: 1" not in head, head
    finally:
        later.set()
        server.stop()
