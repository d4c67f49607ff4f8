"""Hostile bodies, sent raw to a real server (uvicorn on 127.0.0.1, SQLite store): each is a 4xx
with the one error shape, or a quiet disconnect, and the server answers the next call at once.

Each case here once stalled the server, held gigabytes, or ended as a 500 with a traceback.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import socket
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from servers import UvicornThread

from interlink import ApiServer, FileUpload, Role
from interlink.store import Database, create_key, create_role, create_user
from interlink.wire import INT_MAX, MAX_DEPTH, MAX_FIELDS

FORM = {"content-type": "application/x-www-form-urlencoded"}
JSON = {"content-type": "application/json"}


@dataclasses.dataclass
class Filter:
    name_gt: str = ""
    name_lt: str = ""


@dataclasses.dataclass
class Paging:
    limit: int = 100
    tags: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Tree:
    label: str = ""
    children: list[Tree] = dataclasses.field(default_factory=list)


def build_api(database: Database) -> ApiServer:
    api = ApiServer(database=database)
    home = api.module("home")

    @home.method
    async def ping() -> str:
        return "pong"

    @home.method
    def search(filter: Filter, paging: Paging | None = None) -> int:
        """Public, and runs the page size through SQLite, as a real list method would."""
        limit = (paging or Paging()).limit
        with database.session() as session:
            return len(session.execute(text("SELECT 1 LIMIT :limit"), {"limit": limit}).all())

    @home.method
    def when(t: dt.datetime) -> float:
        return t.timestamp()

    @home.method
    def numbers(i: int | None = None, f: float | None = None, d: Decimal | None = None) -> list[Any]:
        return [i, f, None if d is None else str(d)]

    @home.method
    def items(xs: list[int]) -> int:
        return len(xs)

    @home.method
    def anything(value: Any = None, tree: Tree | None = None) -> str:
        return type(value).__name__

    @home.method
    def upload(upload: FileUpload) -> int:
        return len(upload.read())

    @home.method
    def secret(rl: Role) -> str:
        return rl.name

    return api


@dataclasses.dataclass
class Site:
    url: str
    client: httpx.Client
    server: UvicornThread
    auth: str

    def post(self, method: str, body: bytes | str, headers: dict[str, str] = FORM) -> httpx.Response:
        content = body.encode() if isinstance(body, str) else body
        return self.client.post(f"/api/home/{method}", content=content, headers=headers)

    def json(self, method: str, body: bytes | str) -> httpx.Response:
        return self.post(method, body, JSON)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    database = Database(f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'site.db'}")
    database.migrate()
    with database.session() as session:
        user = create_user(session, "joebloggs")
        key, secret = create_key(session, create_role(session, user, "everyday"))
        session.commit()
        auth = f"{key.key_id}:{secret.decode()}"
    server = UvicornThread(build_api(database))
    url = server.start()
    with httpx.Client(base_url=url, timeout=60) as client:
        yield Site(url, client, server, auth)
    server.stop()
    database.dispose()


def refused(site: Site, response: httpx.Response, status: int = 400, field: str | None = None) -> dict[str, Any]:
    """A 4xx in the one error shape, and a server that still answers straight away."""
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert set(error) <= {"code", "message", "field"} and error["code"] and error["message"]
    if field is not None:
        assert error.get("field") == field, error
    assert len(response.content) < 2000  # never the hostile input echoed back
    assert_responsive(site)
    return error


def assert_responsive(site: Site) -> None:
    response = site.client.post("/api/home/ping", timeout=5)
    assert response.status_code == 200 and response.json() == "pong"


# -- field names: refused before anything is built for them -------------------------------------


def test_nine_megabytes_of_dots_as_a_name(site: Site) -> None:
    error = refused(site, site.post("search", "." * 9_000_000 + "=1"))
    assert error["field"] == "." * 100 + "…"  # named, but cut short
    assert "at most 1000 characters" in error["message"]


@pytest.mark.parametrize(
    "name",
    [
        "filter." + "x." * 10 + "y",  # deeper than Filter can be
        "." * 900,  # under the length limit, past any depth
        "paging.tags.0.x",  # a list of str has no fields
        "tree" + ".children.0" * 20 + ".label",  # a recursive type, nested past MAX_DEPTH
    ],
)
def test_names_deeper_than_the_type_are_unknown_fields(site: Site, name: str) -> None:
    method = "anything" if name.startswith("tree") else "search"
    error = refused(site, site.post(method, f"{name}=1"))
    assert error["field"] == (name if len(name) <= 100 else name[:100] + "…")
    assert "unknown field" in error["message"]


def test_recursive_type_within_the_depth_limit_still_decodes(site: Site) -> None:
    depth = (MAX_DEPTH - 2) // 2
    name = "tree" + ".children.0" * depth + ".label"
    response = site.post("anything", f"{name}=leaf")
    assert response.status_code == 200, response.text


def test_long_unknown_argument_is_named_cut_short(site: Site) -> None:
    name = "z" * 990
    error = refused(site, site.post("search", f"{name}.a.b=1"))
    assert error["field"] == "z" * 100 + "…" and error["message"] == "unknown argument"


def test_unknown_names_in_the_query_string_too(site: Site) -> None:
    response = site.client.post("/api/home/search?" + "." * 5000 + "=1")
    refused(site, response)


def test_marker_value_holding_too_many_fields(site: Site) -> None:
    inner = "%26".join(["filter.name_gt%3Da"] * (MAX_FIELDS + 1))
    refused(site, site.post("search", f"filter.={inner}"), field="filter.")


# -- numbers: measured before they are converted ------------------------------------------------


@pytest.mark.parametrize("value", ["1e999999999", "-1e999999999", "1e1000000", "1" * 5000, "1e13", "nan", "Infinity"])
def test_timestamps_out_of_range_or_huge(site: Site, value: str) -> None:
    refused(site, site.post("when", f"t={value}"), field="t")


def test_tiny_timestamp_is_the_epoch(site: Site) -> None:
    response = site.post("when", "t=1e-999999999")
    assert response.status_code == 200 and response.json() == 0.0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("i=" + "1" * 5000, "i"),
        (f"i={2**63}", "i"),
        (f"i={-(2**63) - 1}", "i"),
        ("i=1e999999999", "i"),
        ("f=nan", "f"),
        ("f=inf", "f"),
        ("f=-Infinity", "f"),
        ("f=1e999", "f"),
        ("d=1e999999999", "d"),
        ("d=NaN", "d"),
        ("d=1e-101", "d"),
        ("d=" + "9" * 101, "d"),
    ],
)
def test_numbers_out_of_range_in_forms(site: Site, body: str, field: str) -> None:
    refused(site, site.post("numbers", body), field=field)


def test_numbers_at_the_edges_of_the_range_pass(site: Site) -> None:
    response = site.post("numbers", f"i={INT_MAX}&f=1.7976931348623157e308&d=1e99")
    assert response.status_code == 200, response.text
    assert response.json() == [INT_MAX, 1.7976931348623157e308, "1E+99"]


@pytest.mark.parametrize(
    "body",
    [
        '{"i": 9223372036854775808}',
        '{"i": 1e300}',
        '{"f": NaN}',
        '{"f": Infinity}',
        '{"f": -Infinity}',
        '{"f": 1e400}',
        '{"value": NaN}',  # not even where any value is accepted
        '{"d": 1e999999999}',
        '{"i": ' + "1" * 5000 + "}",
    ],
)
def test_numbers_out_of_range_in_json(site: Site, body: str) -> None:
    method = "anything" if "value" in body else "numbers"
    refused(site, site.json(method, body))


def test_page_size_past_the_database_range(site: Site) -> None:
    """`paging.limit=2**70` reached SQLite and came back as a 500."""
    refused(site, site.post("search", f"paging.limit={2**70}"), field="paging.limit")
    refused(site, site.json("search", json.dumps({"filter": {}, "paging": {"limit": 2**70}})), field="paging.limit")
    assert site.post("search", f"filter.=&paging.limit={INT_MAX}").json() == 1


def test_list_index_of_five_thousand_digits(site: Site) -> None:
    name = "xs." + "1" * 5000
    error = refused(site, site.post("items", f"{name}=1"))
    assert error["field"] == name[:100] + "…"


# -- JSON bodies: the same limits as forms ------------------------------------------------------


def test_a_million_list_items(site: Site) -> None:
    body = '{"xs": [' + ",".join(["1"] * 1_000_000) + "]}"
    error = refused(site, site.json("items", body))
    assert f"more than {MAX_FIELDS} values" in error["message"]


def test_nesting_a_hundred_thousand_deep(site: Site) -> None:
    body = '{"value": ' + "[" * 100_000 + "]" * 100_000 + "}"
    error = refused(site, site.json("anything", body))
    assert f"deeper than {MAX_DEPTH}" in error["message"]


def test_nesting_hidden_in_strings_is_not_counted(site: Site) -> None:
    """Brackets and commas inside strings are text: a body of them is within the limits."""
    value = "[{," * 50_000
    response = site.json("anything", json.dumps({"value": value}))
    assert response.status_code == 200 and response.json() == "str"


@pytest.mark.parametrize(
    "body",
    [
        '{"value": "\\ud800"}',
        '{"value": ["ok", {"\\udfff": 1}]}',
        '{"authorisation": "k-\\ud800:secret"}',
        b'{"value": "\xed\xa0\x80"}',  # the surrogate encoded as UTF-8 bytes
    ],
)
def test_lone_surrogates(site: Site, body: str | bytes) -> None:
    method = "secret" if b"authorisation" in (body if isinstance(body, bytes) else body.encode()) else "anything"
    refused(site, site.json(method, body))


def test_surrogate_pairs_are_text(site: Site) -> None:
    response = site.json("anything", '{"value": "\\ud83d\\ude00"}')
    assert response.status_code == 200 and response.json() == "str"


def test_json_null_body_is_refused(site: Site) -> None:
    refused(site, site.json("anything", "null"))


# -- multipart: a caller that goes away ---------------------------------------------------------


def test_disconnect_mid_multipart_is_quiet(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    head = (
        "POST /api/home/upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: multipart/form-data; boundary=BOUNDARY\r\nContent-Length: 1000000\r\n\r\n"
        '--BOUNDARY\r\nContent-Disposition: form-data; name="upload"; filename="a.bin"\r\n\r\n'
    ).encode()
    with socket.create_connection(("127.0.0.1", site.server.port)) as sock:
        sock.sendall(head + b"x" * 50_000)
        time.sleep(0.2)  # let the server start reading the parts
    # uvicorn keeps a task per request in flight: wait until the abandoned one has ended.
    tasks = site.server.server.server_state.tasks
    deadline = time.monotonic() + 10
    while tasks and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not tasks
    assert_responsive(site)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
