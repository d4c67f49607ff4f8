"""interlink serve's HTTP protocol sends what an answer writes during a turn of the event loop
at the end of that turn.

uvicorn writes the status line and headers on ``http.response.start`` and the body on
``http.response.body``: two system calls and two TCP segments for every small answer, each
waking the client. The protocol gathers an answer's writes of one turn into one. These tests
check what must not change: a HEAD answer, a streamed answer whose later pieces must not wait,
an application that fails after starting its answer, and the writes themselves (the unit tests
at the end, with a transport that records them, on a real event loop).
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

from interlink.server._http_protocol import SEND_AT_ONCE, InterlinkHttpProtocol, _AnswerWriter

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


def test_an_answers_writes_of_one_turn_leave_together_at_its_end() -> None:
    loop = asyncio.new_event_loop()
    try:
        first, second = Recording(), Recording()
        one, two = _AnswerWriter(first, loop), _AnswerWriter(second, loop)  # type: ignore[arg-type]

        async def answer() -> list[list[bytes]]:
            one.write(b"HEAD 1;")
            two.write(b"HEAD 2;")
            one.write(b"body 1;")
            two.write(b"body 2;")
            seen = [list(first.writes), list(second.writes)]  # nothing sent within the turn
            await asyncio.sleep(0)
            seen += [list(first.writes), list(second.writes)]
            one.write(b"more 1;")  # a later turn: sent at its end
            await asyncio.sleep(0)
            seen.append(list(first.writes))
            return seen

        seen = loop.run_until_complete(answer())
        assert seen == [[], [], [b"HEAD 1;body 1;"], [b"HEAD 2;body 2;"], [b"HEAD 1;body 1;", b"more 1;"]]
    finally:
        loop.close()


def test_a_large_write_and_a_close_are_sent_at_once() -> None:
    loop = asyncio.new_event_loop()
    try:
        transport = Recording()
        writer = _AnswerWriter(transport, loop)  # type: ignore[arg-type]
        large = b"x" * SEND_AT_ONCE
        writer.write(b"HEAD;")
        writer.write(large)  # the transport's own flow control sees it now
        assert transport.writes == [b"HEAD;" + large]
        writer.write(b"HEAD;")
        writer.close()
        assert transport.writes[-1] == b"HEAD;" and transport.closed and writer.is_closing()
        assert writer.get_extra_info("peername") == "extra peername"
        loop.run_until_complete(asyncio.sleep(0))  # the turn's end finds nothing more to send
        assert len(transport.writes) == 2
    finally:
        loop.close()


def test_what_an_answer_wrote_this_turn_is_sent_before_a_shutdown_closes_the_connection() -> None:
    from types import SimpleNamespace

    from uvicorn.config import Config
    from uvicorn.server import ServerState

    from interlink.server._http_protocol import _PiecesHttpToolsProtocol

    loop = asyncio.new_event_loop()
    try:
        protocol = _PiecesHttpToolsProtocol(Config(app), ServerState(), {}, loop)
        transport = Recording()
        writer = _AnswerWriter(transport, loop)  # type: ignore[arg-type]
        protocol.transport = transport  # type: ignore[assignment]
        protocol.cycle = SimpleNamespace(transport=writer, response_complete=True)  # type: ignore[assignment]
        writer.write(b"HEAD;")
        writer.write(b"body;")
        protocol.shutdown()  # the server stopping, in the turn the answer was finished
        assert transport.writes == [b"HEAD;body;"] and transport.closed
    finally:
        loop.close()


def test_a_loop_closed_mid_turn_does_not_hold_up_the_next_loop_of_its_thread() -> None:
    first_loop = asyncio.new_event_loop()
    stranded = _AnswerWriter(Recording(), first_loop)  # type: ignore[arg-type]
    stranded.write(b"never sent: its loop is closed before the turn ends")
    first_loop.close()
    loop = asyncio.new_event_loop()
    try:
        transport = Recording()
        writer = _AnswerWriter(transport, loop)  # type: ignore[arg-type]

        async def answer() -> None:
            writer.write(b"HEAD;")
            writer.write(b"body;")
            await asyncio.sleep(0)

        loop.run_until_complete(answer())
        assert transport.writes == [b"HEAD;body;"]
    finally:
        loop.close()
