"""A 1 GiB upload written to a file by a server on loopback: interlink's streamed `FileStream`
against interlink's `FileUpload` and FastAPI's `UploadFile` (both spool the body to a temporary
file before the method runs), and a bare ASGI app writing the raw body to a file as it arrives
(no multipart parsing, no credentials) on uvicorn's HTTP protocol and on the one `interlink serve`
runs (the ceiling of a site it serves on this machine).

Each server is its own uvicorn process (interlink's run by `interlink serve`, as a user runs a
site); the sender is this process, a raw socket sending 1 MiB blocks, fields first and the file
last. Reported: throughput (best of the rounds), the server
process's peak RSS (/proc VmHWM) and how long after the first byte was sent the method started
(for a streamed method: its first chunk). The same through nginx: bench_uploads_nginx.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

SIZE = 1024 * 1024 * 1024
BLOCK = 1024 * 1024
ROUNDS = 2
KEY = "k-0123456789abcdef:" + "S" * 40
#: a boundary as httpx (and so interlink's client) makes one: 32 hex digits. Its length matters:
#: finding it in each chunk of the file is the largest share of parsing, and takes about twice as
#: long for a boundary of 13 characters.
BOUNDARY = b"5f0e9a3c1d7b48e2a6c4f8b0d2e1a9c7"

_PRELUDE = textwrap.dedent('''
    import os, sys, time, shutil
    import uvicorn
    PORT, DIRECTORY = int(sys.argv[1]), sys.argv[2]
''')

BARE_UVICORN = "bare ASGI app writing the raw body, uvicorn's HTTP protocol"
BARE_INTERLINK = "bare ASGI app writing the raw body, interlink's HTTP protocol (ceiling)"

PEERS = {
    "interlink `FileStream` (streamed)": _PRELUDE + textwrap.dedent('''
        from interlink import ApiServer, Role, FileStream
        from interlink.cli import main
        from interlink.store import MemoryKeys, Role as RoleRow
        api = ApiServer(authenticator=MemoryKeys({"k-0123456789abcdef": ("S" * 40, RoleRow(name="r"))}))
        @api.method(module="files")
        async def store(rl: Role, name: str, upload: FileStream) -> float:
            started = None
            with open(os.path.join(DIRECTORY, name), "wb") as out:
                async for chunk in upload:
                    started = started or time.time()
                    out.write(chunk)
            return started
        main(["serve", "__main__:api", "--port", str(PORT)])  # as `interlink serve` runs a site
    '''),
    "interlink `FileUpload` (spooled)": _PRELUDE + textwrap.dedent('''
        from interlink import ApiServer, Role, FileUpload
        from interlink.cli import main
        from interlink.store import MemoryKeys, Role as RoleRow
        api = ApiServer(authenticator=MemoryKeys({"k-0123456789abcdef": ("S" * 40, RoleRow(name="r"))}),
                        max_body_size=2 * 1024 ** 3)
        @api.method(module="files")
        def store(rl: Role, name: str, upload: FileUpload) -> float:
            started = time.time()
            with open(os.path.join(DIRECTORY, name), "wb") as out:
                shutil.copyfileobj(upload, out, 1 << 20)
            return started
        main(["serve", "__main__:api", "--port", str(PORT)])  # as `interlink serve` runs a site
    '''),
    "FastAPI `UploadFile` (spooled)": _PRELUDE + textwrap.dedent('''
        from fastapi import FastAPI, Form, UploadFile
        app = FastAPI()
        @app.post("/api/files/store")
        async def store(upload: UploadFile, name: str = Form()) -> float:
            started = time.time()
            with open(os.path.join(DIRECTORY, name), "wb") as out:
                while chunk := await upload.read(1 << 20):
                    out.write(chunk)
            return started
        uvicorn.run(app, host="127.0.0.1", port=PORT, log_level="warning")
    '''),
    BARE_UVICORN: _PRELUDE + textwrap.dedent('''
        async def app(scope, receive, send):
            if scope["type"] != "http":
                return
            started = None
            with open(os.path.join(DIRECTORY, "raw"), "wb") as out:
                more = True
                while more:
                    message = await receive()
                    started = started or time.time()
                    out.write(message.get("body", b""))
                    more = message.get("more_body", False)
            body = str(started).encode()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
        uvicorn.run(app, host="127.0.0.1", port=PORT, log_level="warning")
    '''),
}
# the same app on the HTTP protocol `interlink serve` runs: the ceiling of a site served by it
PEERS[BARE_INTERLINK] = PEERS[BARE_UVICORN].replace(
    'log_level="warning")', 'log_level="warning", http="interlink.server._http_protocol:InterlinkHttpProtocol")')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _upload(port: int, path: str = "/api/files/store") -> tuple[float, float]:
    """Seconds to send the upload and get the answer, and seconds from the first byte to the method."""
    opening = (b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="name"\r\n\r\nbig.bin\r\n'
               + b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="upload"; filename="big.bin"\r\n'
               + b"Content-Type: application/octet-stream\r\n\r\n")
    closing = b"\r\n--" + BOUNDARY + b"--\r\n"
    head = (b"POST " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic "
            + base64.b64encode(KEY.encode()) + b"\r\nContent-Type: multipart/form-data; boundary=" + BOUNDARY
            + b"\r\nContent-Length: " + str(len(opening) + SIZE + len(closing)).encode() + b"\r\n\r\n")
    block = os.urandom(BLOCK)
    with socket.create_connection(("127.0.0.1", port)) as connection:
        wall, start = time.time(), time.perf_counter()
        connection.sendall(head + opening)
        for _ in range(SIZE // BLOCK):
            connection.sendall(block)
        connection.sendall(closing)
        connection.settimeout(600)
        answer = b""
        while not _answer_complete(answer):
            chunk = connection.recv(65536)
            if not chunk:
                break
            answer += chunk
        elapsed = time.perf_counter() - start
    head_part, _, body = answer.partition(b"\r\n\r\n")
    if b" 200 " not in head_part.split(b"\r\n", 1)[0]:
        raise RuntimeError(f"upload failed: {answer[:300]!r}")
    if b"transfer-encoding: chunked" in head_part.lower():  # nginx passes some answers on chunked
        body = body.split(b"\r\n")[1]
    return elapsed, float(body) - wall


def _answer_complete(answer: bytes) -> bool:
    """The whole answer is in: its Content-Length's worth of body, or the last chunk of a chunked one."""
    head, found, body = answer.partition(b"\r\n\r\n")
    if not found:
        return False
    for line in head.lower().split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return len(body) >= int(line.split(b":", 1)[1])
    return body.endswith(b"0\r\n\r\n")


def _measure(code: str) -> tuple[float, int, float]:
    with tempfile.TemporaryDirectory(prefix="bench-uploads-") as directory:
        port = _free_port()
        server = subprocess.Popen([sys.executable, "-c", code, str(port), directory],
                                  env={**os.environ, "TMPDIR": directory},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port)).close()
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("the server did not start") from None
                    time.sleep(0.1)
            best, to_method = float("inf"), 0.0
            for _ in range(ROUNDS):
                elapsed, method_after = _upload(port)
                if elapsed < best:
                    best, to_method = elapsed, method_after
            return SIZE / best / BLOCK, _peak_rss(server.pid), to_method
        finally:
            server.terminate()
            server.wait(10)


def run() -> str:
    load_before = os.getloadavg()
    rows = []
    for name, code in PEERS.items():
        throughput, peak, to_method = _measure(code)
        rows.append((name, throughput, peak, to_method))
    ceiling = rows[-1][1]
    load = " / ".join("/".join(f"{value:.1f}" for value in loads) for loads in (load_before, os.getloadavg()))
    lines = [
        "## Uploads: 1 GiB to a file, streamed or spooled",
        "",
        "One uvicorn process per server on loopback (interlink's run by `interlink serve`); a raw-socket "
        f"sender (1 MiB blocks, the fields first, the file last); best of {ROUNDS} rounds; `uptime`'s load "
        f"averages before / after: {load} (other work shares the 2 cores). *Method started* is the time from "
        "the first byte sent to the method's first chunk (streamed) or the method's start (spooled).",
        "",
        "| server | MiB/s | of the ceiling | peak RSS (MiB) | method started after |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, throughput, peak, to_method in rows:
        started = "—" if name.startswith("bare ASGI") else f"{to_method * 1000:.0f} ms"
        lines.append(f"| {name} | {throughput:.0f} | {throughput / ceiling:.0%} | {peak / BLOCK:.0f} | {started} |")
    lines += [
        "",
        "Spooled servers write the body to a temporary file and copy it again once the method runs, "
        "so the method starts only after the whole upload; the streamed method writes each chunk "
        "once, as it arrives. Through nginx: the next section.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run())
