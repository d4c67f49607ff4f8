"""The least an upstream behind nginx can do with an upload: no HTTP framework, no event loop.

`python raw_upload.py PORT DIRECTORY splice|recv` serves one connection at a time on
127.0.0.1:PORT: it reads the request head (up to the blank line), takes its Content-Length,
copies that many body bytes into DIRECTORY/raw and answers 200 with the wall-clock time its
body began (what bench_uploads' sender reads), closing the connection. The body is not parsed
(the multipart fields and boundaries land in the file as they are) and nothing is checked: a
bound for what any server could reach, not a product path.

- `splice`: socket -> pipe -> file with splice(2), 1 MiB at a time (Linux); the bytes never
  reach this process's memory.
- `recv`: `socket.recv_into` one 1 MiB buffer, then `os.write` it; the read/write a server
  without splice does, with no Python work per chunk beyond the two calls.
"""

from __future__ import annotations

import fcntl
import os
import socket
import sys
import time

CHUNK = 1 << 20
#: fcntl's F_SETPIPE_SZ (Linux; Python's fcntl module names it from 3.10 on some builds only)
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


def _read_head(connection: socket.socket) -> tuple[int, bytes] | None:
    """The request's Content-Length and the body bytes read along with the head; None when the
    peer closed before a head (the bench's readiness probe connects and closes)."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = connection.recv(65536)
        if not chunk:
            return None
        received += chunk
    head, _, extra = received.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value), extra
    raise ValueError("no Content-Length: nginx sends one for a body sent with one")


def _splice(connection: socket.socket, out: int, remaining: int, pipe: tuple[int, int]) -> None:
    source, (read_end, write_end) = connection.fileno(), pipe
    while remaining:
        moved = os.splice(source, write_end, min(remaining, CHUNK), flags=os.SPLICE_F_MOVE)
        if not moved:
            raise ConnectionError("the body ended early")
        remaining -= moved
        while moved:  # a pipe drained into a file can take fewer bytes than asked
            moved -= os.splice(read_end, out, moved, flags=os.SPLICE_F_MOVE)


def _recv(connection: socket.socket, out: int, remaining: int, view: memoryview) -> None:
    while remaining:
        got = connection.recv_into(view, min(remaining, CHUNK))
        if not got:
            raise ConnectionError("the body ended early")
        remaining -= got
        written = 0
        while written < got:
            written += os.write(out, view[written:got])


def serve(port: int, directory: str, mode: str) -> None:
    pipe = os.pipe()
    fcntl.fcntl(pipe[1], F_SETPIPE_SZ, CHUNK)  # 64 KiB by default: 1 MiB moves per splice need a 1 MiB pipe
    view = memoryview(bytearray(CHUNK))
    with socket.create_server(("127.0.0.1", port), backlog=64) as listener:
        while True:
            connection, _ = listener.accept()
            with connection:
                try:
                    request = _read_head(connection)
                    if request is None:
                        continue
                    length, extra = request
                    started = time.time()
                    out = os.open(os.path.join(directory, "raw"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                    try:
                        os.write(out, extra)
                        if mode == "splice":
                            _splice(connection, out, length - len(extra), pipe)
                        else:
                            _recv(connection, out, length - len(extra), view)
                    finally:
                        os.close(out)
                    body = str(started).encode()
                    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                                       + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
                except (OSError, ValueError) as error:
                    print(f"raw_upload: {error!r}", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[3] not in ("splice", "recv"):
        raise SystemExit("usage: raw_upload.py PORT DIRECTORY splice|recv")
    serve(int(sys.argv[1]), sys.argv[2], sys.argv[3])
