"""Misbehaving HTTP peers on 127.0.0.1, for the tests of what interlink does when the
systems it calls answer slowly, hugely, in circles or wrongly.

Each peer is a real server on a random port (raw sockets, one thread per connection, so it
can misbehave in ways a well-written server framework would not let it), used as a context
manager that yields its base URL. ``requests_seen`` on the yielded object counts requests.
``peak_rss_of`` runs code in a child process and reports its peak resident memory, so a
test can assert that an interlink process stays small whatever a peer sends.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

Handler = Callable[[socket.socket, bytes], None]


class Peer(str):
    """The peer's base URL (``http://127.0.0.1:PORT/``), with what it saw."""

    requests_seen: list[bytes]
    stop: threading.Event


def read_request(connection: socket.socket) -> bytes:
    """The request's head and body (by Content-Length), so answers are not met with a reset."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip() or 0)
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


@contextlib.contextmanager
def serve(handler: Handler) -> Iterator[Peer]:
    """Run ``handler(connection, request)`` for every request on a new server."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    peer = Peer(f"http://127.0.0.1:{port}/")
    peer.requests_seen = []
    peer.stop = threading.Event()
    connections: list[socket.socket] = []

    def answer(connection: socket.socket) -> None:
        try:
            while not peer.stop.is_set():
                request = read_request(connection)
                if not request:
                    return
                peer.requests_seen.append(request)
                handler(connection, request)
        except OSError:
            pass  # the client hung up: what a misbehaving peer's client should do
        finally:
            connection.close()

    def accept() -> None:
        while not peer.stop.is_set():
            try:
                connection, _ = listener.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            connections.append(connection)
            threading.Thread(target=answer, args=(connection,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield peer
    finally:
        peer.stop.set()
        listener.close()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        thread.join(2)


def _drip(connection: socket.socket, data: bytes, interval: float, stop: threading.Event) -> None:
    for byte in data:
        if stop.wait(interval):
            return
        connection.sendall(bytes([byte]))


@contextlib.contextmanager
def dripping_headers(interval: float = 0.25) -> Iterator[Peer]:
    """Answers with a header block sent one byte every ``interval`` seconds, forever."""

    def handler(connection: socket.socket, request: bytes) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        _drip(connection, b"a" * 100_000, interval, peer.stop)

    with serve(handler) as peer:
        yield peer


@contextlib.contextmanager
def dripping_body(interval: float = 0.25, *, status: int = 200, content_type: str = "application/json",
                  body: bytes = b"x" * 100_000) -> Iterator[Peer]:
    """Sends its headers at once, then ``body`` one byte every ``interval`` seconds."""

    def handler(connection: socket.socket, request: bytes) -> None:
        connection.sendall(
            f"HTTP/1.1 {status} Dripping\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        )
        _drip(connection, body, interval, peer.stop)

    with serve(handler) as peer:
        yield peer


@contextlib.contextmanager
def huge_body(n_bytes: int, *, content_type: str = "application/json", declare_length: bool = True,
              status: int = 200) -> Iterator[Peer]:
    """Answers with ``n_bytes`` of body as fast as the client reads (chunked when
    ``declare_length`` is false, so a Content-Length check alone cannot refuse it)."""
    block = b" " * 65536

    def handler(connection: socket.socket, request: bytes) -> None:
        if declare_length:
            connection.sendall(f"HTTP/1.1 {status} OK\r\nContent-Type: {content_type}\r\nContent-Length: {n_bytes}\r\n\r\n".encode())
        else:
            connection.sendall(f"HTTP/1.1 {status} OK\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
        left = n_bytes
        while left > 0 and not peer.stop.is_set():
            piece = block[: min(left, len(block))]
            connection.sendall(piece if declare_length else b"%x\r\n%s\r\n" % (len(piece), piece))
            left -= len(piece)
        if not declare_length:
            connection.sendall(b"0\r\n\r\n")

    with serve(handler) as peer:
        yield peer


@functools.lru_cache(maxsize=4)
def _gzipped_zeros(decoded_bytes: int) -> bytes:
    return gzip.compress(b"\0" * decoded_bytes, compresslevel=9)


@contextlib.contextmanager
def gzip_bomb(decoded_bytes: int = 256 * 1024 * 1024, *, content_type: str = "application/json") -> Iterator[Peer]:
    """A small gzip body (about 1/1000 of its size) that decodes to ``decoded_bytes`` zeros."""
    payload = _gzipped_zeros(decoded_bytes)

    def handler(connection: socket.socket, request: bytes) -> None:
        connection.sendall(
            f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Encoding: gzip\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload
        )

    with serve(handler) as peer:
        yield peer


@contextlib.contextmanager
def redirect_to(location: str, *, status: int = 302) -> Iterator[Peer]:
    """Answers every request with a redirect to ``location``."""

    def handler(connection: socket.socket, request: bytes) -> None:
        connection.sendall(f"HTTP/1.1 {status} Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n".encode())

    with serve(handler) as peer:
        yield peer


@contextlib.contextmanager
def answering(status: int, body: bytes, *, content_type: str = "application/json",
              headers: dict[str, str] | None = None) -> Iterator[Peer]:
    """Answers every request with the same status and body (malformed JSON, say)."""
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())

    def handler(connection: socket.socket, request: bytes) -> None:
        connection.sendall(
            f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body
        )

    with serve(handler) as peer:
        yield peer


_PEAK = "\n__PEAK_RSS__="


def peak_rss_of(code: str, *, timeout: float = 120) -> tuple[str, int]:
    """Run ``code`` in a new Python process; its stdout and its peak RSS in bytes.

    A non-zero exit is an AssertionError carrying the child's stderr.
    """
    # VmHWM, not getrusage's ru_maxrss: a child forked from a large test process inherits
    # the parent's ru_maxrss across exec, while the high-water mark belongs to the new image.
    prologue = (
        "import atexit\n"
        "def _peak():\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith('VmHWM:'):\n"
        f"            print({_PEAK!r} + str(int(line.split()[1]) * 1024), flush=True)\n"
        "atexit.register(_peak)\n"
    )
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", prologue + code], capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"child exited {done.returncode} after {time.monotonic() - started:.1f} s:\n{done.stderr[-4000:]}")
    stdout, _, peak = done.stdout.rpartition(_PEAK)
    return stdout, int(peak.strip())
