"""Streamed uploads keep memory flat: a 512 MiB upload served, and a 1 GiB sparse file sent by
the Python client (sync and async), each measured as the peak RSS of its own process
(``hostile_peers.peak_rss_of``: /proc's VmHWM). The figures are printed (pytest -s) and
recorded as the tests' properties."""

from __future__ import annotations

import hashlib
import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hostile_peers import peak_rss_of
from servers import UvicornThread
from streamed_uploads_app import KEY_ID, SECRET, make_api

TESTS = str(Path(__file__).parent)
SRC = str(Path(__file__).parent.parent / "src")
MiB = 1024 * 1024
LIMIT = 100 * MiB


def zeros_sha256(size: int) -> str:
    digest = hashlib.sha256()
    block = bytes(MiB)
    for _ in range(size // MiB):
        digest.update(block)
    return digest.hexdigest()


# The sender: raw socket, 1 MiB at a time, in a process of its own (not the one measured).
SENDER = textwrap.dedent('''
    import base64, socket, sys
    port, size = int(sys.argv[1]), int(sys.argv[2])
    boundary = b"memoryboundary"
    opening = (b"--" + boundary + b'\\r\\nContent-Disposition: form-data; name="upload"; filename="big.bin"\\r\\n'
               b"Content-Type: application/octet-stream\\r\\n\\r\\n")
    closing = b"\\r\\n--" + boundary + b"--\\r\\n"
    auth = base64.b64encode(sys.argv[3].encode())
    head = (b"POST /api/files/digest HTTP/1.1\\r\\nHost: x\\r\\nAuthorization: Basic " + auth
            + b"\\r\\nContent-Type: multipart/form-data; boundary=" + boundary
            + b"\\r\\nContent-Length: " + str(len(opening) + size + len(closing)).encode() + b"\\r\\n\\r\\n")
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(head + opening)
        block = bytes(1024 * 1024)
        for _ in range(size // len(block)):
            s.sendall(block)
        s.sendall(closing)
        data = b""
        while not data.endswith(b"}"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    print(data.partition(b"\\r\\n\\r\\n")[2].decode())
''')


def served_peak(size: int, directory: Path) -> tuple[dict[str, Any], int]:
    """The answer to an upload of ``size`` zeros, and the serving process's peak RSS."""
    code = textwrap.dedent(f'''
        import subprocess, sys
        sys.path[:0] = [{TESTS!r}, {SRC!r}]
        from pathlib import Path
        from servers import UvicornThread
        from streamed_uploads_app import make_api
        server = UvicornThread(make_api(Path({str(directory)!r})))
        server.start()
        done = subprocess.run([sys.executable, "-c", {SENDER!r}, str(server.port), str({size}),
                               "{KEY_ID}:{SECRET}"], capture_output=True, text=True, timeout=500)
        print(done.stdout.strip() or done.stderr[-2000:])
        server.stop()
    ''')
    stdout, peak = peak_rss_of(code, timeout=560)
    return json.loads(stdout.strip().splitlines()[-1]), peak


@pytest.mark.timeout(600)
def test_a_512_mib_upload_is_served_in_flat_memory(tmp_path: Path, record_property: Any) -> None:
    size = 512 * MiB
    answer, baseline = served_peak(MiB, tmp_path)
    assert answer["size"] == MiB
    answer, peak = served_peak(size, tmp_path)
    assert answer == {"size": size, "sha256": zeros_sha256(size), "complete": True}
    record_property("server_peak_rss_mib", round(peak / MiB, 1))
    record_property("server_baseline_rss_mib", round(baseline / MiB, 1))
    print(f"\nserver peak RSS: {peak / MiB:.1f} MiB for a 512 MiB streamed upload, "
          f"{baseline / MiB:.1f} MiB for 1 MiB")
    assert peak < LIMIT, f"peak RSS {peak / MiB:.1f} MiB"
    assert peak - baseline < 16 * MiB, "memory grew with the upload's size"
    assert not list(tmp_path.iterdir())  # no temporary file either


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = UvicornThread(make_api(tmp_path_factory.mktemp("memory")))
    yield server.start()
    server.stop()


@pytest.mark.timeout(600)
@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_the_client_sends_a_large_sparse_file_in_flat_memory(
    flavour: str, server_url: str, tmp_path: Path, record_property: Any
) -> None:
    size = 1024 * MiB
    path = tmp_path / "sparse.bin"
    with open(path, "wb") as file:
        file.truncate(size)  # a sparse file: 1 GiB of zeros that takes no disk
    call = {
        "sync": "result = api(key_id=KEY, key_secret=SECRET).files.digest(upload=FileUpload(PATH))",
        "async": textwrap.dedent('''
            import asyncio
            async def main():
                async with AsyncAPI(URL, timeout=300) as api:
                    async with api(key_id=KEY, key_secret=SECRET) as session:
                        return await session.files.digest(upload=FileUpload(PATH))
            result = asyncio.run(main())'''),
    }[flavour]
    code = textwrap.dedent(f'''
        import sys
        sys.path[:0] = [{SRC!r}]
        from interlink.client import API, AsyncAPI, FileUpload
        URL, KEY, SECRET, PATH = {server_url + "/api"!r}, {KEY_ID!r}, {SECRET!r}, {str(path)!r}
        api = API(URL, timeout=300)
    ''') + call + "\nprint(result.size, result.sha256, result.complete)\n"
    stdout, peak = peak_rss_of(code, timeout=560)
    sent, digest, complete = stdout.split()
    assert (int(sent), digest, complete) == (size, zeros_sha256(size), "True")
    record_property(f"client_{flavour}_peak_rss_mib", round(peak / MiB, 1))
    print(f"\n{flavour} client peak RSS sending a 1 GiB file: {peak / MiB:.1f} MiB")
    assert peak < LIMIT, f"peak RSS {peak / MiB:.1f} MiB"
