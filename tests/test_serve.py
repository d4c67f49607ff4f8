"""`interlink serve` with worker processes: the command line's settings reach every worker."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
from servers import free_port, wait_until_serving

SITE = textwrap.dedent(
    '''
    from interlink import ApiServer

    api = ApiServer(docs=False)

    @api.method(module="home")
    def echo(text: str) -> str:
        return text
    '''
)


def test_max_body_size_and_the_access_log_reach_every_worker(tmp_path: Path) -> None:
    (tmp_path / "workersite.py").write_text(SITE)
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "interlink"), "--database", f"sqlite:///{tmp_path / 'site.db'}",
         "serve", "workersite:api", "--port", str(port), "--workers", "2", "--max-body-size", "200"],
        cwd=tmp_path, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/api/openapi.json", server)
        url = f"http://127.0.0.1:{port}/api/home/echo"
        # Several new connections, so that both workers answer some of them.
        small = [httpx.post(url, data={"text": "hi"}) for _ in range(6)]
        large = [httpx.post(url, data={"text": "x" * 500}) for _ in range(6)]
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert [r.status_code for r in small] == [200] * 6, output[-2000:]
    assert [r.status_code for r in large] == [413] * 6, output[-2000:]
    assert large[0].json()["error"]["code"] == "payload_too_large"
    assert output.count('"POST /api/home/echo HTTP/1.1" 413') == 6


UPLOAD_SITE = SITE + textwrap.dedent(
    '''
    from interlink import FileStream

    @api.method(module="files")
    async def store(name: str, upload: FileStream) -> int:
        size = 0
        async for chunk in upload:
            size += len(chunk)
        return size
    '''
)
BOUNDARY = b"servebound"


def _upload_head(port: int, content_length: int) -> bytes:
    return (f"POST /api/files/store HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY.decode()}\r\n"
            f"Content-Length: {content_length}\r\n\r\n").encode()


def _opening() -> bytes:
    return (b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="name"\r\n\r\na.bin\r\n--' + BOUNDARY
            + b'\r\nContent-Disposition: form-data; name="upload"; filename="a.bin"\r\n\r\n')


def _status_of_answer(connection: socket.socket) -> int:
    connection.settimeout(30)
    data = b""
    while b"\r\n" not in data:
        chunk = connection.recv(4096)
        assert chunk, f"closed without an answer: {data!r}"
        data += chunk
    return int(data.split(b" ", 2)[1])


def test_the_upload_limits_reach_every_worker(tmp_path: Path) -> None:
    (tmp_path / "uploadsite.py").write_text(UPLOAD_SITE)
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "interlink"), "--database", f"sqlite:///{tmp_path / 'site.db'}",
         "serve", "uploadsite:api", "--port", str(port), "--workers", "2", "--max-upload-size", "5000",
         "--upload-timeout", "30", "--upload-idle-timeout", "1"],
        cwd=tmp_path, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/api/openapi.json", server)
        closing = b"\r\n--" + BOUNDARY + b"--\r\n"
        small = _opening() + b"s" * 1000 + closing
        large = _opening() + b"l" * 6000 + closing
        statuses: dict[str, list[int]] = {"small": [], "large": [], "stalled": []}
        for _ in range(4):  # new connections each time, so that both workers answer some
            with socket.create_connection(("127.0.0.1", port)) as connection:
                connection.sendall(_upload_head(port, len(small)) + small)
                statuses["small"].append(_status_of_answer(connection))
            with socket.create_connection(("127.0.0.1", port)) as connection:
                connection.sendall(_upload_head(port, len(large)))  # refused by its length, unread
                statuses["large"].append(_status_of_answer(connection))
            with socket.create_connection(("127.0.0.1", port)) as connection:
                # Fields and a little of the file, then nothing: the 1 s idle deadline, not the default 60 s.
                connection.sendall(_upload_head(port, len(small)) + _opening() + b"s" * 10)
                started = time.monotonic()
                statuses["stalled"].append(_status_of_answer(connection))
                assert time.monotonic() - started < 20
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert statuses == {"small": [200] * 4, "large": [413] * 4, "stalled": [408] * 4}, output[-2000:]
    assert output.count('"POST /api/files/store HTTP/1.1" 408') == 4, output[-2000:]


def test_an_upload_limit_out_of_range_is_one_line_saying_so(tmp_path: Path) -> None:
    (tmp_path / "uploadsite.py").write_text(UPLOAD_SITE)
    done = subprocess.run(
        [str(Path(sys.executable).parent / "interlink"), "serve", "uploadsite:api", "--upload-idle-timeout", "0"],
        cwd=tmp_path, env=dict(os.environ), capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    assert "--upload-idle-timeout" in done.stderr and "Traceback" not in done.stderr


CALLBACK_SITE = textwrap.dedent(
    '''
    from dataclasses import dataclass

    from interlink import ApiServer, Role
    from interlink.callbacks import Callback

    api = ApiServer(docs=False)

    @dataclass
    class Paid:
        amount: int

    @api.method(module="orders", callbacks=[Callback("{$request.body#/callback_url}", body=Paid)])
    def create(rl: Role, callback_url: str) -> str:
        return "ok"
    '''
)


def test_callbacks_that_nothing_delivers_are_one_line_before_serving(tmp_path: Path) -> None:
    """Without Callbacks(api) attached, the site would fail at start-up with uvicorn's traceback."""
    (tmp_path / "callbacksite.py").write_text(CALLBACK_SITE)
    done = subprocess.run(
        [str(Path(sys.executable).parent / "interlink"), "serve", "callbacksite:api", "--port", str(free_port())],
        cwd=tmp_path, env=dict(os.environ), capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "Started server" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert "orders.create declares callbacks=[...], but nothing delivers them" in line
    assert "interlink.callbacks.Callbacks(api)" in line
