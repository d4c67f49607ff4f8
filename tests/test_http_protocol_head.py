"""interlink serve's HTTP protocol sends a response's head with the first write of its body.

uvicorn writes the status line and headers on ``http.response.start`` and the body on
``http.response.body``: two system calls and two TCP segments for every small answer. The
protocol holds the head until the body's first write. These tests check what must not change:
a HEAD answer, a streamed answer whose later pieces must not wait, an application that fails
after starting its answer, and the order of writes (the unit test at the end, with a transport
that records them).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from servers import UvicornThread

from interlink.server._http_protocol import InterlinkHttpProtocol, _HeadWithBody

PROTOCOL = {"http": InterlinkHttpProtocol}
released = threading.Event()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"first;", "more_body": True})
        while not released.is_set():  # the client releases the rest once it has the first piece
            await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b"second;", "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    if path == "/fails-after-start":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"10")]})
        raise RuntimeError("the application failed after starting its answer")
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"5")]})
    await send({"type": "http.response.body", "body": b"hello"})


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    server = UvicornThread(app, **PROTOCOL)
    url = server.start()
    yield int(url.rsplit(":", 1)[1].rstrip("/"))
    server.stop()


def read_until(connection: socket.socket, ending: bytes, seconds: float = 5.0) -> bytes:
    connection.settimeout(seconds)
    received = b""
    deadline = time.monotonic() + seconds
    while not received.endswith(ending) and time.monotonic() < deadline:
        data = connection.recv(65536)
        if not data:
            break
        received += data
    return received


def test_a_small_answer_and_a_head_answer_on_one_connection(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_until(connection, b"hello").startswith(b"HTTP/1.1 200 OK\r\n")
        connection.sendall(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
        head = read_until(connection, b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"content-length: 5" in head.lower()
        connection.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_until(connection, b"hello").startswith(b"HTTP/1.1 200 OK\r\n")


def test_a_streamed_answer_sends_each_piece_when_it_is_written(port: int) -> None:
    released.clear()
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        first = read_until(connection, b"first;\r\n")
        assert first.startswith(b"HTTP/1.1 200 OK\r\n") and first.endswith(b"first;\r\n")
        released.set()
        rest = read_until(connection, b"0\r\n\r\n")
        assert b"second;" in rest and rest.endswith(b"0\r\n\r\n")


def test_an_application_failing_after_its_head_closes_the_connection_after_the_head(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(b"GET /fails-after-start HTTP/1.1\r\nHost: x\r\n\r\n")
        received = read_until(connection, b"never")  # until the server closes
    assert received.startswith(b"HTTP/1.1 200 OK\r\n") and received.endswith(b"\r\n\r\n")


class Recording:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def writelines(self, pieces: Any) -> None:
        self.writes.append(b"".join(pieces))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str) -> str:
        return f"extra {name}"


def test_the_head_leaves_with_the_first_write_of_the_body_and_nothing_else_waits() -> None:
    transport = Recording()
    response = _HeadWithBody(transport)  # type: ignore[arg-type]
    response.write(b"HEAD;")
    assert transport.writes == []
    response.write(b"body 1;")
    response.write(b"body 2;")
    large = b"x" * 100_000
    assert transport.writes == [b"HEAD;body 1;", b"body 2;"]
    second = _HeadWithBody(transport)  # type: ignore[arg-type]
    second.write(b"HEAD;")
    second.write(large)
    assert transport.writes[-1] == b"HEAD;" + large
    assert second.get_extra_info("peername") == "extra peername"
    closing = _HeadWithBody(transport)  # type: ignore[arg-type]
    closing.write(b"HEAD;")
    closing.close()
    assert transport.writes[-1] == b"HEAD;" and transport.closed and closing.is_closing()
