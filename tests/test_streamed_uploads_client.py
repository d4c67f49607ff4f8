"""The Python client sends uploads from a path or a file object in chunks, text fields first and
the file last (the order a streamed upload needs), with routing arguments in the query string
when asked (``.in_query``); against real uvicorn servers. Memory: test_streamed_uploads_memory.py."""

from __future__ import annotations

import asyncio
import hashlib
import io
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from servers import UvicornThread
from streamed_uploads_app import EVENTS, KEY_ID, SECRET, make_api

from interlink.client import API, AsyncAPI, FileUpload
from interlink.errors import ApiError, BadArguments, RequestTimeout

Site = tuple[str, Path, list[bytes]]


@pytest.fixture
def sites(tmp_path: Path) -> Iterator[Callable[[], Site]]:
    """``sites()`` -> (API root, storage directory, the query strings it was called with)."""
    servers: list[UvicornThread] = []

    def start() -> Site:
        directory = tmp_path / f"machine{len(servers)}"
        directory.mkdir()
        api = make_api(directory)
        queries: list[bytes] = []

        async def recording(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                queries.append(scope.get("query_string", b""))
            await api(scope, receive, send)

        server = UvicornThread(recording)
        servers.append(server)
        return server.start() + "/api", directory, queries

    EVENTS.clear()
    yield start
    for server in servers:
        server.stop()


def a_file(tmp_path: Path, size: int = 3 * 1024 * 1024 + 17) -> tuple[Path, str]:
    path = tmp_path / "data.bin"
    content = (b"0123456789abcdef" * (size // 16 + 1))[:size]
    path.write_bytes(content)
    return path, hashlib.sha256(content).hexdigest()


def test_a_path_is_streamed_with_the_routing_argument_in_the_query(sites: Any, tmp_path: Path) -> None:
    root, directory, queries = sites()
    path, digest = a_file(tmp_path)
    with API(root)(key_id=KEY_ID, key_secret=SECRET) as session:
        result = session.files.store.in_query("store")(store="b", name="c.bin", upload=FileUpload(path))
    assert (result.size, result.sha256, result.filename) == (path.stat().st_size, digest, "data.bin")
    assert queries == [b"store=b"]  # the routing argument, and nothing else, in the URL
    assert (directory / "c.bin").read_bytes() == path.read_bytes()
    assert EVENTS[0] == ("start", "b", "c.bin")


def test_a_file_object_is_streamed_by_the_async_client(sites: Any, tmp_path: Path) -> None:
    root, directory, queries = sites()
    path, digest = a_file(tmp_path)

    async def main() -> Any:
        async with AsyncAPI(root) as api, api(key_id=KEY_ID, key_secret=SECRET) as session:
            with path.open("rb") as file:
                return await session.files.store.in_query("store")(store="a", name="d.bin", upload=FileUpload(file))

    result = asyncio.run(main())
    assert (result.size, result.sha256) == (path.stat().st_size, digest)
    assert queries == [b"store=a"]
    assert (directory / "d.bin").read_bytes() == path.read_bytes()


def test_without_in_query_every_argument_is_in_the_body(sites: Any, tmp_path: Path) -> None:
    root, _, queries = sites()
    with API(root)(key_id=KEY_ID, key_secret=SECRET) as session:
        result = session.files.store(store="b", name="e.bin", upload=FileUpload(b"small"))
    assert result.size == 5
    assert queries == [b""]


def test_one_upload_sent_twice_and_broadcast_is_whole_each_time(sites: Any, tmp_path: Path) -> None:
    (root_a, dir_a, _), (root_b, dir_b, _) = sites(), sites()
    path, digest = a_file(tmp_path, 200_000)
    upload = FileUpload(path)
    with API(root_a)(key_id=KEY_ID, key_secret=SECRET) as session:
        first = session.files.digest(upload=upload)
        again = session.files.digest(upload=upload)
        both = session.files.digest.broadcast([root_a, root_b], upload=upload)
    assert first.sha256 == again.sha256 == digest
    assert [answer.sha256 for answer in both.values()] == [digest, digest]


def test_a_field_left_out_is_the_servers_400_naming_it(sites: Any, tmp_path: Path) -> None:
    root, _, _ = sites()
    with API(root)(key_id=KEY_ID, key_secret=SECRET) as session:
        with pytest.raises(BadArguments) as caught:
            session.files.store(store="b", upload=FileUpload(io.BytesIO(b"x")))  # no name
    assert caught.value.field == "name"


def test_a_file_cannot_travel_in_the_query_string(sites: Any) -> None:
    root, _, queries = sites()
    with API(root)(key_id=KEY_ID, key_secret=SECRET) as session:
        with pytest.raises(TypeError, match="query string"):
            session.files.digest.in_query("upload")(upload=FileUpload(b"x"))
    assert queries == []


class StallingFile(io.RawIOBase):
    """A file that gives its first chunk, then stalls longer than the server's idle deadline."""

    def __init__(self, stall: float) -> None:
        self.stall, self.reads = stall, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self.reads += 1
        if self.reads == 2:
            time.sleep(self.stall)
        if self.reads > 3:
            return 0
        buffer[:1024] = b"s" * 1024
        return 1024


def test_an_upload_not_sent_in_time_is_request_timeout(tmp_path: Path) -> None:
    server = UvicornThread(make_api(tmp_path, upload_idle_timeout=1))
    root = server.start() + "/api"
    EVENTS.clear()
    try:
        with API(root)(key_id=KEY_ID, key_secret=SECRET) as session:
            with pytest.raises(RequestTimeout) as caught:
                session.files.store(store="b", name="slow.bin", upload=FileUpload(io.BufferedReader(StallingFile(4))))
    finally:
        server.stop()
    assert caught.value.status == 408 and caught.value.code == "request_timeout"
    assert "not sent in time" in caught.value.message
    assert isinstance(caught.value, ApiError) and type(caught.value) is not ApiError
    assert EVENTS[-1][0] == "cut" and not (tmp_path / "slow.bin").exists()
